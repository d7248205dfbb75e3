"""Cardiac: short-axis cine MRI (bright-blood SSFP) with bi-ventricular segmentation and LV indices.

Task set modelled on the review's cardiac networks (Zhao et al., Comput. Biol. Med. 2023): direct
regression of LV indices -- cavity area and regional wall thickness -- with a shared encoder
(FullLVNet, Xue W. et al., MICCAI 2017), joint myocardium segmentation and area regression with
uncertainty-weighted losses (Dangi S. et al., STACOM 2018), and bi-ventricle segmentation with
direct area estimation (Luo G. et al., MedIA 2020). The segmentation classes follow the ACDC
convention (Bernard O. et al., IEEE TMI 37:2514-2525, 2018): LV cavity (papillary muscles
included), LV myocardium, RV cavity.

Clinical rule at relatedness 1: the LV remodelling index q = cavity radius / mean wall thickness,
both measured on the generated mask (radius of the disc with the cavity's area; thickness = the
difference of the epicardial and endocardial equivalent radii), decides an ordered *geometry*
class: concentric if q < 2.4, thin-walled / dilated if q > 3.6, normal in between. q is the
inverse of the relative wall thickness RWT = 2 x wall / cavity diameter of echocardiography;
q < 2.4 is RWT > 0.42, the cut-off for *concentric geometry* of the ASE/EACVI chamber-quantification
guideline (Lang R.M. et al., J. Am. Soc. Echocardiogr. 28:1-39, 2015); q > 3.6 (RWT < 0.28,
thin walls around a large cavity) is a teaching threshold for eccentric, dilated geometry.
The two thresholds map to 1/3 and 2/3 of ``anatomy_score``.

What the label is not (Lang et al. 2015): RWT alone does not establish *hypertrophy*. LV
hypertrophy is an increased LV mass indexed to body surface area (above 95 g/m^2 in women and
115 g/m^2 in men by the linear method); RWT then splits the four patterns normal geometry,
concentric remodelling (normal mass, RWT > 0.42), concentric hypertrophy (increased mass,
RWT > 0.42) and eccentric hypertrophy (increased mass, RWT <= 0.42). One slice has no LV mass
(no volume, no body surface area), so class 0 is concentric geometry -- remodelling or
hypertrophy, which this image cannot tell apart. The task and class names (``diagnosis``:
``hypertrophic``, ``normal``, ``dilated``) are kept because stored models carry them; read them as
concentric, normal and thin-walled / dilated geometry. The phantom is also one frame of the cine:
it has no ejection fraction (that needs the end-diastolic and end-systolic volumes), so the label
says nothing about systolic function and is not ACDC's HCM / NOR / DCM diagnosis, whose groups
are defined with LV volume, mass and ejection fraction (Bernard et al. 2018).

At relatedness 0 the label follows the thickness of a pericardial effusion instead: a bright
(fluid) rim between the epicardium and the dark pericardial line, visible in the image but
labelled background in the mask.

Appearance (balanced SSFP, "bright blood"): bright LV and RV blood pools, dark myocardium with
papillary muscles, RV crescent wrapped around the septum with a thin free wall, bright epicardial
fat, dark lungs with vessel dots, anterior chest wall (subcutaneous fat, muscle), liver, descending
aorta and a vertebral body. MRI physics: partial-volume blur, a smooth multiplicative bias field
(surface-coil shading; always present) and Rician magnitude noise.
"""

from __future__ import annotations

import numpy as np

from mtdl_kit.regions import _draw as d
from mtdl_kit.regions.base import (
    Coupling,
    Reference,
    Region,
    TaskSpec,
    coupled_score,
    register_region,
    score_to_class,
)

#: cavity radius / wall thickness below this: concentric geometry (RWT > 0.42, Lang et al. 2015); not
#: hypertrophy, which needs LV mass.
CONCENTRIC_THRESHOLD = 2.4
DILATION_THRESHOLD = 3.6  # above this: dilated, thin-walled LV (RWT < 0.28, a teaching threshold)
_Q_KNOTS = (0.9, CONCENTRIC_THRESHOLD, DILATION_THRESHOLD, 6.5)

# SSFP tissue intensities of the clean image (before bias field and noise).
_LV_BLOOD, _RV_BLOOD, _MYO, _PAPILLARY = 0.88, 0.82, 0.22, 0.26
_EFFUSION, _PERICARDIUM, _FAT = 0.74, 0.06, 0.70
_LUNG, _LIVER, _MUSCLE, _SPINE = 0.035, 0.32, 0.22, 0.45


def _harmonic(z: np.ndarray, coeffs: np.ndarray, k0: int) -> np.ndarray:
    """Re(sum_j c_j z^(k0 + j)) for unit complex z = exp(i theta): sum_k a_k cos(k theta + phi_k)."""
    acc = np.zeros_like(z)
    for c in coeffs[::-1]:
        acc = acc * z + c
    return np.real(acc * z**k0).astype(np.float32)


@register_region
class Cardiac(Region):
    """Short-axis cine MRI phantom (one frame): LV / myocardium / RV masks, LV indices, LV geometry class."""

    name = "cardiac"
    title = "Cardiac — short-axis cine MRI (SSFP)"
    modality = "MRI (cine bSSFP, short axis)"
    in_channels = 1
    field_of_view_mm = 200.0
    tasks = (
        TaskSpec(
            "ventricles",
            "segmentation",
            4,
            "LV blood pool, LV myocardium and RV blood pool (ACDC classes; papillary muscles in the blood pool).",
            class_names=("background", "LV cavity", "myocardium", "RV cavity"),
        ),
        TaskSpec(
            "lv_indices",
            "regression",
            2,
            "LV indices as in FullLVNet: cavity area (mm²) and mean myocardial wall thickness (mm).",
            output_names=("LV cavity area (mm²)", "mean wall thickness (mm)"),
            units="mm² / mm",
        ),
        TaskSpec(
            "diagnosis",
            "classification",
            3,
            "LV geometry from relative wall thickness on one frame (Lang et al., JASE 2015): 'hypertrophic' = "
            "concentric geometry (RWT > 0.42; remodelling or hypertrophy, which needs LV mass to tell apart), "
            "'normal', 'dilated' = thin wall around a large cavity (RWT < 0.28). Not a hypertrophy diagnosis; "
            "one frame has no ejection fraction.",
            class_names=("hypertrophic", "normal", "dilated"),
        ),
    )
    coupling = Coupling(
        segmentation="ventricles",
        classification="diagnosis",
        anatomy_latent="remodelling_index",
        other_latent="effusion",
        rule="LV geometry by cavity radius / wall thickness: < 2.4 concentric (RWT > 0.42), 2.4-3.6 normal, "
        "> 3.6 dilated (RWT < 0.28)",
    )
    nuisances = ("bias_field", "noise")
    references = (
        Reference(
            "FullLVNet (Xue W. 2017)",
            "Xue W, Lum A, Mercado A, Landis M, Warrington J, Li S. Full quantification of left ventricle "
            "via deep multitask learning network respecting intra- and inter-task relatedness. MICCAI 2017, "
            "LNCS 10435, pp. 276-284; arXiv:1706.01912.",
            "parallel",
            "11 LV indices regression (areas, dimensions, regional wall thickness) + cardiac phase",
        ),
        Reference(
            "Dangi 2018",
            "Dangi S, Yaniv Z, Linte CA. Left ventricle segmentation and quantification from cardiac cine "
            "MR images via multi-task learning. STACOM 2018 (MICCAI workshop), LNCS 11395; arXiv:1809.10221.",
            "parallel",
            "myocardium segmentation + area regression with uncertainty-based loss weights",
        ),
        Reference(
            "Luo G. 2020",
            "Luo G, Wang W, Xu C, et al. Commensal correlation network between segmentation and direct area "
            "estimation for bi-ventricle quantification. Med. Image Anal. 59:101591 (2020).",
            "interacted",
            "bi-ventricle segmentation + direct area estimation",
        ),
    )

    measured_regression = {"lv_indices": (("lv_cavity_area_mm2", "wall_thickness_mm"), 1e-2)}

    def anatomy_score(self, value: float) -> float:
        """Piecewise-linear map of q with the two clinical thresholds at 1/3 and 2/3."""
        return float(np.interp(value, _Q_KNOTS, (0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0)))

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        return np.array([700.0, 2.5], dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        return np.array([1950.0, 8.6], dtype=np.float32)

    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """LV indices and the remodelling index from a mask (0 bg, 1 LV cavity, 2 myocardium, 3 RV).

        The mean wall thickness is the difference of the equivalent radii of the epicardial
        (cavity + myocardium) and endocardial (cavity) areas: exact for a circular annulus and the
        area-weighted mean thickness for a ring of varying thickness. The remodelling index is the
        cavity's equivalent radius over that thickness (1 / RWT).

        Args:
            mask: (H, W) class indices.
            spacing_mm: pixel spacing in millimetres.

        Returns:
            ``lv_cavity_area_mm2``, ``myocardium_area_mm2``, ``rv_cavity_area_mm2``,
            ``wall_thickness_mm``, ``cavity_radius_mm`` and ``remodelling_index``.
        """
        px = spacing_mm * spacing_mm
        a_cav = np.count_nonzero(mask == 1) * px
        a_myo = np.count_nonzero(mask == 2) * px
        a_rv = np.count_nonzero(mask == 3) * px
        r_cav = float(np.sqrt(a_cav / np.pi))
        thickness = float(np.sqrt((a_cav + a_myo) / np.pi)) - r_cav
        return {
            "lv_cavity_area_mm2": float(a_cav),
            "myocardium_area_mm2": float(a_myo),
            "rv_cavity_area_mm2": float(a_rv),
            "wall_thickness_mm": thickness,
            "cavity_radius_mm": r_cav,
            "remodelling_index": r_cav / max(thickness, 1e-3),
        }

    def _generate(self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None):
        remodelling = float(rng.random())  # drives cavity size and wall thickness (anatomy)
        effusion = float(rng.random())  # the "other" visible feature
        bias_strength = float(rng.random())  # nuisance
        noise_level = float(rng.random())  # nuisance
        yy, xx = d.grid(size)
        mm = 2.0 / self.field_of_view_mm  # normalised units per millimetre

        # LV geometry: remodelling sets the cavity radius and the radius / thickness ratio.
        q_target = float(np.exp(np.interp(remodelling, (0.0, 1 / 3, 2 / 3, 1.0), np.log(_Q_KNOTS))))
        r_endo = float(np.clip(13.0 + 22.0 * remodelling + rng.normal(0.0, 1.5), 11.0, 38.0)) * mm
        wall = float(np.clip(r_endo / q_target, 4.0 * mm, 20.0 * mm))
        lv_cy = 0.02 + float(rng.normal(0.0, 0.04))
        lv_cx = 0.16 + float(rng.normal(0.0, 0.04))
        dy, dx = yy - lv_cy, xx - lv_cx
        r = np.sqrt(dy * dy + dx * dx)
        z = ((dx + 1j * dy) / np.maximum(r, 1e-6)).astype(np.complex64)
        endo_c = (rng.normal(0.0, [0.05, 0.025]) * np.exp(1j * rng.uniform(-np.pi, np.pi, 2))).astype(np.complex64)
        wall_c = (rng.normal(0.0, [0.12, 0.08]) * np.exp(1j * rng.uniform(-np.pi, np.pi, 2))).astype(np.complex64)
        r_endo_t = r_endo * (1.0 + _harmonic(z, endo_c, 2))
        r_epi_t = r_endo_t + wall * (1.0 + _harmonic(z, wall_c, 1))
        cavity = r < r_endo_t
        lv_epi = r < r_epi_t

        # RV: an ellipse up-left of the LV (septal side) minus the LV; thin free wall around it.
        r_epi = r_endo + wall
        th_rv = np.pi + 0.25 + float(rng.normal(0.0, 0.1))
        dist_rv = r_epi * float(rng.uniform(0.72, 0.88))
        rv_cy = lv_cy + dist_rv * float(np.sin(th_rv))
        rv_cx = lv_cx + dist_rv * float(np.cos(th_rv))
        rv_scale = float(rng.uniform(0.9, 1.1)) * (1.05 - 0.15 * remodelling)
        a_par = r_epi * float(rng.uniform(0.72, 0.88)) * rv_scale
        a_perp = r_epi * float(rng.uniform(1.1, 1.3)) * rv_scale
        cr, sr = float(np.cos(th_rv)), float(np.sin(th_rv))
        ry, rx = yy - rv_cy, xx - rv_cx
        p_par = cr * rx + sr * ry
        p_perp = -sr * rx + cr * ry
        rv_free = 3.0 * mm

        def rv_field(grow: float) -> np.ndarray:
            return (p_par / (a_par + grow)) ** 2 + (p_perp / (a_perp + grow)) ** 2

        rv_outer_field = rv_field(rv_free)
        rv_cav = (rv_field(0.0) < 1.0) & ~lv_epi
        rv_outer = (rv_outer_field < 1.0) & ~lv_epi
        heart = lv_epi | rv_outer

        # Pericardial effusion (the "other" feature; thickest inferiorly, where fluid settles), the
        # dark pericardial line, and epicardial fat pads whose thickness varies around the heart.
        r_out = r - r_epi_t  # radial distance outside the LV epicardium
        rv_out = (np.sqrt(rv_outer_field) - 1.0) * (0.5 * (a_par + a_perp) + rv_free)
        dist_out = np.minimum(r_out, rv_out)
        dist_out[heart] = -1.0
        sin_t = np.imag(z)
        t_eff = 14.0 * mm * effusion * (0.6 + 0.4 * sin_t)
        t_peri = 1.8 * mm
        fat_c = (rng.normal(0.0, 0.5, 3) * np.exp(1j * rng.uniform(-np.pi, np.pi, 3))).astype(np.complex64)
        t_fat = float(rng.uniform(4.0, 9.0)) * mm * np.clip(_harmonic(z, fat_c, 1) + 0.3, 0.0, 1.0)
        in_eff = (dist_out >= 0.0) & (dist_out < t_eff)
        in_peri = (dist_out >= t_eff) & (dist_out < t_eff + t_peri)
        in_fat = (dist_out >= 0.0) & (dist_out < t_eff + t_peri + t_fat) & ~in_eff & ~in_peri

        # Thorax around the heart: chest wall, lungs, liver, descending aorta, spine.
        surface = -0.9 + 0.22 * xx * xx + float(rng.normal(0.0, 0.03))
        subcut = (yy > surface) & (yy < surface + float(rng.uniform(0.05, 0.1)))
        muscle = (yy >= surface + 0.1) & (yy < surface + 0.19)
        body = yy > surface
        liver_cy, liver_cx = 0.95 + float(rng.normal(0.0, 0.04)), -0.65 + float(rng.normal(0.0, 0.05))
        liver = ((yy - liver_cy) / 0.55) ** 2 + ((xx - liver_cx) / 0.8) ** 2 < 1.0
        ao_cy = min(lv_cy + r_epi + 14.0 * mm * effusion + 0.2, 0.85)
        ao_cx = lv_cx - 0.18 + float(rng.normal(0.0, 0.03))
        ao_r = float(rng.uniform(10.0, 13.0)) * mm
        ao_rr = (yy - ao_cy) ** 2 + (xx - ao_cx) ** 2
        aorta = ao_rr < ao_r**2
        ao_wall = ao_rr < (ao_r + 1.5 * mm) ** 2
        spine = ((yy - ao_cy - 0.2) / 0.16) ** 2 + ((xx - ao_cx + 0.3) / 0.19) ** 2 < 1.0

        # Papillary muscles: dark blobs inside the cavity, labelled LV cavity (ACDC convention).
        papillary = np.zeros((size, size), dtype=bool)
        for ang in (0.55 + float(rng.normal(0.0, 0.15)), 2.1 + float(rng.normal(0.0, 0.15))):
            pr = r_endo * float(rng.uniform(0.13, 0.2))
            py = lv_cy + 0.72 * r_endo * float(np.sin(ang))
            px = lv_cx + 0.72 * r_endo * float(np.cos(ang))
            papillary |= (yy - py) ** 2 + (xx - px) ** 2 < pr * pr
        papillary &= cavity

        # Size-dependent random fields last, so one seed gives the same heart at every image size.
        field = d.bias_field(rng, size, 0.1 + 0.4 * bias_strength)
        texture = d.fbm(rng, size, 2.4)
        vessels = d.fbm(rng, size, 1.2)

        mask = np.zeros((size, size), dtype=np.int64)
        mask[rv_cav] = 3
        mask[lv_epi] = 2
        mask[cavity] = 1

        # Clean SSFP image, painted back to front.
        img = np.zeros((size, size), dtype=np.float32)
        img[body] = _LUNG * (1.0 + 4.0 * np.clip(vessels[body] - 1.6, 0.0, None))
        img[subcut] = _FAT
        img[muscle] = _MUSCLE
        img[liver & body & ~muscle & ~subcut] = _LIVER
        img[spine] = _SPINE
        img[ao_wall] = _MUSCLE
        img[aorta] = _LV_BLOOD
        img[in_fat] = _FAT
        img[in_peri] = _PERICARDIUM
        img[in_eff] = _EFFUSION
        img[rv_outer] = _MYO
        img[rv_cav] = _RV_BLOOD
        img[lv_epi] = _MYO
        img[cavity] = _LV_BLOOD
        img[papillary] = _PAPILLARY
        img *= 1.0 + 0.05 * texture
        clean = d.blur(img, 0.5 * size / 128.0)

        # Acquisition: surface-coil bias field and Rician noise (both always present).
        sigma = 0.01 + 0.05 * noise_level
        noisy = d.rician(rng, clean * field, sigma)

        measured = self.measure(mask, self.spacing_mm(size))
        q = measured["remodelling_index"]
        z_score = coupled_score(relatedness, self.anatomy_score(q), effusion)
        if nuisance == "bias_field":
            z_score = bias_strength
        elif nuisance == "noise":
            z_score = noise_level
        label = score_to_class(z_score, 3)

        targets = {
            "ventricles": mask,
            "lv_indices": np.asarray([measured["lv_cavity_area_mm2"], measured["wall_thickness_mm"]], dtype=np.float32),
            "diagnosis": np.asarray(label, dtype=np.int64),
        }
        latents = {
            "remodelling": remodelling,
            "remodelling_index": q,
            "cavity_radius_mm": measured["cavity_radius_mm"],
            "wall_thickness_mm": measured["wall_thickness_mm"],
            "effusion": effusion,
            "effusion_mm": 14.0 * effusion,  # inferior (thickest) rim of the effusion
            "bias_field": bias_strength,
            "noise": noise_level,
            "noise_sigma": sigma,
            "label_score": z_score,
        }
        return noisy[None], targets, latents

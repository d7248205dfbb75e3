"""Brain: axial FLAIR-like MRI slice with a glioma, tumour sub-region segmentation and grade.

Task set modelled on the review's brain networks (Zhao et al., Comput. Biol. Med. 2023): tumour
sub-region segmentation with an auxiliary image-reconstruction branch that regularises the shared
encoder (Myronenko, "3D MRI brain tumor segmentation using autoencoder regularization",
BrainLes 2018, arXiv:1810.11654 -- the VAE branch reconstructs the input image), and joint glioma
segmentation with a tumour-level classification head (Cheng J. et al., IEEE TMI 2022, glioma
segmentation + IDH genotyping; OM-Net, Zhou C. et al., IEEE TIP 2020, coarse-to-fine sub-region
segmentation). Here the classification head predicts the WHO-like grade (LGG vs HGG) and a
regression head the tumour areas (the 2D analogue of the tumour volumes reported in BraTS).

Clinical rule at relatedness 1: high-grade glioma (HGG) <=> peritumoural oedema fraction > 0.5,
i.e. the oedema makes up more than half of the whole FLAIR abnormality (oedema / (oedema + core),
measured on the generated mask). Rationale: the proportion of oedema is a standard visual
descriptor of gliomas (VASARI feature set, "proportion of oedema", The Cancer Imaging Archive
wiki), and extensive vasogenic oedema around a relatively small core is typical of high-grade,
angiogenic tumours, whereas low-grade gliomas are mostly infiltrative tumour with little
surrounding oedema. The threshold of 0.5 is a teaching choice, not a clinical criterion: real
grading is histological and molecular (Louis et al., WHO CNS5 classification, Neuro-Oncology
2021).

At relatedness 0 the label follows central necrosis with ring enhancement instead -- a dark
necrotic centre inside a bright enhancing rim of the core, the imaging hallmark of glioblastoma
(necrosis is a WHO grade-4 criterion). It is visible in the image but absent from the mask,
because the tumour-core class contains enhancing and necrotic tissue alike (BraTS convention).

Appearance (FLAIR-like contrast, CSF suppressed): scalp, dark skull with brighter diploe,
subarachnoid CSF, folded cortex (sulci warped by fractional Brownian motion, white-matter fingers
under the gyral crowns), white matter darker than grey matter, deep grey nuclei, ")(" shaped
lateral ventricles displaced by mass effect, interhemispheric fissure; a lobulated,
fBm-perturbed tumour core and hyperintense vasogenic oedema that spreads along the white matter
and spares the cortex. MRI physics: a smooth multiplicative bias field (always present, strength
latent) and Rician magnitude noise, after SynthSeg's augmentation recipe (Billot et al., MedIA
2023). The reconstruction target is the clean image before bias and noise.
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
    normalise_at_threshold,
    register_region,
    score_to_class,
)

OEDEMA_FRACTION_THRESHOLD = 0.5

# FLAIR-like tissue intensities of the clean image (before bias field and noise).
_SCALP, _SKULL, _DIPLOE, _CSF = 0.58, 0.05, 0.22, 0.07
_GM, _WM, _DEEP_GM = 0.54, 0.38, 0.47
_OEDEMA, _CORE, _NECROSIS = 0.82, 0.62, 0.20


def _harmonic(z: np.ndarray, coeffs: np.ndarray, k0: int) -> np.ndarray:
    """Re(sum_j c_j z^(k0 + j)) for unit complex z = exp(i theta): sum_k a_k cos(k theta + phi_k)."""
    acc = np.zeros(z.shape, dtype=np.complex64)
    for c in coeffs[::-1]:
        acc = acc * z + c
    return np.real(acc * z**k0).astype(np.float32)


@register_region
class Brain(Region):
    """Axial brain MRI phantom: oedema / tumour-core masks, LGG vs HGG grade, clean-image target."""

    name = "brain"
    title = "Brain — axial MRI (FLAIR-like) with glioma"
    modality = "MRI (FLAIR-like, single channel)"
    in_channels = 1
    field_of_view_mm = 220.0
    tasks = (
        TaskSpec(
            "tumour",
            "segmentation",
            3,
            "Glioma sub-regions: peritumoural oedema and tumour core (enhancing rim + necrosis).",
            class_names=("background", "oedema", "tumour core"),
        ),
        TaskSpec(
            "grade",
            "classification",
            2,
            "Glioma grade: low-grade (LGG) vs high-grade (HGG).",
            class_names=("LGG", "HGG"),
        ),
        TaskSpec(
            "tumour_area",
            "regression",
            2,
            "Whole-tumour and tumour-core areas on the slice (2D analogue of BraTS volumes).",
            output_names=("whole-tumour area", "core area"),
            units="mm²",
        ),
        TaskSpec(
            "reconstruction",
            "reconstruction",
            1,
            "Denoising reconstruction: predict the clean image (no bias field, no noise) from the "
            "corrupted one, a supervised target like the VAE branch of Myronenko 2018.",
        ),
    )
    coupling = Coupling(
        segmentation="tumour",
        classification="grade",
        anatomy_latent="oedema_fraction",
        other_latent="necrosis",
        rule="HGG <=> oedema / whole-tumour area > 0.5",
    )
    nuisances = ("bias_field", "noise")
    references = (
        Reference(
            "Myronenko 2018",
            "Myronenko A. 3D MRI brain tumor segmentation using autoencoder regularization. "
            "BrainLes 2018 (MICCAI workshop), LNCS 11384, pp. 311-320; arXiv:1810.11654.",
            "parallel",
            "tumour sub-region segmentation + VAE image reconstruction",
        ),
        Reference(
            "OM-Net (Zhou C. 2020)",
            "Zhou C, Ding C, Wang X, Lu Z, Tao D. One-pass multi-task networks with cross-task guided "
            "attention for brain tumor segmentation. IEEE Trans. Image Process. 29:4516-4529 (2020); "
            "arXiv:1906.01796.",
            "hybrid",
            "coarse-to-fine tumour sub-region segmentation with cross-task guided attention",
        ),
        Reference(
            "Cheng J. 2022",
            "Cheng J, Liu J, Kuang H, Wang J. A fully automated multimodal MRI-based multi-task learning "
            "for glioma segmentation and IDH genotyping. IEEE Trans. Med. Imaging 41(6):1520-1532 (2022); "
            "doi:10.1109/TMI.2022.3142321.",
            "parallel",
            "glioma segmentation + IDH genotype classification",
        ),
    )

    measured_regression = {"tumour_area": (("whole_tumour_area_mm2", "core_area_mm2"), 1e-2)}

    def anatomy_score(self, value: float) -> float:
        return normalise_at_threshold(value, 0.0, OEDEMA_FRACTION_THRESHOLD, 1.0)

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        return np.array([900.0, 350.0], dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        return np.array([875.0, 420.0], dtype=np.float32)

    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """Oedema fraction = oedema pixels / whole-tumour pixels (oedema + core), and the areas in mm².

        Args:
            mask: (H, W) class indices (0 background, 1 oedema, 2 tumour core).
            spacing_mm: pixel spacing in millimetres.

        Returns:
            ``oedema_fraction`` (0 when there is no tumour), ``whole_tumour_area_mm2``,
            ``core_area_mm2`` and ``oedema_area_mm2``.
        """
        n_oedema = int(np.count_nonzero(mask == 1))
        n_core = int(np.count_nonzero(mask == 2))
        n_whole = n_oedema + n_core
        px = spacing_mm * spacing_mm
        return {
            "oedema_fraction": n_oedema / n_whole if n_whole else 0.0,
            "whole_tumour_area_mm2": n_whole * px,
            "core_area_mm2": n_core * px,
            "oedema_area_mm2": n_oedema * px,
        }

    def _generate(self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None):
        # All scalar draws come first and do not depend on ``size``, so one seed gives the same case
        # (head, tumour, latents) at every resolution; only the fBm detail differs.
        oedema_extent = float(rng.random())  # drives the oedema rim (anatomy)
        necrosis = float(rng.random())  # the "other" visible feature
        bias_strength = float(rng.random())  # nuisance
        noise_level = float(rng.random())  # nuisance
        cy, cx, tilt = (float(a) for a in rng.normal(0.0, [0.02, 0.02, 0.06]))
        scale = float(rng.uniform(0.92, 1.03))
        aspect = float(rng.uniform(0.95, 1.03))
        head_c = (rng.normal(0.0, 0.015, 4) * np.exp(1j * rng.uniform(-np.pi, np.pi, 4))).astype(np.complex64)
        kw = rng.integers(1, 9, 8).astype(np.float32)[:, None, None]
        mw = rng.uniform(0.0, 14.0, 8).astype(np.float32)[:, None, None]
        pw = rng.uniform(-np.pi, np.pi, 8).astype(np.float32)[:, None, None]
        aw = rng.uniform(0.4, 1.2, 8).astype(np.float32)[:, None, None]
        n_gyri = int(rng.integers(26, 34))
        vsize = float(rng.uniform(0.8, 1.3))
        t_rho = float(rng.uniform(0.22, 0.58))
        t_ang = float(rng.uniform(-np.pi, np.pi))
        rc = float(rng.uniform(0.055, 0.15))
        lob_c = (rng.normal(0.0, 0.06, 4) * np.exp(1j * rng.uniform(-np.pi, np.pi, 4))).astype(np.complex64)
        field = d.bias_field(rng, size, 0.1 + 0.4 * bias_strength)  # draws 5 coefficients
        depth_noise = d.fbm(rng, size, 3.0)
        rough = d.fbm(rng, size, 2.0)
        texture = d.fbm(rng, size, 2.6)
        yy, xx = d.grid(size)

        # Head coordinates: u along the anterior-posterior axis (rows), v left-right.
        c, s = float(np.cos(tilt)), float(np.sin(tilt))
        dy, dx = yy - cy, xx - cx
        u = c * dy - s * dx
        v = s * dy + c * dx
        ay, ax = 0.74 * scale, 0.61 * scale * aspect
        uy, vx = u / ay, v / ax
        rho = np.sqrt(uy * uy + vx * vx)
        theta = np.arctan2(uy, vx)
        rho = rho / (1.0 + _harmonic((vx + 1j * uy) / np.maximum(rho, 1e-6), head_c, 1))

        brain = rho < 1.0
        sub_csf = (rho >= 1.0) & (rho < 1.035)
        skull = (rho >= 1.035) & (rho < 1.12)
        diploe = (rho >= 1.06) & (rho < 1.095)
        scalp = (rho >= 1.12) & (rho < 1.2)

        # Folded cortex: sulci are the crests of cos(N theta + warp), cut to a random depth; the warp
        # is a few smooth waves in (theta, rho), so the pattern does not depend on the image size.
        warp = np.sum(aw * np.sin(kw * theta + mw * rho + pw), axis=0)
        g = np.cos(n_gyri * theta + warp)
        g2 = np.cos((n_gyri + 5) * theta - 1.3 * warp + 1.0)  # shallower secondary sulci
        rho_s = np.clip(0.77 + 0.07 * depth_noise, 0.64, 0.92)
        depth = np.clip((rho - rho_s) / (1.0 - rho_s), 0.0, 1.0)
        sulci = brain & (rho > rho_s) & (g > np.cos(0.14 + 0.2 * depth))
        sulci |= brain & (rho > rho_s + 0.08) & (g2 > np.cos(0.1 + 0.12 * depth))
        # Grey matter is a ribbon ~3 mm thick along every CSF surface (pia and sulcal walls).
        pial = (~brain | sulci).astype(np.float32)
        ribbon_px = 2.2 / self.spacing_mm(size)
        wm = brain & ~sulci & (d.blur(pial, ribbon_px) < 0.06 + 0.04 * np.clip(depth_noise, -1.0, 1.0))

        # Tumour position (head coordinates) and size: needed first for the mass effect.
        tu, tv = ay * t_rho * float(np.sin(t_ang)), ax * t_rho * float(np.cos(t_ang))
        ro = rc * (1.05 + 0.8 * oedema_extent)
        side_t = 1.0 if tv >= 0 else -1.0
        shift = -side_t * min(0.06, 0.35 * rc + 0.1 * max(ro - 0.15, 0.0))

        # Deep structures: ")(" lateral ventricles (the one next to the tumour compressed and both
        # pushed across the midline: mass effect), deep grey nuclei, fissure, third ventricle.
        vs = v - shift
        deep = np.zeros((size, size), dtype=bool)
        for side in (-1.0, 1.0):
            deep |= ((u - 0.12) / 0.10) ** 2 + ((vs - side * 0.12) / 0.07) ** 2 < 1.0  # thalamus
            deep |= ((u + 0.02) / 0.13) ** 2 + ((vs - side * 0.23) / 0.045) ** 2 < 1.0  # lentiform
            deep |= ((u + 0.17) / 0.06) ** 2 + ((vs - side * 0.10) / 0.04) ** 2 < 1.0  # caudate head
        ventricles = np.zeros((size, size), dtype=bool)
        for side in (-1.0, 1.0):
            centreline = side * (0.05 + 0.5 * (u + 0.02) ** 2)
            width = 0.045 * vsize * (0.6 if side == side_t else 1.0)
            ventricles |= np.abs((u + 0.02) / (0.24 * vsize)) ** 3 + ((vs - centreline) / width) ** 2 < 1
        fissure = (np.abs(vs) < 0.008) & ((u < -0.33) | (u > 0.36))
        third = (np.abs(vs) < 0.01) & (u > 0.0) & (u < 0.12)
        csf_in = brain & (sulci | ventricles | fissure | third)

        # Tumour: lobulated, fBm-perturbed core; oedema along white matter and deep grey, sparing cortex.
        dt_u, dt_v = u - tu, v - tv
        r_t = np.sqrt(dt_u * dt_u + dt_v * dt_v)
        lob = np.clip(1.0 + _harmonic((dt_v + 1j * dt_u) / np.maximum(r_t, 1e-6), lob_c, 2), 0.6, 1.4)
        rough = np.clip(rough, -2.5, 2.5)
        rel_core = r_t / (rc * lob * (1.0 + 0.08 * rough))
        core = brain & (rel_core < 1.0)
        oedema = brain & ~core & (r_t < ro * lob * (1.0 + 0.18 * rough)) & (wm | deep) & ~ventricles
        mask = np.zeros((size, size), dtype=np.int64)
        mask[oedema] = 1
        mask[core] = 2

        # Clean FLAIR-like image.
        img = np.zeros((size, size), dtype=np.float32)
        img[scalp] = _SCALP
        img[skull] = _SKULL
        img[diploe] = _DIPLOE
        img[sub_csf] = _CSF
        img[brain] = _GM
        img[wm] = _WM
        img[brain & deep & ~wm] = _DEEP_GM
        img[brain & deep & wm] = 0.5 * (_WM + _DEEP_GM)
        img[csf_in] = _CSF
        img *= 1.0 + 0.04 * texture
        img[oedema] = _OEDEMA * (1.0 + 0.05 * texture[oedema])
        # Core: enhancing rim brightening with necrosis, dark necrotic centre (the "other" feature).
        nec_ratio = 0.78 * necrosis
        rim = np.clip(rel_core[core], 0.0, 1.0)
        core_val = _CORE + 0.25 * necrosis * np.clip((rim - nec_ratio) / max(1.0 - nec_ratio, 1e-3), 0.0, 1.0)
        core_val *= 1.0 + 0.06 * texture[core]
        necrotic = rim < nec_ratio
        core_val[necrotic] = _NECROSIS * (1.0 + 0.3 * texture[core][necrotic])
        img[core] = core_val
        clean = np.clip(d.blur(img, 0.45 * size / 128.0), 0.0, 1.0)

        # Acquisition: multiplicative bias field and Rician noise (both always present).
        sigma = 0.01 + 0.05 * noise_level
        noisy = d.rician(rng, clean * field, sigma)

        measured = self.measure(mask, self.spacing_mm(size))
        frac = measured["oedema_fraction"]
        z = coupled_score(relatedness, self.anatomy_score(frac), necrosis)
        if nuisance == "bias_field":
            z = bias_strength
        elif nuisance == "noise":
            z = noise_level
        label = score_to_class(z, 2)

        targets = {
            "tumour": mask,
            "grade": np.asarray(label, dtype=np.int64),
            "tumour_area": np.asarray([measured["whole_tumour_area_mm2"], measured["core_area_mm2"]], dtype=np.float32),
            "reconstruction": clean[None].astype(np.float32),
        }
        latents = {
            "oedema_extent": oedema_extent,
            "oedema_fraction": frac,
            "core_radius_mm": rc * self.field_of_view_mm / 2.0,
            "necrosis": necrosis,
            "bias_field": bias_strength,
            "noise": noise_level,
            "noise_sigma": sigma,
            "label_score": z,
        }
        return noisy[None], targets, latents

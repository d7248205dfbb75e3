"""Abdomen: axial contrast-enhanced CT slice with liver / liver-lesion segmentation and lesion characterisation.

Task set modelled on the review's abdominal networks (Zhao et al., Comput. Biol. Med. 2023):
organ segmentation guiding a target structure, as in AMTA-Net (Xu X. et al., MedIA 2021) and
HF-UNet (He K. et al., IEEE TMI 2021), and joint liver-tumour segmentation and detection, as in
UAL (Zhao J. et al., MedIA 2021).

The slice is built in Hounsfield units (HU) and then displayed in the soft-tissue window
(level 40 / width 400, i.e. [-160, 240] HU): air (-1000), subcutaneous and visceral fat
(about -100), muscle (about 50), liver (65 HU in the late-arterial phase, 110 in the portal-venous
phase), spleen, pancreas, kidneys with corticomedullary differentiation, aorta and IVC, a
vertebra with cortical shell (about 800) and trabecular bone, ribs, stomach with an air-fluid
level, bowel loops with gas, the CT table, and one focal liver lesion, 16-48 mm across. Noise is
Gaussian with a short correlation length (the reconstruction kernel), its level set by the dose;
low dose adds photon-starvation streaks through the spine.

The label is the realistic question for a focal liver lesion found in a patient *without* risk of
hepatocellular carcinoma (e.g. staging of a known extrahepatic cancer): simple cyst or metastasis.
A simple cyst is water-like (about 0-20 HU), homogeneous, with an imperceptible wall and no
enhancing component; a metastasis is soft-tissue-like (about 40-60 HU before its necrotic or
cystic change), with enhancing viable tumour at its periphery -- the rim or "target" pattern
(ACR Incidental Findings Committee, Gore R.M. et al., J. Am. Coll. Radiol. 14:1429-1437, 2017;
Silva A.C. et al., RadioGraphics 29:385-402, 2009). The segmentation mirrors that: the lesion's
non-enhancing part (class 2) and its enhancing component (class 3) inside the liver (class 1).

Clinical rule at relatedness 1: metastasis <=> the enhancing component makes up more than half of
the lesion on the slice (class 3 / (class 2 + class 3) > 0.5, measured on the mask). A simple
cyst has none; the share and its threshold are a teaching choice for "a solid enhancing
component", not a published cut-off.

At relatedness 0 the label follows the attenuation of the lesion's non-enhancing part instead:
metastasis <=> above 25 HU (water-like 5 HU ... soft-tissue 45 HU), which is visible in the image
but not in the mask (the mask marks the non-enhancing part whatever its density). Nuisances:
``noise`` (dose: noise level and streaks) and ``contrast_phase`` (late arterial -> portal venous:
every organ's enhancement changes, the masks do not).

What the label is not: a size rule. Version 1 of this generator labelled lesions > 20 mm
"suspicious"; that cut-off belongs to LI-RADS, which applies only to patients at high risk of HCC
(cirrhosis, chronic hepatitis B, current or prior HCC; ACR CT/MRI LI-RADS v2018, Chernyak V. et
al., Radiology 289:816-830, 2018), where size is one major feature among several and never a
category on its own; a simple cyst is benign at any size. The lesion diameter stays a regression
task (a measurement, not a diagnosis).

Resolution: at the 400 mm field of view one pixel is 3.1 mm at 128 px (6.25 mm at 64 px, 1.56 mm at
256 px), so the lesion spans 5-15 pixels at 128 px and a rim at the rule's threshold (an enhancing
share of 0.5 is a rim about 0.3 of the radius thick, 2-7 mm) 1-2 pixels; at 64 px the smallest lesions
are 2-3 pixels across, too few to read the component. The zoo therefore trains this region at 256 px
(lesion 10-30 pixels, the rim 1.5-4.5), where the single-task segmentation reaches a mean Dice of 0.87
against 0.73 at 128 px (:data:`mtdl_kit.zoo.LAB_RECIPE`; docs/zoo.md).

Generator version 2 (issue #12's medical corrections): version 1 had 6-38 mm lesions, two
segmentation classes (liver, lesion) and the size rule above at relatedness 1.
"""

from __future__ import annotations

import numpy as np

from mtdl_kit.regions import _draw as d
from mtdl_kit.regions.base import (
    Coupling,
    Reference,
    Region,
    TaskSpec,
    _stable_id,
    coupled_score,
    normalise_at_threshold,
    register_region,
    score_to_class,
)

#: metastasis <=> enhancing component / lesion above this on the mask (a teaching threshold).
SOLID_SHARE_THRESHOLD = 0.5
#: HU of the lesion's non-enhancing part: water-like cyst ... soft-tissue metastasis (rule at r = 0: above the middle).
HU_WATER_LIKE, HU_SOFT_TISSUE = 5.0, 45.0
WINDOW_LEVEL = 40.0
WINDOW_WIDTH = 400.0
#: normalised image units per millimetre (the field of view, 400 mm, spans 2 units).
_MM = 2.0 / 400.0

HU_AIR = -1000.0
HU_FAT = -100.0
HU_MUSCLE = 50.0
HU_CORTICAL_BONE = 800.0


_WOBBLE_MAX = 3.0  # the organ-outline field is clipped to +-3 std, which bounds each shape's box


def _box(size: int, cy: float, cx: float, half_y: float, half_x: float) -> tuple[slice, slice]:
    """Pixel slices covering [cy +- half_y] x [cx +- half_x] (normalised units), clipped to the image."""
    s = size / 2.0
    r0 = min(max(int(np.floor((cy - half_y + 1.0) * s)), 0), size)
    r1 = min(max(int(np.ceil((cy + half_y + 1.0) * s)) + 1, r0), size)
    c0 = min(max(int(np.floor((cx - half_x + 1.0) * s)), 0), size)
    c1 = min(max(int(np.ceil((cx + half_x + 1.0) * s)) + 1, c0), size)
    return slice(r0, r1), slice(c0, c1)


def _field(
    size: int, cy: float, cx: float, ry: float, rx: float, angle: float = 0.0, grow: float = 1.0
) -> tuple[tuple[slice, slice], np.ndarray]:
    """Squared elliptical distance (as ``d.ellipse_field``) computed only in the ellipse's box (scaled by ``grow``)."""
    half = max(ry, rx) * grow
    sl = _box(size, cy, cx, half, half)
    yy, xx = d.grid(size)
    dy, dx = yy[sl] - cy, xx[sl] - cx
    if angle:
        c, s = float(np.cos(angle)), float(np.sin(angle))
        dy, dx = c * dy - s * dx, s * dy + c * dx
    return sl, (dy / ry) ** 2 + (dx / rx) ** 2


def _blob(
    size: int,
    cy: float,
    cx: float,
    ry: float,
    rx: float,
    angle: float = 0.0,
    wobble: np.ndarray | None = None,
    amp: float = 0.0,
    level: float = 1.0,
) -> np.ndarray:
    """Full-size boolean mask of ``ellipse_field + amp * wobble <= level``, computed in a local box."""
    grow = float(np.sqrt(level + amp * _WOBBLE_MAX)) if wobble is not None else float(np.sqrt(level))
    sl, f = _field(size, cy, cx, ry, rx, angle, grow)
    if wobble is not None:
        f = f + amp * wobble[sl]
    out = np.zeros((size, size), dtype=bool)
    out[sl] = f <= level
    return out


def _tube(size: int, p0: tuple[float, float], p1: tuple[float, float], w0: float, w1: float) -> np.ndarray:
    """Boolean mask of a tapered segment from p0 (half-width w0) to p1 (half-width w1), normalised units."""
    w = max(w0, w1)
    cy, cx = 0.5 * (p0[0] + p1[0]), 0.5 * (p0[1] + p1[1])
    sl = _box(size, cy, cx, 0.5 * abs(p1[0] - p0[0]) + w, 0.5 * abs(p1[1] - p0[1]) + w)
    yy, xx = d.grid(size)
    y, x = yy[sl], xx[sl]
    vy, vx = p1[0] - p0[0], p1[1] - p0[1]
    t = np.clip(((y - p0[0]) * vy + (x - p0[1]) * vx) / (vy * vy + vx * vx), 0.0, 1.0)
    dist = np.hypot(y - p0[0] - t * vy, x - p0[1] - t * vx)
    out = np.zeros((size, size), dtype=bool)
    out[sl] = dist < w0 + (w1 - w0) * t
    return out


@register_region
class Abdomen(Region):
    """Abdominal CT phantom: liver and lesion masks (non-enhancing / enhancing), cyst vs metastasis, lesion diameter."""

    name = "abdomen"
    title = "Abdomen — axial contrast-enhanced CT"
    modality = "CT (soft-tissue window)"
    in_channels = 1
    field_of_view_mm = 400.0
    generator_version = "2"
    # at 128 px the enhancing rim of a lesion at the label's threshold is 1-2 pixels: no zoo model reached
    # the segmentation bar there (liver/lesion Dice 0.731 single-task), at 256 px the single-task network
    # did (0.866; seed 0, docs/zoo.md "Training recipes and budget")
    default_size = 256
    resolving_size = 256
    finding_mask = ("liver_lesion", (2, 3))  # the lesion: its non-enhancing part and its enhancing component
    tasks = (
        TaskSpec(
            "liver_lesion",
            "segmentation",
            4,
            "Liver and the focal liver lesion inside it: its non-enhancing part and its enhancing component "
            "(the lesion is excluded from the liver class).",
            class_names=("background", "liver", "lesion (non-enhancing)", "lesion (enhancing)"),
        ),
        TaskSpec(
            "malignancy",
            "classification",
            2,
            "Simple cyst vs metastasis: a focal liver lesion in a patient without HCC risk (at relatedness 1, "
            "metastasis when an enhancing component makes up more than half the lesion).",
            class_names=("cyst", "metastasis"),
        ),
        TaskSpec(
            "lesion_diameter",
            "regression",
            1,
            "Lesion diameter in mm (equivalent-circle diameter of the whole lesion on the mask, both parts).",
            output_names=("lesion diameter",),
            units="mm",
        ),
    )
    coupling = Coupling(
        segmentation="liver_lesion",
        classification="malignancy",
        anatomy_latent="solid_share",
        other_latent="density",
        rule="metastasis <=> enhancing component / lesion > 0.5 (on the mask)",
        other_rule="metastasis <=> non-enhancing part above 25 HU (water-like cyst 5 HU ... soft tissue 45 HU)",
    )
    nuisances = ("noise", "contrast_phase")
    references = (
        Reference(
            "AMTA-Net (Xu X. 2021)",
            "Xu X, Lian C, Wang S, Zhu T, Chen RC, Wang AZ, Royce TJ, Yap PT, Shen D, Lian J. Asymmetric "
            "multi-task attention network for prostate bed segmentation in computed tomography images. "
            "Med. Image Anal. 72:102116 (2021).",
            "hybrid",
            "bladder/rectum segmentation -> attention -> prostate-bed segmentation",
        ),
        Reference(
            "HF-UNet (He K. 2021)",
            "He K, Lian C, Zhang B, Zhang X, Cao X, Nie D, Gao Y, Zhang J, Shen D. HF-UNet: learning "
            "hierarchically inter-task relevance in multi-task U-Net for accurate prostate segmentation in "
            "CT images. IEEE Trans. Med. Imaging 40(8):2118-2128 (2021).",
            "hybrid",
            "localization -> prostate segmentation + boundary",
        ),
        Reference(
            "UAL (Zhao J. 2021)",
            "Zhao J, Li D, Xiao X, Accorsi F, Marshall H, Cossetto T, Kim D, McCarthy D, Dawson C, Knezevic S, "
            "Chen B, Li S. United adversarial learning for liver tumor segmentation and detection of "
            "multi-modality non-contrast MRI. Med. Image Anal. 73:102154 (2021).",
            "parallel",
            "liver-tumour segmentation + detection",
        ),
    )

    measured_regression = {"lesion_diameter": (("lesion_diameter_mm",), 1e-4)}

    def anatomy_score(self, value: float) -> float:
        return normalise_at_threshold(value, 0.0, SOLID_SHARE_THRESHOLD, 0.9)

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        return np.array([9.5], dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        return np.array([32.0], dtype=np.float32)

    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """The enhancing component's share of the lesion, the lesion diameter (mm), its extent and the liver area.

        The equivalent diameter ``2 sqrt(area / pi)`` of the whole lesion (classes 2 and 3) is stable on
        pixel masks (also on predicted ones); ``lesion_extent_mm`` is the larger of the lesion's
        vertical and horizontal extents, closer to a radiologist's caliper measurement.
        """
        lesion = mask >= 2
        n_lesion = int(np.count_nonzero(lesion))
        solid_share = int(np.count_nonzero(mask == 3)) / n_lesion if n_lesion else 0.0
        diameter = d.equivalent_diameter(lesion) * spacing_mm
        extent = max(d.feret_extent(lesion, 0), d.feret_extent(lesion, 1)) * spacing_mm
        liver_area_cm2 = float(np.count_nonzero(mask >= 1)) * spacing_mm * spacing_mm / 100.0
        return {
            "solid_share": solid_share,
            "lesion_diameter_mm": diameter,
            "lesion_extent_mm": extent,
            "liver_area_cm2": liver_area_cm2,
        }

    def hu_slice(self, seed: int, size: int = 128) -> np.ndarray:
        """The slice of ``sample(seed, size=size)`` in Hounsfield units, before windowing (float32 (H, W)).

        Relatedness and nuisance only change the label, so the HU slice depends on seed and size only.
        """
        self.check_arguments(seed, size=size, relatedness=1.0, nuisance=None, label_noise=0.0)
        rng = np.random.default_rng([int(seed), _stable_id(self.name)])
        return self._render(rng, size)[0]

    def _generate(self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None):
        hu, mask, lat = self._render(rng, size)
        img = d.window(hu, WINDOW_LEVEL, WINDOW_WIDTH)[None]

        measured = self.measure(mask, self.spacing_mm(size))
        diameter = measured["lesion_diameter_mm"]
        z = coupled_score(relatedness, self.anatomy_score(measured["solid_share"]), lat["density"])
        if nuisance is not None:
            z = lat[nuisance]  # label follows dose or contrast timing, which the masks ignore
        label = score_to_class(z, 2)

        targets = {
            "liver_lesion": mask,
            "malignancy": np.asarray(label, dtype=np.int64),
            "lesion_diameter": np.asarray([diameter], dtype=np.float32),
        }
        latents = {**lat, "solid_share": measured["solid_share"], "lesion_diameter_mm": diameter, "label_score": z}
        return img, targets, latents

    def _render(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Draw one slice: (HU image float32 (H, W), mask int64 (H, W), latents)."""
        # Independent latents first (fixed order keeps them independent of each other).
        severity = float(rng.random())  # lesion size
        solid = float(rng.random())  # thickness of the enhancing component: none (cyst) ... thick rim
        noise = float(rng.random())  # dose: low noise (0) ... high noise + streaks (1)
        phase = float(rng.random())  # late arterial (0) ... portal venous (1)
        density = float(rng.random())  # non-enhancing part: water-like (0) ... soft tissue (1)

        yy, xx = d.grid(size)
        px = 2.0 / size  # one pixel in normalised units
        wobble, texture = d.fbm_stack(rng, size, (3.5, 2.0))
        np.clip(wobble, -_WOBBLE_MAX, _WOBBLE_MAX, out=wobble)  # organic organ outlines

        # --- Body outline, subcutaneous fat, muscle wall, flattened back on the table.
        bcy = float(rng.uniform(-0.05, 0.0))
        by, bx = float(rng.uniform(0.56, 0.64)), float(rng.uniform(0.80, 0.90))
        fat_t = float(rng.uniform(0.03, 0.09))
        wall_t = float(rng.uniform(0.025, 0.04))
        back = bcy + 0.93 * by
        body_f = ((yy - bcy) / by) ** 2 + (xx / bx) ** 2 + 0.015 * wobble
        body = (body_f <= 1.0) & (yy <= back)
        inner = (((yy - bcy) / (by - fat_t)) ** 2 + (xx / (bx - fat_t)) ** 2 + 0.02 * wobble <= 1.0) & (
            yy <= back - fat_t
        )
        cby, cbx = by - fat_t - wall_t, bx - fat_t - wall_t
        cavity = (((yy - bcy) / cby) ** 2 + (xx / cbx) ** 2 + 0.02 * wobble <= 1.0) & (yy <= back - fat_t - wall_t)

        fat_hu = HU_FAT + float(rng.normal(0.0, 8.0))
        hu = np.full((size, size), HU_AIR, dtype=np.float32)
        hu[body] = fat_hu
        hu[inner] = HU_MUSCLE
        hu[cavity] = fat_hu + 10.0  # visceral fat, a little denser than subcutaneous fat

        # --- Spine: vertebral body (cortical shell + trabecular bone), canal, neural arch; muscles.
        vb_cy = bcy + 0.40 * by
        vb_ry, vb_rx = 0.075, 0.09
        canal_cy = vb_cy + vb_ry + 0.05
        para = _blob(size, canal_cy + 0.04, -0.12, 0.10, 0.10) | _blob(size, canal_cy + 0.04, 0.12, 0.10, 0.10)
        psoas = _blob(size, vb_cy - 0.01, -0.13, 0.05, 0.045) | _blob(size, vb_cy - 0.01, 0.13, 0.05, 0.045)
        hu[(para & inner) | psoas] = HU_MUSCLE + 5.0
        sl_sp = _box(size, canal_cy + 0.05, 0.0, 0.13, 0.13)
        ys, xs = yy[sl_sp], xx[sl_sp]
        r_canal = np.hypot(ys - canal_cy, xs)
        arch = (r_canal > 0.04) & (r_canal < 0.065) & (ys > vb_cy)
        spinous = (np.abs(xs) < 0.016 - 0.04 * (ys - canal_cy)) & (ys > canal_cy) & (ys < canal_cy + 0.14)
        transverse = (np.abs(ys - canal_cy + 0.02 + 0.12 * np.abs(xs)) < 0.014) & (np.abs(xs) < 0.12)
        posterior = np.zeros((size, size), dtype=bool)
        posterior[sl_sp] = arch | spinous | transverse
        posterior &= inner
        hu[posterior] = 500.0
        hu[sl_sp][r_canal <= 0.04] = 15.0  # thecal sac
        sl_vb, vb_f = _field(size, vb_cy, 0.0, vb_ry, vb_rx)
        vertebra = np.zeros((size, size), dtype=bool)
        vertebra[sl_vb] = vb_f <= 1.0
        hu[vertebra] = HU_CORTICAL_BONE
        trabecular = vb_f <= (1.0 - 0.02 / vb_rx) ** 2
        hu[sl_vb][trabecular] = 220.0 + 40.0 * texture[sl_vb][trabecular]

        # --- Ribs / costal cartilage cut in cross-section inside the muscle wall.
        n_ribs = int(rng.integers(4, 8))
        ry_rib, rx_rib = by - fat_t - 0.5 * wall_t, bx - fat_t - 0.5 * wall_t
        for ang in rng.uniform(0.15, np.pi - 0.15, n_ribs) * rng.choice([-1.0, 1.0], n_ribs):
            cy_r, cx_r = bcy - ry_rib * np.cos(ang), rx_rib * np.sin(ang)
            if cy_r > back - fat_t - 0.1:
                continue
            sl_r, rib_f = _field(size, float(cy_r), float(cx_r), 0.018, 0.03, angle=float(ang))
            hu[sl_r][rib_f <= 1.0] = HU_CORTICAL_BONE - 150.0
            hu[sl_r][rib_f <= 0.35] = 250.0

        # --- Vessels: aorta, IVC; kidneys; spleen; pancreas; stomach.
        aorta = _blob(size, vb_cy - vb_ry - 0.05, 0.035, 0.045, 0.045)
        ivc_c = (vb_cy - vb_ry - 0.03, -0.10)
        ivc = _blob(size, ivc_c[0], ivc_c[1], 0.035, 0.05)
        k_cy = vb_cy + 0.02
        kidneys = np.zeros((size, size), dtype=bool)
        medulla = np.zeros((size, size), dtype=bool)
        for kcy, kcx, kang in ((k_cy, 0.27, -0.6), (k_cy + 0.03, -0.26, 0.6)):
            sl_k, kf = _field(size, kcy, kcx, 0.125, 0.075, angle=kang)
            kidneys[sl_k] |= kf <= 1.0
            medulla[sl_k] |= kf <= 0.45
        sinus = _blob(size, k_cy - 0.02, 0.21, 0.04, 0.03) | _blob(size, k_cy + 0.01, -0.2, 0.04, 0.03)
        medulla &= ~sinus
        spleen = _blob(size, vb_cy - 0.13, 0.55, 0.21, 0.085, -0.55, wobble, 0.08) & cavity
        pancreas = _blob(size, vb_cy - 0.22, 0.2, 0.035, 0.2, -0.3, wobble, 0.5) & cavity
        retro = aorta | ivc | kidneys | psoas | vertebra | posterior

        # --- Liver: large right lobe against the body wall plus the left lobe crossing the midline.
        lcy, lcx = bcy - 0.04 + float(rng.uniform(-0.03, 0.03)), -0.40 + float(rng.uniform(-0.03, 0.03))
        lry, lrx = float(rng.uniform(0.32, 0.38)), float(rng.uniform(0.28, 0.33))
        right_lobe = _blob(size, lcy, lcx, lry, lrx, 0.15, wobble, 0.12)
        left_lobe_ry = float(rng.uniform(0.07, 0.12))
        left_lobe = _blob(size, bcy - 0.30, -0.1, left_lobe_ry, float(rng.uniform(0.22, 0.3)), -0.3, wobble, 0.15)
        liver = (right_lobe | left_lobe) & cavity & ~retro
        spleen &= ~liver & ~retro
        pancreas &= ~liver & ~retro & ~spleen

        stomach = _blob(size, bcy - 0.27, 0.3, 0.15, 0.2, -0.2, wobble, 0.1)
        stomach &= cavity & ~liver & ~spleen & ~retro & ~pancreas
        stomach_lumen = _blob(size, bcy - 0.27, 0.3, 0.12, 0.17, -0.2, wobble, 0.1) & stomach
        air_fluid_level = bcy - 0.27 - float(rng.uniform(0.0, 0.08))

        # Contrast timing (late arterial -> portal venous).
        liver_hu = 65.0 + 45.0 * phase + float(rng.normal(0.0, 5.0))
        aorta_hu = 320.0 - 150.0 * phase
        hu[stomach] = 60.0
        hu[stomach_lumen] = 15.0
        hu[stomach_lumen & (yy < air_fluid_level)] = HU_AIR
        hu[pancreas] = 115.0 - 25.0 * phase + 12.0 * texture[pancreas]
        hu[spleen] = 95.0 + 25.0 * phase + (8.0 + 30.0 * (1.0 - phase)) * texture[spleen]
        hu[kidneys] = 190.0 - 10.0 * phase
        hu[medulla] = 90.0 + 85.0 * phase
        hu[sinus & kidneys] = fat_hu + 20.0
        hu[aorta] = aorta_hu
        hu[ivc] = 85.0 + 50.0 * phase

        # --- Bowel loops cut in cross-section in the free peritoneal space: enhancing wall, fluid or gas.
        free = cavity & ~liver & ~spleen & ~retro & ~pancreas & ~stomach & (yy < vb_cy + 0.05)
        loops = np.zeros((size, size), dtype=bool)
        n_loops = int(rng.integers(18, 34))
        cand = np.stack([rng.uniform(bcy - cby, vb_cy + 0.05, n_loops), rng.uniform(-cbx, cbx, n_loops)], 1)
        for (cy, cx), r_l, asp, ang, content in zip(
            cand,
            rng.uniform(0.035, 0.07, n_loops),
            rng.uniform(0.6, 1.0, n_loops),
            rng.uniform(0, np.pi, n_loops),
            rng.random(n_loops),
            strict=True,
        ):
            iy, ix = min(int((cy + 1.0) / px), size - 1), min(int((cx + 1.0) / px), size - 1)
            if not free[iy, ix]:
                continue
            cy, cx, r_l, ang = float(cy), float(cx), float(r_l), float(ang)
            sl_b, bf = _field(size, cy, cx, r_l * asp, r_l, ang)
            wall = (bf <= 1.0) & free[sl_b] & ~loops[sl_b]
            lumen = wall & (bf <= 0.55)
            hu[sl_b][wall] = 60.0 + 25.0 * phase
            if content < 0.35:  # gas-filled loop
                hu[sl_b][lumen] = HU_AIR
            elif content < 0.55:  # air-fluid level
                hu[sl_b][lumen] = 15.0
                hu[sl_b][lumen & (yy[sl_b] < cy - 0.2 * r_l)] = HU_AIR
            else:  # fluid / chyme, slightly mottled
                hu[sl_b][lumen] = 20.0 + 12.0 * texture[sl_b][lumen]
            loops[sl_b] |= wall
        # Mesenteric vessels: small enhancing dots in the fat.
        n_dots = int(rng.integers(3, 8))
        for cy, cx in zip(rng.uniform(-0.35, vb_cy - 0.15, n_dots), rng.uniform(-0.3, 0.35, n_dots), strict=True):
            hu[_blob(size, float(cy), float(cx), 0.012, 0.012) & free & ~loops] = 0.6 * aorta_hu

        # --- Liver parenchyma, hepatic veins draining into the IVC, and the lesion.
        hu[liver] = liver_hu + 6.0 * texture[liver]
        vein = np.zeros((size, size), dtype=bool)
        for ang in rng.uniform(-0.4, 0.4, 3) + np.array([-2.6, -2.0, -1.3]):
            start = (ivc_c[0] + 0.06 * np.sin(ang), ivc_c[1] + 0.06 * np.cos(ang))
            length = float(rng.uniform(0.12, 0.22))
            end = (start[0] + length * np.sin(ang), start[1] + length * np.cos(ang))
            vein |= _tube(size, start, end, 0.014, 0.006)
        vein &= liver
        hu[vein] = liver_hu - 30.0 + 75.0 * phase

        diameter_mm = 16.0 + 32.0 * severity
        lr = 0.5 * diameter_mm * _MM
        aspect = float(rng.uniform(0.8, 1.0))
        les_cy = lcy + float(rng.uniform(-0.12, 0.03))
        les_cx = lcx + float(rng.uniform(-0.08, 0.08))
        sl_l, les_f = _field(
            size, les_cy, les_cx, lr * np.sqrt(aspect), lr / np.sqrt(aspect), float(rng.uniform(0, np.pi)), 1.2
        )
        lesion = np.zeros((size, size), dtype=bool)
        lesion[sl_l] = les_f <= 1.0
        lesion &= liver
        iy = min(max(int((les_cy + 1.0) / px), 0), size - 1)
        ix = min(max(int((les_cx + 1.0) / px), 0), size - 1)
        if liver[iy, ix]:
            lesion[iy, ix] = True  # the lesion is never lost at coarse sizes
        # Enhancing component: the outer part of the lesion (viable tumour around a necrotic or cystic
        # centre), its thickness 0 (simple cyst) ... 60 % of the radius.
        rho_full = np.full((size, size), 2.0, dtype=np.float32)
        rho_full[sl_l] = np.sqrt(les_f)
        enhancing = lesion & (rho_full > 1.0 - 0.6 * solid)
        centre_hu = min(HU_WATER_LIKE + (HU_SOFT_TISSUE - HU_WATER_LIKE) * density, liver_hu - 20.0)
        hu[lesion] = centre_hu + 4.0 * texture[lesion]
        hu[enhancing] = liver_hu + 55.0 + 6.0 * texture[enhancing]  # rim enhancement, brighter than the liver

        # --- CT table under the patient.
        table_y = back + 0.03 + 0.06 * xx * xx
        hu[(np.abs(yy - table_y) < 0.015) & (np.abs(xx) < 0.85)] = 150.0

        # --- Acquisition: partial volume, correlated noise (dose), streaks through the spine.
        hu = d.smooth3(hu)
        sigma_hu = 8.0 + 32.0 * noise
        # Uniform noise smoothed by the [1, 2, 1] kernel: near-Gaussian (CLT), std 0.375 / sqrt(12).
        grain = d.smooth3(rng.random((size, size), dtype=np.float32) - 0.5)
        hu += grain * float(sigma_hu / (0.375 / np.sqrt(12.0)))
        n_streaks = int(rng.integers(0, 2)) + round(3.0 * noise)
        for ang in rng.uniform(0.0, np.pi, n_streaks):
            dist = np.abs((yy - vb_cy) * float(np.cos(ang)) - xx * float(np.sin(ang)))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            hu += sign * (10.0 + 40.0 * noise) * np.exp(-((dist / (1.5 * px)) ** 2)) * body
        hu = hu.astype(np.float32)

        mask = np.zeros((size, size), dtype=np.int64)
        mask[liver] = 1
        mask[lesion] = 2
        mask[enhancing] = 3
        latents = {
            "severity": severity,
            "lesion_diameter_drawn_mm": diameter_mm,
            "solid": solid,
            "density": density,
            "centre_hu": centre_hu,
            "noise": noise,
            "noise_sigma_hu": sigma_hu,
            "contrast_phase": phase,
            "liver_hu": liver_hu,
            "streak_count": float(n_streaks),
        }
        return hu, mask, latents

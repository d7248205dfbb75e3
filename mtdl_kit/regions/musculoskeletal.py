"""Musculoskeletal: knee AP radiograph with femur / tibia segmentation, JSN grade, JSW and landmarks.

Task set modelled on the review's musculoskeletal networks (Zhao et al., Comput. Biol. Med.
2023): Kellgren-Lawrence (KL) grading of knee osteoarthritis together with its radiographic
features from one shared encoder (Tiulpin & Saarakkala, Diagnostics 2020), bone segmentation
with regression of clinical parameters measured on it (MBNet, Tran et al., ACCV 2020), and joint
localisation + segmentation with interacting branches (MRLN, Zhang R. et al., IEEE JBHI 2020, for
vertebrae). Here: femur / tibia segmentation, a joint-space-narrowing (JSN) grade 0-4, the medial
and lateral minimum joint-space widths (JSW) and four joint landmarks, all read off the same mask.

The grade is a JSN grade, not a Kellgren-Lawrence grade. KL grades are defined by osteophytes
first and joint-space narrowing second (Kellgren J.H. & Lawrence J.S., Ann. Rheum. Dis.
16:494-502, 1957: grade 1 doubtful narrowing and possible osteophytic lipping, grade 2 definite
osteophytes, grades 3-4 moderate to large osteophytes with definite to marked narrowing, sclerosis
and deformity). The phantom draws no osteophytes, so its grade measures narrowing only: in the
spirit of the OARSI atlas JSN grade (Altman R.D. & Gold G.E., Osteoarthritis Cartilage 15 Suppl
A:A1-A56, 2007), which grades JSN 0-3 per compartment, here in five bins 0-4 of the medial minimum
JSW. The task and class names (``kl_grade``: ``KL0`` ... ``KL4``) are kept because stored models carry
them; read them as JSN0 ... JSN4. The grade is ordinal, so quadratic weighted Cohen's kappa is
reported beside the ROC-AUC (:func:`mtdl_kit.metrics.quadratic_weighted_kappa`).

Clinical rule at relatedness 1: the JSN grade follows joint-space narrowing of the medial
compartment. The minimum medial JSW measured on the mask is binned at 4.5 / 3.5 / 2.5 / 1.5 mm
(wider than 4.5 mm: grade 0; narrower than 1.5 mm: grade 4). Because the label must grow with
the anatomy latent, that latent is the medial narrowing ``medial_jsn_mm = 7 mm - JSW_medial``
(thresholds 2.5 / 3.5 / 4.5 / 5.5 mm, mapped to the score bins 0.2 / 0.4 / 0.6 / 0.8). At
relatedness 0 the grade follows subchondral sclerosis instead: a bright band under the tibial
plateau (and, fainter, in the condyles) that is visible in the image but not part of the masks.

Convention: a right knee seen in AP, so the lateral side (fibula) is on the image left and the
medial compartment on the image right; the measurement relies on this.

Appearance: Beer-Lambert-like projection. Femur (shaft flaring to two rounded condyles with an
intercondylar notch) and tibia (plateau with a concave medial and flat lateral compartment,
tibial spines) are built from analytic outlines; their line integral is the chord through a
cylinder of the local half-width with a denser cortical shell (brighter rim, thick in the
shafts, a thin subchondral plate at the joint) and an anisotropic fBm trabecular interior.
The fibular head (lateral, partly overlapping the tibia), the patella (superimposed on the
femur) and the soft-tissue envelope complete the picture, displayed as ``1 - exp(-g L)``.
Nuisances: ``exposure`` (brightness / contrast) and ``noise`` (quantum mottle level).
"""

from __future__ import annotations

from functools import lru_cache

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

#: Minimum medial JSW thresholds (mm) between JSN grades 0|1, 1|2, 2|3 and 3|4 (task ``kl_grade``).
JSW_THRESHOLDS_MM = (4.5, 3.5, 2.5, 1.5)
#: Reference width for the narrowing latent: medial_jsn_mm = JSW_REFERENCE_MM - JSW_medial.
JSW_REFERENCE_MM = 7.0
#: Width of the sliding window (mm) over which the joint-space profile is averaged before taking
#: its minimum: a sub-pixel "minimum JSW" that stays meaningful at coarse pixel spacings.
JSW_WINDOW_MM = 8.0
#: Fraction of the tibial width around its centre excluded from both compartments (spines, notch).
CENTRAL_EXCLUSION = 0.1
MM_PER_UNIT = 75.0  # normalised half field of view


@lru_cache(maxsize=16)
def _trabecular_filter(size: int, beta: float) -> np.ndarray:
    """Spectral amplitude of an anisotropic fBm favouring vertical trabeculae (horizontal frequencies)."""
    fy = np.fft.fftfreq(size).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(size).astype(np.float32)[None, :]
    fr2 = fy * fy + fx * fx
    fr2[0, 0] = 1.0
    amp = fr2 ** (-beta / 4.0) * (0.25 + fx * fx / fr2)
    amp[0, 0] = 0.0
    amp.setflags(write=False)
    return amp.astype(np.float32)


def _trabecular(rng: np.random.Generator, size: int) -> np.ndarray:
    """Zero-mean, unit-std anisotropic fBm (trabecular bone texture)."""
    amp = _trabecular_filter(size, 1.4)
    spec = rng.standard_normal(amp.shape, dtype=np.float32) + 1j * rng.standard_normal(amp.shape, dtype=np.float32)
    out = np.fft.irfft2(spec * amp, s=(size, size)).astype(np.float32)
    std = float(out.std())
    return out / std if std > 0 else out


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _chord(depth: np.ndarray, radius: np.ndarray | float) -> np.ndarray:
    """Chord length through a cylinder of ``radius`` at ``depth`` inside its outline (0 outside)."""
    dd = np.clip(depth, 0.0, None)
    dd = np.minimum(dd, radius)
    return 2.0 * np.sqrt(dd * (2.0 * radius - dd))


def _joint_profile(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-column femur bottom row, tibia top row, and the lateral / medial compartment columns."""
    h = mask.shape[0]
    rows = np.arange(h)[:, None]
    fem, tib = mask == 1, mask == 2
    f_bottom = np.where(fem, rows, -1).max(axis=0)
    t_top = np.where(tib, rows, h).min(axis=0)
    both = (f_bottom >= 0) & (t_top < h)
    cols = np.flatnonzero(t_top < h)
    if cols.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return f_bottom, t_top, np.zeros(0), empty, empty
    c0, c1 = cols[0], cols[-1]
    centre, width = 0.5 * (c0 + c1), c1 - c0 + 1
    idx = np.arange(mask.shape[1])
    lateral = np.flatnonzero(both & (idx < centre - CENTRAL_EXCLUSION * width))
    medial = np.flatnonzero(both & (idx > centre + CENTRAL_EXCLUSION * width))
    gap = np.clip(t_top - f_bottom - 1, 0, None).astype(np.float64)
    return f_bottom, t_top, gap, lateral, medial


def _min_window_mean(values: np.ndarray, n: int) -> float:
    """Minimum over all windows of ``n`` consecutive values of their mean (all values if fewer)."""
    if values.size == 0:
        return 0.0
    if values.size <= n:
        return float(values.mean())
    c = np.concatenate([[0.0], np.cumsum(values)])
    return float(((c[n:] - c[:-n]) / n).min())


@register_region
class Musculoskeletal(Region):
    """Knee AP radiograph phantom: femur / tibia masks, JSN grade (task ``kl_grade``), JSW and joint landmarks."""

    name = "musculoskeletal"
    title = "Musculoskeletal — knee AP radiograph"
    modality = "knee X-ray (projection radiograph)"
    in_channels = 1
    field_of_view_mm = 150.0
    tasks = (
        TaskSpec(
            "bones",
            "segmentation",
            3,
            "Distal femur and proximal tibia: the gap between them is the joint space.",
            class_names=("background", "femur", "tibia"),
        ),
        TaskSpec(
            "kl_grade",
            "classification",
            5,
            "Joint-space-narrowing grade 0-4 (bins of the medial minimum JSW; OARSI-style JSN, Altman & Gold "
            "2007), not a Kellgren-Lawrence grade: KL is defined by osteophytes first, and the phantom draws none. "
            "Classes KL0-KL4 read JSN0-JSN4. Ordinal: quadratic weighted kappa is reported beside AUC.",
            class_names=("KL0", "KL1", "KL2", "KL3", "KL4"),
        ),
        TaskSpec(
            "jsw",
            "regression",
            2,
            "Minimum joint-space width of the medial and lateral compartments (8-mm window mean).",
            output_names=("medial JSW", "lateral JSW"),
            units="mm",
        ),
        TaskSpec(
            "landmarks",
            "landmarks",
            4,
            "Lowest points of the femoral condyles and the tibial plateau points below them (row, col).",
            output_names=(
                "medial femoral condyle",
                "lateral femoral condyle",
                "medial tibial plateau",
                "lateral tibial plateau",
            ),
        ),
    )
    coupling = Coupling(
        segmentation="bones",
        classification="kl_grade",
        anatomy_latent="medial_jsn_mm",
        other_latent="sclerosis",
        rule="JSN grade 0-4 <=> minimum medial JSW > 4.5 / 3.5-4.5 / 2.5-3.5 / 1.5-2.5 / < 1.5 mm",
    )
    nuisances = ("exposure", "noise")
    #: classification tasks whose classes are an ordered scale (the JSN grade 0-4): scored with quadratic
    #: weighted kappa beside the AUC (:func:`mtdl_kit.metrics.is_ordinal`).
    ordinal_tasks = ("kl_grade",)
    references = (
        Reference(
            "Tiulpin & Saarakkala 2020",
            "Tiulpin A, Saarakkala S. Automatic grading of individual knee osteoarthritis features in "
            "plain radiographs using deep convolutional neural networks. Diagnostics 10(11):932 (2020). "
            "arXiv:1907.08020.",
            "parallel",
            "KL grade + OARSI grades (joint-space narrowing, osteophytes, sclerosis)",
        ),
        Reference(
            "MBNet (Tran 2020)",
            "Tran VL, Lin H-Y, Liu H-W. MBNet: A multi-task deep neural network for semantic "
            "segmentation and lumbar vertebra inspection on X-ray images. ACCV 2020, LNCS 12624.",
            "parallel",
            "lumbar vertebra / sacrum / femoral head segmentation + clinical parameter regression",
        ),
        Reference(
            "MRLN (Zhang R. 2020)",
            "Zhang R, Xiao X, Liu Z, Li Y, Li S. MRLN: Multi-task relational learning network for MRI "
            "vertebral localization, identification, and segmentation. IEEE J. Biomed. Health Inform. "
            "24(10):2902-2911 (2020).",
            "interacted",
            "vertebra localisation + identification + segmentation",
        ),
    )

    measured_regression = {"jsw": (("jsw_medial", "jsw_lateral"), 1e-4)}

    def anatomy_score(self, value: float) -> float:
        knots = [JSW_REFERENCE_MM - t for t in (JSW_REFERENCE_MM, *JSW_THRESHOLDS_MM, 0.0)]
        return float(np.interp(value, knots, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]))

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        return np.array([1.5, 1.2], dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        return np.array([3.0, 4.7], dtype=np.float32)

    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """Medial / lateral minimum JSW (mm) and the medial narrowing, from a femur/tibia mask.

        Per image column the joint space is the number of pixels between the lowest femur pixel
        and the highest tibia pixel. The tibia's horizontal extent defines the compartments (the
        central 20 % with the spines and the notch is excluded; medial = image right). Each
        compartment's minimum JSW is the smallest mean of that profile over a sliding window of
        ``JSW_WINDOW_MM`` (a robust, sub-pixel minimum).
        """
        _, _, gap, lateral, medial = _joint_profile(mask)
        n = max(2, round(JSW_WINDOW_MM / spacing_mm))
        jsw_med = _min_window_mean(gap[medial], n) * spacing_mm if medial.size else 0.0
        jsw_lat = _min_window_mean(gap[lateral], n) * spacing_mm if lateral.size else 0.0
        return {"jsw_medial": jsw_med, "jsw_lateral": jsw_lat, "medial_jsn_mm": JSW_REFERENCE_MM - jsw_med}

    def landmarks(self, mask: np.ndarray) -> np.ndarray:
        """(row, col) of the medial / lateral condyle lowest points and the plateau points below them.

        The condyle point is the lowest femur pixel of the compartment (mean column over ties);
        the plateau point is the highest tibia pixel in that column. Order: medial femoral condyle,
        lateral femoral condyle, medial tibial plateau, lateral tibial plateau.
        """
        f_bottom, t_top, _, lateral, medial = _joint_profile(mask)
        half = (mask.shape[0] - 1) / 2.0
        femur_pts, tibia_pts = [], []
        for cols in (medial, lateral):
            if cols.size == 0:
                femur_pts.append((half, half))
                tibia_pts.append((half, half))
                continue
            low = f_bottom[cols].max()
            col = float(cols[f_bottom[cols] == low].mean())
            femur_pts.append((float(low), col))
            tibia_pts.append((float(t_top[round(col)]), col))
        return np.asarray(femur_pts + tibia_pts, dtype=np.float32)

    def _generate(self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None):
        yy, xx = d.grid(size)
        sclerosis = float(rng.random())
        exposure = float(rng.random())
        noise = float(rng.random())
        jsw_med_target = float(rng.uniform(0.5, 5.7))
        jsw_lat_target = float(rng.uniform(3.0, 7.5))

        # --- Geometry in joint coordinates (jy down, jx towards medial = image right), 1 unit = 75 mm -----
        cx = float(rng.normal(0.0, 0.03))
        cy = float(rng.normal(0.05, 0.05))
        tilt = float(rng.normal(0.0, 0.035))  # varus / valgus tilt of the joint line (rad)
        ct, st = float(np.cos(tilt)), float(np.sin(tilt))
        jx = ct * (xx - cx) + st * (yy - cy)
        jy = -st * (xx - cx) + ct * (yy - cy)

        g_med = jsw_med_target / MM_PER_UNIT
        g_lat = jsw_lat_target / MM_PER_UNIT
        x_med, x_lat = float(rng.uniform(0.24, 0.29)), -float(rng.uniform(0.23, 0.28))
        c_fem = float(rng.uniform(1.5, 2.2))  # condyle curvature (1 / 2R)

        # Femur: shaft flaring to the condyles; bottom = envelope of two rounded condyles minus the notch.
        shaft_f = float(rng.uniform(0.3, 0.35))
        cond_m, cond_l = float(rng.uniform(0.5, 0.56)), float(rng.uniform(0.48, 0.54))
        flare = _smoothstep((jy + 0.95) / 0.75)
        wf_med = shaft_f + (cond_m - shaft_f) * flare
        wf_lat = shaft_f + (cond_l - shaft_f) * flare
        dm, dl = jx - x_med, jx - x_lat
        yf_m = -0.5 * g_med - c_fem * dm * dm - 15.0 * np.clip(dm - 0.06, 0.0, None) ** 2
        yf_l = -0.5 * g_lat - c_fem * dl * dl - 15.0 * np.clip(-dl - 0.06, 0.0, None) ** 2
        notch = float(rng.uniform(0.08, 0.12))
        yf = np.maximum(yf_m, yf_l) - notch * np.exp(-np.minimum((jx / 0.11) ** 4, 30.0))
        side_f = np.where(jx >= 0, wf_med - jx, wf_lat + jx)
        femur = (side_f > 0) & (jy < yf)

        # Tibia: concave medial / flat-convex lateral plateau, spines, rounded margins, flaring shaft.
        plat_m, plat_l = float(rng.uniform(0.5, 0.56)), float(rng.uniform(0.48, 0.54))
        yt_m = 0.5 * g_med - 0.6 * dm * dm
        yt_l = 0.5 * g_lat + 0.4 * dl * dl
        yt = np.where(jx >= 0, yt_m, yt_l)
        spine_h = float(rng.uniform(0.07, 0.1))
        ax = np.abs(jx)
        yt = np.minimum(yt, -spine_h + 6.0 * (ax - 0.045) ** 2 + 0.5 * g_med)
        edge = np.where(jx >= 0, jx - (plat_m - 0.12), -jx - (plat_l - 0.12))
        yt = yt + 9.0 * np.clip(edge, 0.0, None) ** 2
        shaft_t = float(rng.uniform(0.28, 0.32))
        narrow = _smoothstep((jy - 0.1) / 0.8)
        wt_med = plat_m + (shaft_t - plat_m) * narrow
        wt_lat = plat_l + (shaft_t - plat_l) * narrow
        side_t = np.where(jx >= 0, wt_med - jx, wt_lat + jx)
        tibia = (side_t > 0) & (jy > yt) & ~femur

        mask = np.zeros((size, size), dtype=np.int64)
        mask[femur] = 1
        mask[tibia] = 2

        # --- Line integral ----------------------------------------------------------------------------
        trab = _trabecular(rng, size)
        cortex_f = 0.014 + 0.03 * _smoothstep((-jy - 0.3) / 0.5)
        depth_f = np.minimum(side_f, yf - jy)
        rad_f = np.where(jx >= 0, wf_med, wf_lat)
        bone_f = _chord(depth_f, rad_f)
        inner_f = _chord(depth_f - cortex_f, rad_f - cortex_f)
        cortex_t = 0.014 + 0.03 * _smoothstep((jy - 0.3) / 0.5)
        depth_t = np.minimum(side_t, jy - yt)
        rad_t = np.where(jx >= 0, wt_med, wt_lat)
        bone_t = _chord(depth_t, rad_t)
        inner_t = _chord(depth_t - cortex_t, rad_t - cortex_t)
        shell = (bone_f - inner_f) + (bone_t - inner_t)
        spongy = (inner_f + inner_t) * (1.0 + 0.3 * trab)

        # Fibular head and shaft (lateral, image left), patella superimposed on the femur.
        fib_y = float(rng.uniform(0.3, 0.36))
        fib_x = -(plat_l + (shaft_t - plat_l) * float(_smoothstep((fib_y - 0.1) / 0.8))) + 0.02
        e_fh = ((jy - fib_y) / 0.12) ** 2 + ((jx - fib_x) / 0.15) ** 2
        fib_shaft = np.clip(1.0 - (np.abs(jx - fib_x - 0.08 * (jy - fib_y)) / 0.09) ** 2, 0.0, None)
        fibula = np.maximum(np.sqrt(np.clip(1.0 - e_fh, 0.0, None)), np.sqrt(fib_shaft) * (jy > fib_y))
        e_pat = ((jy + float(rng.uniform(0.3, 0.4))) / 0.26) ** 2 + ((jx - 0.03) / 0.21) ** 2
        patella = np.sqrt(np.clip(1.0 - e_pat, 0.0, None))

        # Soft tissue: cylinder of the leg, wider at the thigh.
        soft_w = float(rng.uniform(0.8, 0.9)) - 0.06 * np.clip(jy, -1.0, 1.0)
        soft = _chord(soft_w - np.abs(jx + 0.03), soft_w) / 2.0

        # Subchondral sclerosis (the "other" feature): bright band under the plateau, medial > lateral.
        band = 0.03 + 0.06 * sclerosis
        under = np.exp(-np.clip(jy - yt, 0.0, None) / band) * tibia
        above = np.exp(-np.clip(yf - jy, 0.0, None) / band) * femur
        weight = np.where(jx >= 0, np.float32(1.0), np.float32(0.45))
        sclerotic = sclerosis * weight * (under + 0.5 * above)

        line = 0.55 * soft + 2.4 * shell + 0.75 * spongy + 0.35 * fibula + 0.3 * patella + 2.0 * sclerotic

        # --- Display and nuisances ----------------------------------------------------------------------
        gain = 1.7 - 0.8 * exposure
        img = (1.0 - np.exp(-gain * line)) * (1.06 - 0.18 * exposure)
        sigma = 0.008 + 0.05 * noise
        img = img + sigma * rng.standard_normal(img.shape, dtype=np.float32)

        spacing = self.spacing_mm(size)
        measured = self.measure(mask, spacing)
        jsn = measured["medial_jsn_mm"]
        u_anatomy = self.anatomy_score(jsn)
        z = coupled_score(relatedness, u_anatomy, sclerosis)
        if nuisance == "exposure":
            z = exposure
        elif nuisance == "noise":
            z = noise
        label = score_to_class(z, 5)

        targets = {
            "bones": mask,
            "kl_grade": np.asarray(label, dtype=np.int64),
            "jsw": np.asarray([measured["jsw_medial"], measured["jsw_lateral"]], dtype=np.float32),
            "landmarks": self.landmarks(mask),
        }
        latents = {
            "jsw_medial_target": jsw_med_target,
            "jsw_lateral_target": jsw_lat_target,
            "jsw_medial": measured["jsw_medial"],
            "jsw_lateral": measured["jsw_lateral"],
            "medial_jsn_mm": jsn,
            "tilt_deg": float(np.degrees(tilt)),
            "sclerosis": sclerosis,
            "exposure": exposure,
            "noise": noise,
            "label_score": z,
        }
        return img[None].astype(np.float32), targets, latents

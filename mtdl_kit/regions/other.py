"""Other: skin-lesion dermoscopy with lesion segmentation, melanoma, an ABCD-like score and the diameter.

Task set modelled on the review's "other" networks (Zhao et al., Comput. Biol. Med. 2023): the
mutual-bootstrapping DCNN for joint skin-lesion segmentation and melanoma classification
(MB-DCNN, Xie et al., IEEE TMI 2020, arXiv:1903.03313, trained on ISIC 2017 and PH2), the hybrid
breast-tumour segmentation + classification network of Zhou Y. et al. (MedIA 2021) and the
cascaded edge-map -> segmentation -> identification ToothNet (Cui et al., CVPR 2019). The real
data it imitates is the ISIC 2017 challenge (Codella et al., ISBI 2018) with the dermoscopy
atlas of Argenziano et al. (2000) as the clinical reference.

The ABCD rule of dermoscopy (Stolz et al., Eur. J. Dermatol. 4:521-527, 1994; Nachbar F. et al.,
J. Am. Acad. Dermatol. 30:551-559, 1994) gives the total dermoscopy score TDS = 1.3 A + 0.1 B +
0.5 C + 0.5 D, where D counts *differential structures*; TDS > 5.45 is highly suspicious for
melanoma, 4.75-5.45 suspicious. This phantom measures A, B and C in Stolz's sense (approximately,
below) but replaces D by a diameter score D' -- so the ``abcd`` target is an ABCD-*like* score,
1.3 A + 0.1 B + 0.5 C + 0.5 D', not Stolz's TDS, and the TDS cut-offs are borrowed. How each
criterion is obtained here (honestly, phantom-style):

* **A, asymmetry (0-2), measured on the mask.** Stolz: the number of two perpendicular axes,
  placed to give the lowest score, about which the lesion is asymmetric in contour, colours or
  structures. Here: contour only. For 12 orientations of an axis pair through the mask centroid
  the mask is mirrored about each axis; an axis counts as asymmetric when more than
  :data:`A_TOLERANCE` (+ a digitisation allowance) of the lesion's pixels mirror outside it.
  A is the minimum count over the orientations.
* **B, border (0-8), measured on the mask.** Stolz: the number of eighths of the periphery with an
  abrupt cut-off of the pigment pattern. A mask cannot see pigment cut-off, so here B counts the
  eighths (around the centroid) whose contour is *notched*: the radial profile r(theta) of the
  mask's boundary minus its smooth part (Fourier harmonics 0-4) has an RMS above
  :data:`B_TOLERANCE` of the mean radius (+ a digitisation allowance). The renderer makes the
  notched eighths' edges abrupt and lets the smooth eighths fade into the skin, so the image also
  shows Stolz's cut-off where B counts it.
* **C, colours (1-6), from the colour latent (NOT measured on the mask).** Stolz: how many of
  white, red, light brown, dark brown, blue-grey and black are present. The generator paints
  exactly that many colour clusters into the lesion; C is the number painted.
* **D' (1-5), a diameter score measured on the mask -- not Stolz's D.** Stolz's D counts
  *differential structures* (pigment network, structureless areas, branched streaks, dots,
  globules; Stolz et al. 1994, Nachbar et al. 1994); this phantom does not score them. D' is the
  **Diameter** of the clinical ABCD mnemonic (Friedman et al., CA Cancer J. Clin. 35:130-151,
  1985), put on a 1-5 range so that it can stand in D's slot: 1 + the number of the cut-offs 4,
  6, 8, 10 mm that the maximum Feret diameter exceeds (so "> 6 mm" starts at D' = 3). The
  ``diameter`` task is that diameter in mm: the D of the clinical mnemonic, not the D of the TDS.

Coupling: at relatedness 1 the melanoma label follows the *mask-only* part of the ABCD-like
score, ``shape_score = 1.3 A + 0.1 B + 0.5 D' > 3.95`` (3.95 = 5.45 - 0.5 * 3: Stolz's cut-off for a
lesion with three colours, borrowed). At relatedness 0 it follows colour variegation (the latent that sets
the number of colours, and with blue-grey plus white a blue-white veil), visible in the image but
invisible to the lesion mask. The ``abcd`` target mixes both (C comes from the colour latent), so
it is not a mask measurement; the ``diameter`` target is (``measured_regression``).

Nuisances: ``illumination`` (dermoscope brightness and colour temperature) and ``hair`` (hair
density); both are always visible and the lesion mask ignores them (hair over the lesion is lesion).

Appearance: pinkish-beige skin with fBm texture, erythema and faint skin furrows; a circular
dermoscope field with dark corners and vignetting; a star-shaped lesion
r(theta) = R (1 + sum_k a_k cos(k theta + phi_k) + lobe) (as ``_draw.radial_shape``, evaluated via
an angular look-up table): the odd harmonic k = 3 and a von Mises lobe -> asymmetry, k = 1-2 ->
shift and elongation (symmetric), harmonics 6-20 switched on in some eighths -> notched border,
R -> diameter. Inside: Stolz colour clusters (quantiles of a smooth field, darker colours
central), a pigment network (the zero-crossing labyrinth of band-pass noise, cells 0.5-0.8 mm)
and dots/globules; over it dark hair strands (quadratic Bezier curves) and immersion-gel air
bubbles with specular spots.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

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

#: Stolz et al. 1994: TDS above this is "highly suspicious for melanoma".
TDS_MELANOMA = 5.45
#: Mask-only threshold: TDS_MELANOMA minus the colour term of a three-colour lesion (0.5 * 3).
SHAPE_THRESHOLD = TDS_MELANOMA - 0.5 * 3
#: Diameter cut-offs (mm) for the diameter score D' = 1..5 (not Stolz's D, differential structures).
D_CUTOFFS_MM = (4.0, 6.0, 8.0, 10.0)
#: Fraction of lesion pixels mirrored outside the lesion above which an axis is asymmetric.
A_TOLERANCE = 0.05
#: Relative RMS of the high-frequency border profile above which an eighth is notched.
B_TOLERANCE = 0.02
#: Digitisation allowance for B, in pixels of boundary jitter (divided by the mean radius in pixels).
B_ALLOW = 0.25
#: Stolz's six dermoscopic colours, RGB in [0, 1] under neutral illumination (periphery -> centre).
COLOURS: dict[str, tuple[float, float, float]] = {
    "light brown": (0.66, 0.45, 0.31),
    "red": (0.76, 0.33, 0.33),
    "dark brown": (0.38, 0.22, 0.14),
    "white": (0.80, 0.78, 0.80),
    "blue-grey": (0.33, 0.37, 0.46),
    "black": (0.10, 0.08, 0.08),
}
_PALETTE = np.array(list(COLOURS.values()), dtype=np.float32)
_N_TABLE = 1024  # angular samples of the lesion boundary r(theta)
_N_ORIENT = 12  # axis-pair orientations tried for A (7.5 degree steps)


@register_region
class Skin(Region):
    """Dermoscopy phantom: lesion mask, melanoma label, ABCD-like score (diameter in Stolz's D slot), diameter."""

    name = "other"
    title = "Other — skin lesion dermoscopy"
    modality = "dermoscopy (RGB)"
    in_channels = 3
    field_of_view_mm = 20.0
    tasks = (
        TaskSpec(
            "lesion",
            "segmentation",
            2,
            "Pigmented skin lesion vs surrounding skin (hair and bubbles belong to what lies beneath).",
            class_names=("background", "lesion"),
        ),
        TaskSpec(
            "melanoma",
            "classification",
            2,
            "Melanoma vs benign naevus.",
            class_names=("benign naevus", "melanoma"),
        ),
        TaskSpec(
            "abcd",
            "regression",
            1,
            "ABCD-like dermoscopy score 1.3A + 0.1B + 0.5C + 0.5D' (1-8.9), D' a diameter score 1-5 in the "
            "slot of Stolz's D (differential structures; Stolz et al. 1994), so not Stolz's TDS; its cut-offs "
            "(> 5.45 highly suspicious) are borrowed. The output keeps its stored name 'TDS'.",
            output_names=("TDS",),
        ),
        TaskSpec(
            "diameter",
            "regression",
            1,
            "Maximum Feret diameter of the lesion mask (> 6 mm is suspicious): the D of the clinical ABCD "
            "mnemonic (Friedman et al. 1985), not the D of the dermoscopic TDS (differential structures).",
            output_names=("diameter",),
            units="mm",
        ),
    )
    coupling = Coupling(
        segmentation="lesion",
        classification="melanoma",
        anatomy_latent="shape_score",
        other_latent="colour_variegation",
        rule="melanoma <=> mask shape score 1.3·A + 0.1·B + 0.5·D' > 3.95 (D' = diameter score, not Stolz's D; "
        "TDS cut-off 5.45 minus 0.5·3 colours)",
    )
    nuisances = ("illumination", "hair")
    references = (
        Reference(
            "MB-DCNN (Xie Y. 2020)",
            "Xie Y, Zhang J, Xia Y, Shen C. A mutual bootstrapping model for automated skin lesion "
            "segmentation and classification. IEEE Trans. Med. Imaging 39(7):2482-2493 (2020). arXiv:1903.03313.",
            "hybrid",
            "coarse lesion segmentation -> mask-guided melanoma classification -> enhanced segmentation",
        ),
        Reference(
            "Zhou Y. 2021",
            "Zhou Y, Chen H, Li Y, Liu Q, Xu X, Wang S, Yap PT, Shen D. Multi-task learning for segmentation "
            "and classification of tumors in 3D automated breast ultrasound images. Med. Image Anal. 70:101918 "
            "(2021).",
            "hybrid",
            "breast-tumour segmentation + benign/malignant classification",
        ),
        Reference(
            "ToothNet (Cui Z. 2019)",
            "Cui Z, Li C, Wang W. ToothNet: automatic tooth instance segmentation and identification from "
            "cone beam CT images. CVPR 2019, 6368-6377.",
            "cascaded",
            "edge map -> tooth instance segmentation + identification",
        ),
    )

    measured_regression = {"diameter": (("diameter_mm",), 1e-4)}
    composite_regression = {"abcd": {"asymmetry": 1.3, "border": 0.1, "colours": 0.5, "diameter_score": 0.5}}

    def anatomy_score(self, value: float) -> float:
        return normalise_at_threshold(value, 0.5, SHAPE_THRESHOLD, 5.9)

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        return np.array([1.2 if task.name == "abcd" else 2.5], dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        return np.array([4.4 if task.name == "abcd" else 8.0], dtype=np.float32)

    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """A and B of the ABCD rule, the diameter score D', the mask shape score and the maximum Feret diameter.

        See the module docstring for the definitions. Works on any (predicted) mask: an empty
        mask gives A = B = 0, D' = 1 and diameter 0.

        Returns:
            ``asymmetry`` (A, 0-2), ``border`` (B, 0-8), ``diameter_score`` (D', 1-5; not Stolz's D),
            ``shape_score`` (1.3 A + 0.1 B + 0.5 D'), ``diameter_mm``, ``asymmetry_index`` (mean
            mirrored-outside fraction at the best orientation) and ``area_mm2``.
        """
        return _measure(mask, spacing_mm)

    def _generate(self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None):
        spacing = self.spacing_mm(size)
        px = 2.0 / size  # one pixel in normalised units
        severity = float(rng.random())  # drives asymmetry, notched border and diameter
        variegation = float(rng.random())  # drives the number of colours (independent of the shape)
        illumination = float(rng.random())
        hair = float(rng.random())

        # --- lesion geometry: r(theta) = R (1 + low harmonics + envelope * notch harmonics) -------
        diam_mm = float(np.clip(rng.normal(2.5 + 8.0 * severity, 1.5), 2.5, 12.0))
        radius = diam_mm / self.field_of_view_mm  # normalised units (1 unit = FOV / 2)
        cy, cx = rng.normal(0.0, 0.05, 2)
        amps = np.zeros(3, dtype=np.float32)
        amps[0] = rng.uniform(0.0, 0.08)  # k=1: mostly a shift of the outline (nearly symmetric)
        amps[1] = rng.uniform(0.0, 0.14)  # k=2: elongation (symmetric about both axes)
        amps[2] = 0.16 * severity * rng.uniform(0.3, 1.0)  # k=3: trefoil (asymmetric about >= 1 axis)
        phases = rng.uniform(-np.pi, np.pi, 3)
        theta_tab = np.linspace(-np.pi, np.pi, _N_TABLE, endpoint=False, dtype=np.float32)
        k = np.arange(1, 4, dtype=np.float32)[:, None]
        low = (amps[:, None] * np.cos(k * theta_tab + phases[:, None])).sum(0)
        # A lobe (von Mises bump, ~30 degrees wide) breaks the symmetry about the axes it is off.
        lobe = 0.45 * severity * float(rng.uniform(0.0, 1.0))
        low = low + lobe * np.exp(4.0 * (np.cos(theta_tab - rng.uniform(-np.pi, np.pi)) - 1.0))
        # Notches: harmonics 6-20 switched on in some eighths (their count grows with severity).
        p_notch = float(np.clip(1.2 * severity - 0.15 + rng.normal(0.0, 0.1), 0.0, 1.0))
        notched = (rng.random(8) < p_notch).astype(np.float32)
        seg_angle = np.linspace(-np.pi, np.pi, 8, endpoint=False) + rng.uniform(0, np.pi / 4)
        env = np.interp(theta_tab, seg_angle + np.pi / 8, notched, period=2 * np.pi).astype(np.float32)
        env = np.clip((env - 0.5) * 3.0 + 0.5, 0.0, 1.0)
        kh = rng.integers(6, 21, 5).astype(np.float32)[:, None]
        ah = rng.uniform(0.02, 0.045, 5).astype(np.float32)[:, None]
        high = (ah * np.cos(kh * theta_tab + rng.uniform(-np.pi, np.pi, 5)[:, None])).sum(0)
        boundary_tab = (radius * (1.0 + low + env * high)).astype(np.float32)
        reach = float(boundary_tab.max()) + float(np.hypot(cy, cx))
        if reach > 0.85:  # keep the lesion inside the dermoscope field
            boundary_tab *= np.float32(0.85 / reach)

        r, theta = d.polar(size, float(cy), float(cx))
        pos = (theta + np.pi) * (_N_TABLE / (2 * np.pi))
        i0 = np.floor(pos).astype(np.int64) % _N_TABLE
        frac = pos - np.floor(pos)
        i1 = (i0 + 1) % _N_TABLE
        b_pix = boundary_tab[i0] * (1 - frac) + boundary_tab[i1] * frac
        env_pix = env[i0]
        mask_b = r <= b_pix
        mask = mask_b.astype(np.int64)

        measured = _measure(mask, spacing)
        shape_score = measured["shape_score"]

        # --- colours (C): how many of Stolz's six colours are painted into the lesion --------------
        n_col = min(1 + int(variegation * 6), 6)
        if n_col == 1:
            chosen = [int(rng.integers(0, 2)) * 2]  # light brown or dark brown
        else:
            chosen = [0, 2, *rng.permutation([1, 3, 4, 5])[: n_col - 2].tolist()]
        chosen.sort()  # periphery -> centre order of COLOURS
        veil = bool(3 in chosen and 4 in chosen)  # blue-white veil: blue-grey under a white haze

        yy, xx = d.grid(size)
        tex = d.fbm(rng, size, beta=2.2)
        clus_f = d.fbm(rng, size, beta=3.8)
        low_f = clus_f[::-1].T  # the same smooth field, transposed and flipped: erythema, network fade

        # Skin: pinkish beige, fBm texture, erythema, faint criss-cross furrows.
        skin_col = np.array([0.87, 0.67, 0.58], dtype=np.float32) * np.float32(rng.uniform(0.9, 1.04))
        skin = skin_col[:, None, None] * (1.0 + 0.035 * tex)[None]
        ery = np.clip(0.5 + 0.5 * low_f, 0.0, 1.0) * float(rng.uniform(0.03, 0.12))
        skin = skin * np.stack([1.0 + 0.3 * ery, 1.0 - ery, 1.0 - 0.8 * ery])
        fa = float(rng.uniform(0, np.pi))
        fk = float(np.pi / rng.uniform(0.08, 0.14))
        furrow = np.maximum(
            _pow16(np.cos((float(np.cos(fa)) * xx + float(np.sin(fa)) * yy + 0.02 * low_f) * fk)),
            _pow16(np.cos((float(np.cos(fa + 1.2)) * xx + float(np.sin(fa + 1.2)) * yy + 0.02 * tex) * fk)),
        )
        skin = skin * (1.0 - 0.05 * furrow)[None]

        # Lesion colour clusters: quantiles of a smooth field that is higher towards the centre.
        rel = r / np.maximum(b_pix, 1e-6)
        field = clus_f - 1.6 * rel
        lut = _PALETTE[np.array(chosen)]
        if veil:
            lut = lut.copy()
            lut[chosen.index(4)] = (0.55, 0.60, 0.70)
        is_brown = np.isin(np.array(chosen), [0, 2]).astype(np.float32)
        fl = field[mask_b]
        if fl.size > 1 and n_col > 1:
            # Cluster i covers the field's quantiles between its cut-offs (>= 12% of the lesion each);
            # colours change over a short ramp around each cut-off (no hard pixel edges, no blur).
            w = rng.dirichlet(np.full(n_col, 3.0))
            w = 0.12 + (1 - 0.12 * n_col) * w
            cuts = np.quantile(fl, np.cumsum(w)[:-1])
            ramp = max(min(0.12, 0.4 * float(np.diff(cuts).min(initial=1.0))), 1e-4)
            knots = np.repeat(cuts, 2) + np.tile([-ramp, ramp], n_col - 1)
            knot_val = np.concatenate([lut[:1], np.repeat(lut[1:-1], 2, axis=0), lut[-1:]], axis=0)
            knot_brown = np.concatenate([is_brown[:1], np.repeat(is_brown[1:-1], 2), is_brown[-1:]])
            les = np.stack([np.interp(field, knots, knot_val[:, c]).astype(np.float32) for c in range(3)])
            brown = np.interp(field, knots, knot_brown).astype(np.float32)
        else:
            les = np.broadcast_to(lut[0][:, None, None], (3, size, size))
            brown = np.full((size, size), is_brown[0], dtype=np.float32)
        les = les * (1.0 + 0.05 * tex + 0.12 * low_f - 0.12 * np.clip(1.0 - rel, 0.0, 1.0))[None]

        # Pigment network in the brown clusters: the zero-crossing labyrinth of band-pass noise whose
        # cells are ~0.5-0.8 mm across (faded out when the mesh is under ~3 pixels).
        if rng.random() < 0.7:
            cell_px = float(rng.uniform(0.5, 0.8)) / spacing
            strength = 0.4 * float(np.clip((cell_px - 2.5) / 2.0, 0.0, 1.0))
            net = _bandpass(rng, size, 1.0 / cell_px)
            lines = np.exp(-((net / 0.45) ** 2))
            fade = np.clip(1.6 - 1.4 * rel, 0.0, 1.0) * np.clip(0.6 + 0.5 * low_f, 0.0, 1.0)
            les = les * (1.0 - strength * lines * brown * fade)[None]

        # Dots and globules, painted in the darkest colour already present (black or dark brown), so
        # they add structure but no extra colour to C.
        n_dots = int(rng.integers(0, 16))
        idx = np.flatnonzero(mask_b)
        if n_dots and idx.size and (5 in chosen or 2 in chosen):
            at = rng.choice(idx, size=n_dots)
            dots = 0.85 * np.clip(_splat(size, at // size, at % size, max(0.12 / spacing, 0.6)), 0.0, 1.0)
            dot_col = _PALETTE[5 if 5 in chosen else 2]
            les = les * (1.0 - dots)[None] + dot_col[:, None, None] * dots[None]

        # Alpha: abrupt edge in notched eighths (Stolz's B cut-off), gradual fade elsewhere.
        width = (1 - env_pix) * 0.035 + env_pix * 0.6 * px
        alpha = np.clip(0.5 + (b_pix - r) / (2 * width), 0.0, 1.0)
        alpha = alpha * alpha * (3 - 2 * alpha)
        img = skin * (1 - alpha)[None] + les * alpha[None]

        # Hair: dark quadratic Bezier strands drawn as 1-px centrelines then blurred to their width.
        n_hair = round(hair * 10)
        if n_hair:
            hair_map = np.zeros((size, size), dtype=np.float32)
            p0 = rng.uniform(-1.1, 1.1, (n_hair, 1, 2))
            ang = rng.uniform(0, 2 * np.pi, (n_hair, 1))
            length = rng.uniform(0.6, 2.0, (n_hair, 1, 1))
            p2 = p0 + length * np.stack([np.sin(ang), np.cos(ang)], axis=-1)
            p1 = 0.5 * (p0 + p2) + rng.normal(0.0, 1.0, (n_hair, 1, 2)) * (0.25 * length)
            opacity = rng.uniform(0.6, 1.0, n_hair)
            t = np.linspace(0.0, 1.0, int(2.0 / px * 2) + 2)[None, :, None]
            pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t * t * p2  # (hair, point, yx)
            ij = np.rint((pts + 1.0) / px - 0.5).astype(np.int64)
            ok = ((ij >= 0) & (ij < size)).all(-1)
            hair_map[ij[ok][:, 0], ij[ok][:, 1]] = np.broadcast_to(opacity[:, None], ok.shape)[ok]
            # Terminal hairs are ~0.08 mm thick; a thinner-than-a-pixel hair darkens its pixels by its
            # width fraction, floored at 0.6 so that hair stays visible at 32-64 pixels.
            w_px = 0.08 / spacing
            s_h = max(0.5, w_px / 2.5)
            cover = max(min(w_px * 1.1, 1.0), 0.6)
            spread = ndimage.gaussian_filter(hair_map, s_h, truncate=2.5)
            hair_a = np.clip(spread * (np.sqrt(2 * np.pi) * s_h * cover), 0.0, 0.92)
            hair_col = np.array([0.12, 0.08, 0.06], dtype=np.float32)
            img = img * (1 - hair_a)[None] + hair_col[:, None, None] * hair_a[None]

        # Immersion-gel air bubbles: thin bright rim with a dark inner edge and a specular dot.
        for _ in range(int(rng.integers(0, 3))):
            br = float(rng.uniform(0.03, 0.12))
            by, bx = rng.uniform(-0.75, 0.75, 2)
            y0, y1 = _span(by, br * 1.3, size)
            x0, x1 = _span(bx, br * 1.3, size)
            if y1 <= y0 or x1 <= x0:
                continue
            rr = np.sqrt((yy[y0:y1, x0:x1] - by) ** 2 + (xx[y0:y1, x0:x1] - bx) ** 2)
            wr = max(1.2 * px, 0.012)
            rim = np.exp(-(((rr - br) / wr) ** 2))
            inner = np.exp(-(((rr - br + 1.5 * wr) / wr) ** 2))
            spec = np.exp(
                -((yy[y0:y1, x0:x1] - by + 0.5 * br) ** 2 + (xx[y0:y1, x0:x1] - bx + 0.4 * br) ** 2)
                / (2 * (0.15 * br + px) ** 2)
            )
            patch = img[:, y0:y1, x0:x1]
            patch *= (1.0 - 0.25 * inner)[None]
            patch += (0.45 * rim + 0.8 * spec)[None] * (1.0 - patch)

        # Dermoscope: illumination gain and colour temperature, vignetting, circular field.
        temp = (illumination - 0.5) * 0.16  # > 0: cooler (bluer) light
        tint = np.array([1.0 - temp, 1.0, 1.0 + temp], dtype=np.float32)
        gain = 0.75 + 0.4 * illumination
        rho = np.sqrt(yy * yy + xx * xx)
        field_r = float(rng.uniform(1.0, 1.15))
        vignette = 1.0 - float(rng.uniform(0.12, 0.25)) * (rho / field_r) ** 2
        aperture = np.clip((field_r - rho) / (3 * px) + 0.5, 0.0, 1.0)
        img = img * (tint[:, None, None] * (gain * vignette * aperture)[None])
        img = img + 0.02 * (1 - aperture)[None]
        img = img + (rng.random(img.shape, dtype=np.float32) - np.float32(0.5)) * np.float32(0.035)  # sd 0.01

        # --- labels ------------------------------------------------------------------------------
        tds = 1.3 * measured["asymmetry"] + 0.1 * measured["border"] + 0.5 * n_col + 0.5 * measured["diameter_score"]
        u_anatomy = self.anatomy_score(shape_score)
        z = coupled_score(relatedness, u_anatomy, variegation)
        if nuisance == "illumination":
            z = illumination
        elif nuisance == "hair":
            z = hair
        label = score_to_class(z, 2)

        targets = {
            "lesion": mask,
            "melanoma": np.asarray(label, dtype=np.int64),
            "abcd": np.asarray([tds], dtype=np.float32),
            "diameter": np.asarray([measured["diameter_mm"]], dtype=np.float32),
        }
        latents = {
            "severity": severity,
            "shape_score": shape_score,
            "asymmetry": measured["asymmetry"],
            "asymmetry_index": measured["asymmetry_index"],
            "border": measured["border"],
            "colours": float(n_col),
            "diameter_score": measured["diameter_score"],
            "diameter_mm": measured["diameter_mm"],
            "tds": tds,
            "colour_variegation": variegation,
            "blue_white_veil": float(veil),
            "notched_eighths_drawn": float(notched.sum()),
            "illumination": illumination,
            "hair": hair,
            "hair_count": float(n_hair),
            "label_score": z,
        }
        return img, targets, latents


def _bandpass(rng: np.random.Generator, size: int, f0: float) -> np.ndarray:
    """Unit-std noise band-limited around ``f0`` cycles per pixel (ring of relative width ~0.5)."""
    fr = d._radial_frequency(size)
    gain = np.exp(-0.5 * ((fr - f0) / (0.25 * f0)) ** 2).astype(np.float32)
    spec = (
        rng.standard_normal(fr.shape, dtype=np.float32) + 1j * rng.standard_normal(fr.shape, dtype=np.float32)
    ) * gain
    out = np.fft.irfft2(spec, s=(size, size)).astype(np.float32)
    std = float(out.std())
    return out / std if std > 0 else out


def _splat(size: int, y: np.ndarray, x: np.ndarray, sigma: float) -> np.ndarray:
    """Sum of unit-peak Gaussian blobs at pixel positions (y, x), drawn in local stencils."""
    rad = int(np.ceil(2.5 * sigma))
    off = np.arange(-rad, rad + 1)
    iy = (np.asarray(y)[:, None] + off)[:, :, None]
    ix = (np.asarray(x)[:, None] + off)[:, None, :]
    g = np.exp(-(off[:, None] ** 2 + off[None, :] ** 2) / (2.0 * sigma * sigma))
    ok = (iy >= 0) & (iy < size) & (ix >= 0) & (ix < size)
    flat = np.broadcast_to(iy * size + ix, ok.shape)[ok]
    weights = np.broadcast_to(g, ok.shape)[ok]
    return np.bincount(flat, weights=weights, minlength=size * size).reshape(size, size).astype(np.float32)


def _pow16(x: np.ndarray) -> np.ndarray:
    """x ** 16 by repeated squaring (much faster than ``np.power``)."""
    x = x * x
    x = x * x
    x = x * x
    return x * x


def _span(c: float, half: float, size: int) -> tuple[int, int]:
    """Pixel index range [lo, hi) covering normalised interval [c - half, c + half]."""
    lo = int(np.floor((c - half + 1.0) * size / 2.0))
    hi = int(np.ceil((c + half + 1.0) * size / 2.0)) + 1
    return max(lo, 0), min(hi, size)


def _measure(mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
    """ABCD mask measurements (see :meth:`Skin.measure` and the module docstring)."""
    m = np.asarray(mask) >= 1
    ys, xs = np.nonzero(m)
    n = ys.size
    if n < 3:
        out = {
            "asymmetry": 0.0,
            "border": 0.0,
            "diameter_score": 1.0,
            "shape_score": 0.5,
            "diameter_mm": float(n) * spacing_mm,
            "asymmetry_index": 0.0,
            "area_mm2": float(n) * spacing_mm**2,
        }
        return out
    cy, cx = float(ys.mean()), float(xs.mean())

    # Boundary pixels: in the mask with a 4-neighbour outside (image border counts as outside).
    pad = np.pad(m, 1)
    interior = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    by, bx = np.nonzero(m & ~interior)
    byf, bxf = by.astype(np.float64) - cy, bx.astype(np.float64) - cx

    # D': maximum Feret diameter over 36 directions (+1 pixel for the pixel extent).
    ang = np.arange(36) * (np.pi / 36)
    proj = byf[:, None] * np.sin(ang) + bxf[:, None] * np.cos(ang)
    feret = float((proj.max(0) - proj.min(0)).max()) + 1.0
    diameter_mm = feret * spacing_mm
    d_score = 1.0 + float(sum(diameter_mm > c for c in D_CUTOFFS_MM))

    # A: mirror about the two axes of 12 orientations; count asymmetric axes, keep the minimum.
    step = max(1, n // 1000)
    py, pxx = (ys[::step] - cy).astype(np.float32), (xs[::step] - cx).astype(np.float32)
    equiv_r = np.sqrt(n / np.pi)
    tol_a = A_TOLERANCE + 0.2 / equiv_r  # digitisation allowance: boundary pixels mirror badly
    phi = np.arange(_N_ORIENT) * (np.pi / 2 / _N_ORIENT)
    uy, ux = np.sin(phi)[:, None].astype(np.float32), np.cos(phi)[:, None].astype(np.float32)
    along = py * uy + pxx * ux  # (orient, N) coordinate along the axis
    across = -py * ux + pxx * uy  # coordinate perpendicular to it
    h, w = m.shape

    flat = pad.ravel()  # the mask with a one-pixel False border: clipped lookups land outside

    def outside(a: np.ndarray, c: np.ndarray) -> np.ndarray:
        yy = np.clip(np.rint(cy + a * uy - c * ux), -1, h).astype(np.intp) + 1
        xx = np.clip(np.rint(cx + a * ux + c * uy), -1, w).astype(np.intp) + 1
        return 1.0 - flat[yy * (w + 2) + xx].mean(1)

    out_u = outside(along, -across)  # mirrored about the axis
    out_v = outside(-along, across)  # mirrored about the perpendicular axis
    counts = (out_u > tol_a).astype(int) + (out_v > tol_a).astype(int)
    best = int(np.argmin(counts * 10.0 + 0.5 * (out_u + out_v)))
    asym = float(counts[best])
    asym_index = float(0.5 * (out_u[best] + out_v[best]))

    # B: radial profile of the boundary around the centroid; high-frequency RMS per eighth.
    per = int(np.clip(by.size // 16, 2, 8))
    nb = 8 * per
    rad = np.hypot(byf, bxf)
    bins = (np.floor((np.arctan2(byf, bxf) + np.pi) / (2 * np.pi) * nb).astype(np.int64)) % nb
    prof = np.full(nb, -1.0)
    np.maximum.at(prof, bins, rad)
    have = prof >= 0
    centres = (np.arange(nb) + 0.5) * (2 * np.pi / nb)
    if not have.all():
        prof = np.interp(centres, centres[have], prof[have], period=2 * np.pi)
    spec = np.fft.rfft(prof)
    spec[5:] = 0.0
    resid = prof - np.fft.irfft(spec, n=nb)
    mean_r = max(float(prof.mean()), 1.0)
    rms = np.sqrt((resid.reshape(8, per) ** 2).mean(1)) / mean_r
    tol_b = B_TOLERANCE + B_ALLOW / mean_r
    border = float((rms > tol_b).sum())

    shape = 1.3 * asym + 0.1 * border + 0.5 * d_score
    out = {
        "asymmetry": asym,
        "border": border,
        "diameter_score": d_score,
        "shape_score": float(shape),
        "diameter_mm": diameter_mm,
        "asymmetry_index": asym_index,
        "area_mm2": float(n) * spacing_mm**2,
    }
    return out

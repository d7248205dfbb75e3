"""Pathology: H&E-stained tissue tile with nuclei segmentation (interior + contour), nuclear size and count.

Task set modelled on the review's pathology networks (Zhao et al., Comput. Biol. Med. 2023):
nuclei segmentation with an extra contour output that separates touching nuclei, as in DCAN
(Chen H. et al., MedIA 2017), CIA-Net (Zhou Y. et al., IPMI 2019) and HoVer-Net (Graham S. et al.,
MedIA 2019), here as one exclusive 3-class map (background, nucleus interior, nucleus contour),
plus a tile-level nuclear-size score and the nuclei count.

Appearance (brightfield microscopy, Beer-Lambert law): nuclei are random-Fourier polygons (an
ellipse whose radius is modulated by harmonics 2-4) drawn into a haematoxylin optical-density
map; stroma is wavy collagen (fBm-warped fibres) in an eosin map; epithelial nests have
amphophilic cytoplasm, optionally around a gland lumen lined by radially oriented nuclei; the
stroma holds spindle-shaped fibroblast nuclei and a few dark round lymphocytes. Optical density
is converted to RGB by colour deconvolution run backwards (Ruifrok & Johnston, Anal. Quant. Cytol.
Histol. 23:291-299, 2001): ``I = 10^(-(h * H + e * E))`` with stain vectors H and E between the
Macenko et al. reference vectors (ISBI 2009) and Ruifrok & Johnston's (``skimage.color.hed2rgb``),
a direct numpy version that is much faster than ``hed2rgb``. Nuclei are drawn all at once on small
local patches; where two overlap, each pixel goes to the nucleus it lies deeper inside, so crowded
nuclei flatten against each other and the contour class runs between them.

A 128 px tile spans 64 um (0.5 um per pixel, a 20x objective): ``field_of_view_mm = 0.064``.

Clinical rule at relatedness 1: a three-level nuclear-size score from the mean nuclear area
measured on the mask (nuclear pixels / number of nuclei): low < 45 um^2 <= intermediate < 75 um^2
<= high, i.e. equivalent nuclear diameters of about 7.6 um and 9.8 um against a normal epithelial
nucleus of about 6-7 um, following the size wording of the nuclear-pleomorphism score (nuclei
close to normal size, moderately enlarged, markedly enlarged). This is not the Nottingham
histological grade. That grade (Elston C.W. & Ellis I.O., Histopathology 19:403-410, 1991) adds
three scores of 1-3 -- tubule formation, nuclear pleomorphism and mitotic count -- and nuclear
pleomorphism itself weighs the variation of nuclear size and shape, chromatin and nucleoli, not
only the mean size. Mean nuclear area is one part of one of the three components. The task and
class names (``grade``: ``low``, ``intermediate``, ``high``) are kept because stored models carry them;
read them as small, moderately enlarged and markedly enlarged nuclei. The score is ordinal, so
quadratic weighted Cohen's kappa is reported beside the ROC-AUC. At relatedness 0 the score
follows hyperchromasia instead (how dark the nuclei are stained), visible in the image but not in
the mask.

Nuisance: ``stain``, the H&E protocol / scanner colour of the whole tile. Stain variation between
laboratories, protocols and scanners is a *domain shift*: a model trained on slides of one
appearance loses accuracy on slides of another (Stacke K. et al., "Measuring domain shift for deep
learning in histopathology", IEEE J. Biomed. Health Inform. 25:325-336, 2021; Tellez D. et al.,
Med. Image Anal. 58:101544, 2019, on stain augmentation and normalisation against it). Here every
split draws the stain from the same range, so the phantom shows stain as a within-distribution
nuisance, not a train/test shift; with ``nuisance="stain"`` the label follows the stain, a shortcut
that the segmentation must ignore -- the recipe for negative transfer. A held-out stain range
(a true domain shift) is not modelled.
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
    register_region,
    score_to_class,
)

AREA_THRESHOLDS_UM2 = (45.0, 75.0)
#: anchors of the piecewise-linear nuclear-size score: area (um^2) -> score; the thresholds map to 1/3 and 2/3.
_AREA_ANCHORS = (15.0, AREA_THRESHOLDS_UM2[0], AREA_THRESHOLDS_UM2[1], 120.0)
_SCORE_ANCHORS = (0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0)

#: H&E optical-density vectors of two staining protocols; the ``stain`` nuisance interpolates between
#: them. Protocol 0: the Macenko et al. reference vectors (ISBI 2009), a pink eosin; protocol 1: close
#: to Ruifrok & Johnston's (``skimage.color.rgb_from_hed``), a bluer haematoxylin and a magenta eosin.
_H_VEC = np.array([0.5626, 0.7201, 0.4062], dtype=np.float32)
_E_VEC = np.array([0.2159, 0.8012, 0.5581], dtype=np.float32)
_H_VEC_ALT = np.array([0.65, 0.70, 0.29], dtype=np.float32)
_E_VEC_ALT = np.array([0.10, 0.95, 0.30], dtype=np.float32)

_STRUCT8 = np.ones((3, 3), dtype=bool)


def rasterise_nuclei(
    size: int,
    cy: np.ndarray,
    cx: np.ndarray,
    semi_a: np.ndarray,
    semi_b: np.ndarray,
    angle: np.ndarray,
    harmonics: np.ndarray,
    phases: np.ndarray,
) -> np.ndarray:
    """Instance label image (int32 (size, size), 0 = background, i + 1 = nucleus i) of polygon nuclei.

    Nucleus i is the star-shaped region ``rho <= 1`` with ``rho = rho_ellipse / (1 + sum_k h_k cos(k phi + p_k))``
    (k = 2, 3, ...; ``rho_ellipse`` is the normalised elliptical radius with semi-axes ``semi_a`` along
    ``angle`` and ``semi_b`` across it). All nuclei are evaluated at once on equal local patches; where
    nuclei overlap a pixel goes to the nucleus with the smallest ``rho`` (touching nuclei flatten against
    each other, like crowded nuclei). Coordinates and semi-axes are in pixels.
    """
    n = len(cy)
    if n == 0:
        return np.zeros((size, size), dtype=np.int32)
    reach = np.maximum(semi_a, semi_b) * (1.0 + np.abs(harmonics).sum(axis=1))
    half_i = np.ceil(reach).astype(np.int64) + 1
    pad = 2 * int(half_i.max())  # nuclei centred up to ``half`` pixels outside the tile still reach into it
    m = size + 2 * pad
    best = np.ones((m, m), dtype=np.float32)
    lab = np.zeros((m, m), dtype=np.int32)
    iy0, ix0 = np.floor(cy).astype(np.int64), np.floor(cx).astype(np.int64)
    # Nuclei of similar reach share one patch size (spindles and lymphocytes need smaller patches).
    group = np.ceil(half_i / 4.0).astype(np.int64)
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        half = int(half_i[idx].max())
        p = 2 * half + 1
        off = np.arange(-half, half + 1, dtype=np.float32)
        dy = (iy0[idx] - cy[idx] + 0.5).astype(np.float32)[:, None, None] + off[None, :, None]
        dx = (ix0[idx] - cx[idx] + 0.5).astype(np.float32)[:, None, None] + off[None, None, :]
        c = np.cos(angle[idx]).astype(np.float32)[:, None, None]
        s = np.sin(angle[idx]).astype(np.float32)[:, None, None]
        u = (dx * c + dy * s) / semi_a[idx].astype(np.float32)[:, None, None]
        v = (dy * c - dx * s) / semi_b[idx].astype(np.float32)[:, None, None]
        rho_e = np.sqrt(u * u + v * v) + np.float32(1e-6)
        c1, s1 = u / rho_e, v / rho_e  # cos(phi), sin(phi)
        ck, sk = c1, s1
        g_fac = np.ones_like(rho_e)
        for k in range(harmonics.shape[1]):
            ck, sk = ck * c1 - sk * s1, sk * c1 + ck * s1  # cos, sin of (k + 2) phi
            hc = (harmonics[idx, k] * np.cos(phases[idx, k])).astype(np.float32)[:, None, None]
            hs = (harmonics[idx, k] * np.sin(phases[idx, k])).astype(np.float32)[:, None, None]
            g_fac += hc * ck - hs * sk  # h cos((k + 2) phi + p)
        rho = rho_e / g_fac
        # Paste: each pixel keeps the nucleus with the smallest rho (< 1).
        r0, c0 = iy0[idx] - half + pad, ix0[idx] - half + pad
        for j in np.flatnonzero((r0 >= 0) & (c0 >= 0) & (r0 + p <= m) & (c0 + p <= m)):
            sl = (slice(r0[j], r0[j] + p), slice(c0[j], c0[j] + p))
            win = rho[j] < best[sl]
            best[sl][win] = rho[j][win]
            lab[sl][win] = idx[j] + 1
    return lab[pad : pad + size, pad : pad + size]


def instance_contours(inst: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels of a nucleus within ``width`` pixels (4-neighbour steps) of another label or the background.

    The image border does not count as a boundary, so nuclei cut by the tile edge keep an interior.
    """
    h, w = inst.shape
    p = np.pad(inst, width, mode="edge")
    edge = np.zeros(inst.shape, dtype=bool)
    for s in range(1, width + 1):
        for dy, dx in ((s, 0), (-s, 0), (0, s), (0, -s)):
            edge |= p[width + dy : width + dy + h, width + dx : width + dx + w] != inst
    return edge & (inst > 0)


def _lookup(field: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values of ``field`` at the pixels containing the (row, col) points, clipped to the image."""
    h, w = field.shape
    return field[np.clip(rows.astype(np.int64), 0, h - 1), np.clip(cols.astype(np.int64), 0, w - 1)]


def _keep_one_interior_per_nucleus(mask: np.ndarray, inst: np.ndarray) -> None:
    """Where a nucleus's interior (class 1) falls apart into pieces, turn all but the largest into contour.

    Then the interior's connected components are exactly the nuclei that have an interior (in place).
    """
    cc, n_cc = ndimage.label(mask == 1, structure=_STRUCT8)
    if n_cc == 0:
        return
    owner = np.zeros(n_cc + 1, dtype=np.int64)
    owner[cc.ravel()] = inst.ravel()  # interiors of different nuclei never touch, so one owner per piece
    if len(np.unique(owner[1:])) == n_cc:
        return
    sizes = np.bincount(cc.ravel(), minlength=n_cc + 1)
    ids = np.arange(1, n_cc + 1)
    order = np.lexsort((-sizes[1:], owner[1:]))  # by owner, largest piece first
    first = np.ones(n_cc, dtype=bool)
    first[1:] = owner[1:][order][1:] != owner[1:][order][:-1]
    drop = np.zeros(n_cc + 1, dtype=bool)
    drop[ids[order][~first]] = True
    mask[drop[cc]] = 2


@register_region
class Pathology(Region):
    """H&E tile phantom: nuclei interior/contour mask, nuclear-size score (task ``grade``), nuclei count."""

    name = "pathology"
    title = "Pathology — H&E-stained tissue tile"
    modality = "brightfield microscopy, H&E (RGB)"
    in_channels = 3
    field_of_view_mm = 0.064
    resolving_size = 128  # the zoo's nuclei Dice: 0.76-0.83 at 64 px, 0.92 single-task at 128 px (docs/zoo.md)
    tasks = (
        TaskSpec(
            "nuclei",
            "segmentation",
            3,
            "Nuclei as interior + contour (DCAN / HoVer-Net style): the contour class separates touching nuclei.",
            class_names=("background", "nucleus interior", "nucleus contour"),
        ),
        TaskSpec(
            "grade",
            "classification",
            3,
            "Nuclear-size score from the mean nuclear area: low / intermediate / high = small, moderately, "
            "markedly enlarged nuclei. One part of nuclear pleomorphism, not the Nottingham grade (tubules, "
            "pleomorphism, mitoses; Elston & Ellis 1991). Ordinal: quadratic weighted kappa beside AUC.",
            class_names=("low", "intermediate", "high"),
        ),
        TaskSpec(
            "nuclei_count",
            "regression",
            1,
            "Number of nuclei in the tile (connected components of the interior class).",
            output_names=("nuclei count",),
            units="nuclei",
        ),
    )
    coupling = Coupling(
        segmentation="nuclei",
        classification="grade",
        anatomy_latent="mean_nuclear_area_um2",
        other_latent="hyperchromasia",
        rule="nuclear-size score: low < 45 um^2 <= intermediate < 75 um^2 <= high (mean nuclear area on the mask)",
    )
    nuisances = ("stain",)
    #: classification tasks whose classes are an ordered scale (the nuclear-size score, low < intermediate
    #: < high): scored with quadratic weighted kappa beside the AUC (:func:`mtdl_kit.metrics.is_ordinal`).
    ordinal_tasks = ("grade",)
    references = (
        Reference(
            "DCAN (Chen H. 2017)",
            "Chen H, Qi X, Yu L, Dou Q, Qin J, Heng PA. DCAN: deep contour-aware networks for object "
            "instance segmentation from histology images. Med. Image Anal. 36:135-146 (2017).",
            "parallel",
            "object (gland / nucleus) map + contour map",
        ),
        Reference(
            "HoVer-Net (Graham 2019)",
            "Graham S, Vu QD, Raza SEA, Azam A, Tsang YW, Kwak JT, Rajpoot N. HoVer-Net: simultaneous "
            "segmentation and classification of nuclei in multi-tissue histology images. Med. Image Anal. "
            "58:101563 (2019).",
            "parallel",
            "nuclear pixels + horizontal/vertical distance maps + nuclear type",
        ),
        Reference(
            "CIA-Net (Zhou Y. 2019)",
            "Zhou Y, Onder OF, Dou Q, Tsougenis E, Chen H, Heng PA. CIA-Net: robust nuclei instance "
            "segmentation with contour-aware information aggregation. Information Processing in Medical Imaging "
            "(IPMI) 2019, LNCS 11492; arXiv:1903.05358.",
            "interacted",
            "nuclei + contour decoders with two-way information aggregation",
        ),
    )

    measured_regression = {"nuclei_count": (("nuclei_count",), 1e-6)}

    def anatomy_score(self, value: float) -> float:
        return float(np.interp(value, _AREA_ANCHORS, _SCORE_ANCHORS))

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        return np.array([12.0], dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        return np.array([37.0], dtype=np.float32)

    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """Nuclei count (8-connected components of the interior class) and mean nuclear area in um^2.

        Mean nuclear area = nuclear pixels (interior + contour) x pixel area / count; nuclear
        fraction = nuclear pixels / all pixels.
        """
        _, count = ndimage.label(mask == 1, structure=_STRUCT8)
        nuclear_px = float(np.count_nonzero(mask >= 1))
        px_um2 = (spacing_mm * 1000.0) ** 2
        mean_area = nuclear_px * px_um2 / count if count else 0.0
        return {
            "nuclei_count": float(count),
            "mean_nuclear_area_um2": mean_area,
            "nuclear_fraction": nuclear_px / mask.size,
        }

    def _generate(self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None):
        severity = float(rng.random())  # nuclear size and pleomorphism
        hyper = float(rng.random())  # hyperchromasia (the "other" feature)
        stain = float(rng.random())  # staining protocol / scanner colour (nuisance)

        um = 1000.0 * self.spacing_mm(size)  # micrometres per pixel
        tile_um = size * um
        epi_f, fibre_warp, fibre_fine = d.fbm_stack(rng, size, (3.0, 3.5, 1.5))
        epi_level = float(rng.uniform(-0.7, 0.2))
        epithelium = epi_f > epi_level

        # --- Optional gland lumen lined by radially oriented nuclei.
        r_mean = float(np.sqrt((22.0 + 100.0 * severity) / np.pi))  # um, mean equivalent nuclear radius
        cv = 0.08 + 0.22 * severity  # pleomorphism
        has_lumen = rng.random() < 0.5
        lum_cy, lum_cx = rng.uniform(0.2, 0.8, 2) * tile_um
        lum_r = float(rng.uniform(6.0, 12.0))
        lum_asp = float(rng.uniform(0.7, 1.0))

        # Epithelial nuclei on a jittered hexagonal lattice inside the epithelial nests.
        spacing = 2.0 * r_mean * float(rng.uniform(1.0, 1.3))
        rot = float(rng.uniform(0.0, np.pi))
        n_side = int(np.ceil(tile_um / spacing * 1.6)) + 2
        gi, gj = np.meshgrid(np.arange(-n_side, n_side + 1), np.arange(-n_side, n_side + 1), indexing="ij")
        ly = gi.ravel() * spacing * np.sqrt(3.0) / 2.0
        lx = (gj.ravel() + 0.5 * (gi.ravel() % 2)) * spacing
        py = tile_um / 2.0 + ly * np.cos(rot) - lx * np.sin(rot) + rng.normal(0.0, 0.15 * spacing, ly.shape)
        pxx = tile_um / 2.0 + ly * np.sin(rot) + lx * np.cos(rot) + rng.normal(0.0, 0.15 * spacing, ly.shape)
        margin = 0.4 * r_mean  # centres just outside the tile still cut into it
        inside = (np.minimum(py, pxx) > -margin) & (np.maximum(py, pxx) < tile_um + margin)
        py, pxx = py[inside], pxx[inside]
        ok = _lookup(epithelium, py / um, pxx / um)
        if has_lumen:
            dl = np.hypot((py - lum_cy) / lum_asp, pxx - lum_cx)
            ok &= dl > lum_r + 3.0 * r_mean
        epi_y, epi_x = py[ok], pxx[ok]
        n_epi = len(epi_y)
        epi_r = r_mean * np.exp(rng.normal(0.0, cv, n_epi))
        epi_asp = 1.0 + np.abs(rng.normal(0.0, 0.12 + 0.2 * severity, n_epi))
        epi_ang = rng.uniform(0.0, np.pi, n_epi)

        # Gland lining: nuclei on a ring around the lumen, long axis along the radius.
        if has_lumen:
            ring_r = lum_r + 1.3 * r_mean
            n_ring = max(int(2.0 * np.pi * ring_r / (1.6 * r_mean)), 3)
            th = np.linspace(0.0, 2.0 * np.pi, n_ring, endpoint=False) + rng.normal(0.0, 0.08, n_ring)
            ring_y = lum_cy + lum_asp * ring_r * np.sin(th)
            ring_x = lum_cx + ring_r * np.cos(th)
            ring_r_i = r_mean * np.exp(rng.normal(0.0, cv, n_ring))
            ring_asp = rng.uniform(1.3, 1.8, n_ring)
            ring_ang = th + rng.normal(0.0, 0.15, n_ring)
        else:
            ring_y = ring_x = ring_r_i = ring_asp = ring_ang = np.zeros(0)
            n_ring = 0

        # Stroma: spindle fibroblasts along the fibres and a few small dark lymphocytes.
        fibre_angle = float(rng.uniform(0.0, np.pi))
        n_cand = int(rng.integers(4, 14))
        sy, sx = rng.uniform(0.0, tile_um, n_cand), rng.uniform(0.0, tile_um, n_cand)
        in_stroma = ~_lookup(epithelium, sy / um, sx / um)
        if has_lumen:
            in_stroma &= np.hypot((sy - lum_cy) / lum_asp, sx - lum_cx) > lum_r + 2.0
        sy, sx = sy[in_stroma], sx[in_stroma]
        n_str = len(sy)
        lymph = rng.random(n_str) < 0.3
        str_r = np.where(lymph, rng.uniform(2.4, 3.0, n_str), rng.uniform(2.0, 2.8, n_str))
        str_asp = np.where(lymph, 1.0 + rng.uniform(0.0, 0.1, n_str), rng.uniform(3.0, 5.0, n_str))
        str_ang = np.where(lymph, 0.0, fibre_angle + 0.5 * np.pi + rng.normal(0.0, 0.2, n_str))  # along the fibres

        # --- Rasterise all nuclei at once (pixel units).
        all_y = np.concatenate([epi_y, ring_y, sy]) / um
        all_x = np.concatenate([epi_x, ring_x, sx]) / um
        all_r = np.concatenate([epi_r, ring_r_i, str_r]) / um
        all_asp = np.concatenate([epi_asp, ring_asp, str_asp])
        all_ang = np.concatenate([epi_ang, ring_ang, str_ang])
        n_all = len(all_y)
        harm_sd = np.concatenate([np.full(n_epi + n_ring, 0.03 + 0.07 * severity), np.full(n_str, 0.02)])
        harmonics = np.clip(rng.normal(0.0, 1.0, (n_all, 3)) * harm_sd[:, None], -0.12, 0.12)
        phases = rng.uniform(0.0, 2.0 * np.pi, (n_all, 3))
        sq = np.sqrt(all_asp)
        inst = rasterise_nuclei(size, all_y, all_x, all_r * sq, all_r / sq, all_ang, harmonics, phases)

        contour = instance_contours(inst, max(1, round(size / 128)))
        mask = np.zeros((size, size), dtype=np.int64)
        mask[inst > 0] = 1
        mask[contour] = 2
        _keep_one_interior_per_nucleus(mask, inst)

        # --- Stain densities (optical density per unit stain).
        # Haematoxylin: per-nucleus darkness (hyperchromasia, lymphocytes darkest), coarse chromatin.
        darkness = np.concatenate(
            [np.full(n_epi + n_ring, 0.45 + 0.75 * hyper), np.where(lymph, 1.35, 0.9 + 0.3 * hyper)]
        ) * np.exp(rng.normal(0.0, 0.1, n_all))
        dark_lut = np.concatenate([[0.0], darkness]).astype(np.float32)
        chromatin = d.smooth3(rng.random((size, size), dtype=np.float32) - 0.5)
        h_map = dark_lut[inst] * (1.0 + (0.8 + 1.6 * hyper) * chromatin + np.float32(0.2) * contour)
        # Eosin: wavy collagen fibres in the stroma, amphophilic cytoplasm in the nests, empty lumen.
        yy, xx = d.grid(size)
        across = xx * float(np.cos(fibre_angle)) + yy * float(np.sin(fibre_angle))
        phase = across * (tile_um / float(rng.uniform(2.5, 4.0))) + 1.2 * fibre_warp  # fibre period 8-13 um
        fibres = (0.5 + 0.5 * np.sin(phase)) ** 2
        e_map = 0.16 + 0.24 * fibres + 0.025 * fibre_fine
        cyto = d.smooth3(epithelium.astype(np.float32))
        e_map = e_map * (1.0 - cyto) + (0.17 + 0.03 * fibre_fine) * cyto
        h_map = h_map + 0.03 + 0.08 * cyto
        if has_lumen:
            yy_um, xx_um = (yy + 1.0) * tile_um / 2.0, (xx + 1.0) * tile_um / 2.0
            lumen = np.hypot((yy_um - lum_cy) / lum_asp, xx_um - lum_cx) < lum_r
            lumen &= inst == 0
            e_map[lumen] = 0.04
            h_map[lumen] = 0.0
        e_map[inst > 0] *= 0.3  # nuclei take little eosin

        # --- Beer-Lambert with the (jittered) stain protocol.
        h_vec = (1.0 - stain) * _H_VEC + stain * _H_VEC_ALT + rng.normal(0.0, 0.02, 3).astype(np.float32)
        e_vec = (1.0 - stain) * _E_VEC + stain * _E_VEC_ALT + rng.normal(0.0, 0.02, 3).astype(np.float32)
        h_gain = (0.8 + 0.45 * stain) * float(rng.uniform(0.95, 1.05))
        e_gain = (1.15 - 0.4 * stain) * float(rng.uniform(0.95, 1.05))
        h_map = d.smooth3(h_map * np.float32(h_gain))  # optics: slight blur (OD is linear in the densities)
        e_map = d.smooth3(e_map * np.float32(e_gain))
        od = h_map[None] * h_vec[:, None, None] + e_map[None] * e_vec[:, None, None]
        img = np.exp(np.float32(-np.log(10.0)) * od) * np.float32(rng.uniform(0.93, 1.0))  # I = 10^(-OD)
        img = img + np.float32(0.035) * (rng.random(img.shape, dtype=np.float32) - 0.5)  # camera noise, std 0.01

        measured = self.measure(mask, self.spacing_mm(size))
        area = measured["mean_nuclear_area_um2"]
        z = coupled_score(relatedness, self.anatomy_score(area), hyper)
        if nuisance == "stain":
            z = stain
        label = score_to_class(z, 3)

        targets = {
            "nuclei": mask,
            "grade": np.asarray(label, dtype=np.int64),
            "nuclei_count": np.asarray([measured["nuclei_count"]], dtype=np.float32),
        }
        latents = {
            "severity": severity,
            "mean_nuclear_area_um2": area,
            "nuclei_count": measured["nuclei_count"],
            "nuclei_drawn": float(n_all),
            "nuclear_fraction": measured["nuclear_fraction"],
            "hyperchromasia": hyper,
            "stain": stain,
            "gland": float(has_lumen),
            "label_score": z,
        }
        return img, targets, latents

"""Brain: axial multi-sequence MRI slice (FLAIR, T1, T1 post-contrast) with a glioma, BraTS sub-regions and grade.

Task set modelled on the review's brain networks (Zhao et al., Comput. Biol. Med. 2023): tumour
sub-region segmentation with an auxiliary image-reconstruction branch that regularises the shared
encoder (Myronenko, "3D MRI brain tumor segmentation using autoencoder regularization",
BrainLes 2018, arXiv:1810.11654 -- the VAE branch reconstructs the input image), and joint glioma
segmentation with a tumour-level classification head (Cheng J. et al., IEEE TMI 2022, glioma
segmentation + IDH genotyping; OM-Net, Zhou C. et al., IEEE TIP 2020, coarse-to-fine sub-region
segmentation). Here the classification head predicts a grade (LGG vs HGG) and a regression head the
areas of the three BraTS evaluation regions (the 2D analogue of the tumour volumes).

Input channels are three co-registered sequences, as in BraTS (Menze et al., IEEE TMI 34:1993-2024,
2015; Baid et al., arXiv:2107.02314, 2021, which also has T2): FLAIR (CSF suppressed, oedema
bright), T1 before contrast and T1 after gadolinium (T1c). *Enhancement* is defined as radiologists
define it, by comparing T1c with T1: the two differ only where the blood-brain barrier is broken.

Segmentation classes mirror the BraTS labels: necrotic tumour core (BraTS label 1, "NCR"),
peritumoural oedema / invaded tissue (label 2, "ED") and enhancing tumour (label 4, "ET"), here
class indices 1, 2, 3 (a BraTS label map is read with ``mask_values={4: 3}``, e.g.
``--mask-values 4:3`` on the command line). The regression outputs are the areas of the BraTS
evaluation regions: whole tumour (WT = NCR + ED + ET), tumour core (TC = NCR + ET) and ET.

Clinical rule at relatedness 1: high-grade glioma (HGG) <=> necrosis inside a ring of enhancement,
measured on the mask as the necrotic share of the tumour core, NCR / (NCR + ET) > 0.2. Rationale:
necrosis is a histological grade-4 criterion (Louis et al., WHO CNS5 classification, Neuro-Oncology
23:1231-1251, 2021), and on imaging central necrosis surrounded by a thick irregular enhancing rim is
the hallmark of glioblastoma, whereas low-grade gliomas are mostly non-enhancing without necrosis
(VASARI feature set, features "enhancement quality" and "proportion necrosis", The Cancer Imaging
Archive wiki; Pope W.B. et al., AJNR 26:2466-2474, 2005). The 0.2 threshold is a teaching choice,
not a clinical criterion: real grading is histological and molecular (WHO CNS5), and the phantom's
"LGG" cases still carry a (thin) enhancing rim around their core, which real low-grade gliomas
mostly lack.

At relatedness 0 the label follows the *strength* of the enhancement instead (VASARI "enhancement
quality": mild vs marked, the T1c - T1 signal rise of the rim). It is visible in the image but
absent from the mask: the ET class marks the rim whatever its brightness.

Appearance: scalp (fat: bright on T1), dark skull with fatty diploe, subarachnoid CSF (dark on FLAIR
and T1), folded cortex (sulci warped by fractional Brownian motion, white-matter fingers under the
gyral crowns; white matter darker than grey on FLAIR, brighter on T1), deep grey nuclei, ")(" shaped
lateral ventricles displaced by mass effect, interhemispheric fissure; a lobulated, fBm-perturbed
tumour core (necrotic centre dark on T1 and T1c, enhancing rim) and vasogenic oedema (bright on
FLAIR, dark on T1) that spreads along the white matter and spares the cortex. MRI physics: a smooth
multiplicative bias field shared by the sequences (one coil; strength latent) and Rician magnitude
noise per sequence, after SynthSeg's augmentation recipe (Billot et al., MedIA 2023). The
reconstruction target is the clean three-sequence image before bias and noise: a denoising /
reconstruction task, supervised by the clean image (not self-supervised).

Generator version 2 (issue #12's medical corrections): version 1 was a single FLAIR-like channel with
two classes (oedema, core) and a grade that followed the oedema fraction, which is not a grading sign.
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

#: HGG <=> NCR / (NCR + ET) above this (the necrotic share of the tumour core; a teaching threshold).
NECROTIC_SHARE_THRESHOLD = 0.2
#: the three input sequences, in channel order.
SEQUENCES: tuple[str, str, str] = ("FLAIR", "T1", "T1c")

# Tissue intensities of the clean sequences (before bias field and noise): FLAIR, T1 (pre-contrast).
# T1c equals T1 except in the enhancing tumour, whose signal rises by the (latent) enhancement.
_FLAIR = {"scalp": 0.58, "skull": 0.05, "diploe": 0.22, "csf": 0.07, "gm": 0.54, "wm": 0.38, "deep": 0.47}
_T1 = {"scalp": 0.85, "skull": 0.05, "diploe": 0.68, "csf": 0.10, "gm": 0.45, "wm": 0.62, "deep": 0.50}
_FLAIR_OEDEMA, _FLAIR_CORE, _FLAIR_NECROSIS = 0.82, 0.66, 0.30
_T1_OEDEMA, _T1_CORE, _T1_NECROSIS = 0.36, 0.40, 0.16
_ENHANCEMENT_MILD, _ENHANCEMENT_RANGE = 0.12, 0.36  # T1c - T1 of the rim: mild (0.12) ... marked (0.48)


def _harmonic(z: np.ndarray, coeffs: np.ndarray, k0: int) -> np.ndarray:
    """Re(sum_j c_j z^(k0 + j)) for unit complex z = exp(i theta): sum_k a_k cos(k theta + phi_k)."""
    acc = np.zeros(z.shape, dtype=np.complex64)
    for c in coeffs[::-1]:
        acc = acc * z + c
    return np.real(acc * z**k0).astype(np.float32)


@register_region
class Brain(Region):
    """Axial brain MRI phantom (FLAIR, T1, T1c): BraTS sub-region masks, LGG vs HGG grade, clean-image target."""

    name = "brain"
    title = "Brain — axial MRI (FLAIR, T1, T1c) with glioma"
    modality = "MRI (FLAIR, T1 and T1 post-contrast as three channels)"
    in_channels = 3
    channel_names = SEQUENCES
    display_channel = 2  # T1c: the enhancing rim and the necrosis that set the grade
    field_of_view_mm = 220.0
    generator_version = "2"
    resolving_size = 128  # the zoo's tumour Dice: 0.35-0.77 at 64 px, 0.94 single-task at 128 px (docs/zoo.md)
    tasks = (
        TaskSpec(
            "tumour",
            "segmentation",
            4,
            "Glioma sub-regions as in BraTS: necrotic core (NCR), peritumoural oedema (ED), enhancing "
            "tumour (ET; the rim whose T1c signal rises above T1).",
            class_names=("background", "necrotic core", "oedema", "enhancing tumour"),
        ),
        TaskSpec(
            "grade",
            "classification",
            2,
            "Glioma grade on imaging: low-grade (LGG) vs high-grade (HGG; necrosis inside a ring of enhancement "
            "at relatedness 1).",
            class_names=("LGG", "HGG"),
        ),
        TaskSpec(
            "tumour_area",
            "regression",
            3,
            "Areas of the BraTS evaluation regions on the slice: whole tumour (NCR + ED + ET), tumour core "
            "(NCR + ET) and enhancing tumour (2D analogue of BraTS volumes).",
            output_names=("whole-tumour area", "tumour-core area", "enhancing-tumour area"),
            units="mm²",
        ),
        TaskSpec(
            "reconstruction",
            "reconstruction",
            3,
            "Denoising reconstruction: predict the clean three-sequence image (no bias field, no noise) from "
            "the corrupted one, a supervised target like the VAE branch of Myronenko 2018.",
        ),
    )
    coupling = Coupling(
        segmentation="tumour",
        classification="grade",
        anatomy_latent="necrotic_share",
        other_latent="enhancement",
        rule="HGG <=> necrotic core / tumour core (NCR / (NCR + ET)) > 0.2",
        other_rule="HGG <=> marked enhancement (T1c - T1 of the rim above the median)",
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

    measured_regression = {
        "tumour_area": (("whole_tumour_area_mm2", "tumour_core_area_mm2", "enhancing_tumour_area_mm2"), 1e-2)
    }

    def anatomy_score(self, value: float) -> float:
        return normalise_at_threshold(value, 0.0, NECROTIC_SHARE_THRESHOLD, 0.6)

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        return np.array([800.0, 320.0, 300.0], dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        return np.array([1600.0, 800.0, 600.0], dtype=np.float32)

    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """The necrotic share of the tumour core and the BraTS regions' areas in mm².

        Args:
            mask: (H, W) class indices (0 background, 1 necrotic core, 2 oedema, 3 enhancing tumour).
            spacing_mm: pixel spacing in millimetres.

        Returns:
            ``necrotic_share`` = NCR / (NCR + ET) (0 without a tumour core), ``whole_tumour_area_mm2``
            (NCR + ED + ET), ``tumour_core_area_mm2`` (NCR + ET), ``enhancing_tumour_area_mm2`` (ET),
            ``oedema_area_mm2`` (ED) and ``oedema_fraction`` = ED / WT.
        """
        n_ncr = int(np.count_nonzero(mask == 1))
        n_ed = int(np.count_nonzero(mask == 2))
        n_et = int(np.count_nonzero(mask == 3))
        n_core, n_whole = n_ncr + n_et, n_ncr + n_ed + n_et
        px = spacing_mm * spacing_mm
        return {
            "necrotic_share": n_ncr / n_core if n_core else 0.0,
            "whole_tumour_area_mm2": n_whole * px,
            "tumour_core_area_mm2": n_core * px,
            "enhancing_tumour_area_mm2": n_et * px,
            "oedema_area_mm2": n_ed * px,
            "oedema_fraction": n_ed / n_whole if n_whole else 0.0,
        }

    def _generate(self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None):
        # All scalar draws come first and do not depend on ``size``, so one seed gives the same case
        # (head, tumour, latents) at every resolution; only the fBm detail differs.
        oedema_extent = float(rng.random())  # how far the oedema spreads
        necrosis = float(rng.random())  # radius of the necrotic centre: the anatomy the mask shows
        enhancement = float(rng.random())  # T1c - T1 of the rim: the "other" visible feature
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
        t_rho = float(rng.uniform(0.2, 0.5))
        t_ang = float(rng.uniform(-np.pi, np.pi))
        rc = float(rng.uniform(0.09, 0.19))  # core radius 10-21 mm (glioblastomas are mostly 2-6 cm across)
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

        # Tumour: lobulated, fBm-perturbed core (necrotic centre inside an enhancing rim); oedema along
        # white matter and deep grey, sparing cortex and ventricles.
        dt_u, dt_v = u - tu, v - tv
        r_t = np.sqrt(dt_u * dt_u + dt_v * dt_v)
        lob = np.clip(1.0 + _harmonic((dt_v + 1j * dt_u) / np.maximum(r_t, 1e-6), lob_c, 2), 0.6, 1.4)
        rough = np.clip(rough, -2.5, 2.5)
        rel_core = r_t / (rc * lob * (1.0 + 0.08 * rough))
        core = brain & (rel_core < 1.0)
        necrotic = core & (rel_core < 0.85 * necrosis)
        enhancing = core & ~necrotic
        oedema = brain & ~core & (r_t < ro * lob * (1.0 + 0.18 * rough)) & (wm | deep) & ~ventricles
        mask = np.zeros((size, size), dtype=np.int64)
        mask[necrotic] = 1
        mask[oedema] = 2
        mask[enhancing] = 3

        # Clean sequences: FLAIR and T1 share the anatomy; T1c = T1 + enhancement in the rim.
        seqs = []
        for table, ed, et, ncr in (
            (_FLAIR, _FLAIR_OEDEMA, _FLAIR_CORE, _FLAIR_NECROSIS),
            (_T1, _T1_OEDEMA, _T1_CORE, _T1_NECROSIS),
        ):
            img = np.zeros((size, size), dtype=np.float32)
            img[scalp] = table["scalp"]
            img[skull] = table["skull"]
            img[diploe] = table["diploe"]
            img[sub_csf] = table["csf"]
            img[brain] = table["gm"]
            img[wm] = table["wm"]
            img[brain & deep & ~wm] = table["deep"]
            img[brain & deep & wm] = 0.5 * (table["wm"] + table["deep"])
            img[csf_in] = table["csf"]
            img *= 1.0 + 0.04 * texture
            img[oedema] = ed * (1.0 + 0.05 * texture[oedema])
            img[enhancing] = et * (1.0 + 0.06 * texture[enhancing])
            img[necrotic] = ncr * (1.0 + 0.3 * texture[necrotic])
            seqs.append(img)
        flair, t1 = seqs
        t1c = t1.copy()
        t1c[enhancing] += _ENHANCEMENT_MILD + _ENHANCEMENT_RANGE * enhancement
        sigma_blur = 0.45 * size / 128.0
        clean = np.stack([np.clip(d.blur(x, sigma_blur), 0.0, 1.0) for x in (flair, t1, t1c)])

        # Acquisition: one multiplicative bias field (one receive coil) and Rician noise per sequence.
        sigma = 0.01 + 0.05 * noise_level
        noisy = np.stack([d.rician(rng, x * field, sigma) for x in clean])

        measured = self.measure(mask, self.spacing_mm(size))
        share = measured["necrotic_share"]
        z = coupled_score(relatedness, self.anatomy_score(share), enhancement)
        if nuisance == "bias_field":
            z = bias_strength
        elif nuisance == "noise":
            z = noise_level
        label = score_to_class(z, 2)

        targets = {
            "tumour": mask,
            "grade": np.asarray(label, dtype=np.int64),
            "tumour_area": np.asarray(
                [
                    measured["whole_tumour_area_mm2"],
                    measured["tumour_core_area_mm2"],
                    measured["enhancing_tumour_area_mm2"],
                ],
                dtype=np.float32,
            ),
            "reconstruction": clean.astype(np.float32),
        }
        latents = {
            "necrotic_share": share,
            "necrosis": necrosis,
            "enhancement": enhancement,
            "oedema_extent": oedema_extent,
            "oedema_fraction": measured["oedema_fraction"],
            "core_radius_mm": rc * self.field_of_view_mm / 2.0,
            "bias_field": bias_strength,
            "noise": noise_level,
            "noise_sigma": sigma,
            "label_score": z,
        }
        return noisy, targets, latents

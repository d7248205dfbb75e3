"""Eye: colour fundus photograph with optic disc / cup segmentation, glaucoma and CDR.

Task set modelled on the review's eye networks (Zhao et al., Comput. Biol. Med. 2023): joint
optic-disc / optic-cup segmentation with glaucoma classification (Chakravarty & Sivaswamy 2018;
Fu et al., M-Net, IEEE TMI 2018) and optic-disc indices regression (Zhao R. et al., DMTFs,
MICCAI 2019).

Clinical rule at relatedness 1: glaucoma suspect <=> vertical cup-to-disc ratio (CDR) > 0.6,
with the CDR measured on the generated mask. At relatedness 0 the label follows the burden of
retinal haemorrhages instead: visible in the image, absent from the disc/cup mask.

Appearance: circular field of view with vignetting, orange-red choroidal background (fBm
texture), darker macula temporal to the disc, bright yellow disc with a paler cup, parabolic
vessel arcades leaving the disc (the simplified arcade recipe in ``data-sources.md``), dark-red
blot haemorrhages.
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

CDR_THRESHOLD = 0.6


@register_region
class Eye(Region):
    """Fundus phantom: disc/cup masks, glaucoma label, vertical cup-to-disc ratio."""

    name = "eye"
    title = "Eye — colour fundus photograph"
    modality = "fundus photography (RGB)"
    in_channels = 3
    field_of_view_mm = 12.0
    tasks = (
        TaskSpec(
            "disc_cup",
            "segmentation",
            3,
            "Optic disc rim and optic cup: the cup's size relative to the disc is the key glaucoma sign.",
            class_names=("background", "disc rim", "cup"),
        ),
        TaskSpec(
            "glaucoma",
            "classification",
            2,
            "Glaucoma suspect (referable) vs normal.",
            class_names=("normal", "glaucoma suspect"),
        ),
        TaskSpec(
            "cdr",
            "regression",
            1,
            "Vertical cup-to-disc ratio (0.3-0.9; > 0.6 is suspicious).",
            output_names=("vertical CDR",),
        ),
    )
    coupling = Coupling(
        segmentation="disc_cup",
        classification="glaucoma",
        anatomy_latent="cdr",
        other_latent="haemorrhage_burden",
        rule="glaucoma <=> vertical CDR > 0.6",
    )
    nuisances = ("illumination", "laterality")
    references = (
        Reference(
            "Chakravarty & Sivaswamy 2018",
            "Chakravarty A, Sivaswamy J. A deep learning based joint segmentation and classification "
            "framework for glaucoma assessment in retinal color fundus images. arXiv:1808.01355 (2018).",
            "hybrid",
            "OD/OC segmentation + glaucoma classification",
        ),
        Reference(
            "DMTFs (Zhao R. 2019)",
            "Zhao R, et al. Direct cup-to-disc ratio estimation for glaucoma screening via "
            "semi-supervised learning / multi-task features. MICCAI 2019.",
            "parallel",
            "optic-disc segmentation + OD indices regression",
        ),
        Reference(
            "Zhou Y. 2019",
            "Zhou Y, et al. Collaborative learning of semi-supervised segmentation and classification "
            "for medical images. CVPR 2019.",
            "interacted",
            "lesion segmentation + lesion-attentive DR grading",
        ),
    )

    measured_regression = {"cdr": (("cdr",), 1e-6)}

    def anatomy_score(self, value: float) -> float:
        return normalise_at_threshold(value, 0.3, CDR_THRESHOLD, 0.9)

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        return np.array([0.15], dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        return np.array([0.6], dtype=np.float32)

    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """Vertical CDR = vertical extent of the cup / vertical extent of the disc (rim + cup)."""
        disc = d.feret_extent(mask >= 1, axis=0)
        cup = d.feret_extent(mask == 2, axis=0)
        cdr = cup / disc if disc > 0 else 0.0
        return {"cdr": cdr, "disc_diameter_mm": disc * spacing_mm, "cup_diameter_mm": cup * spacing_mm}

    def _generate(self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None):
        right_eye = bool(rng.random() < 0.5)
        side = 1.0 if right_eye else -1.0
        severity = float(rng.random())
        haem = float(rng.random())
        illumination = float(rng.random())
        # Size-dependent draws (texture, pixel noise) come from child generators, so the same seed
        # gives the same case at every image size.
        texture_rng, noise_rng = (np.random.default_rng(int(x)) for x in rng.integers(0, 2**63, 2))

        # Optic disc (nasal side) and cup; the cup's vertical radius sets the CDR.
        disc_cy = float(rng.normal(0.0, 0.05))
        disc_cx = side * float(rng.uniform(0.30, 0.40))
        disc_r = float(rng.uniform(0.14, 0.17))
        disc_ry, disc_rx = disc_r * 1.06, disc_r * 0.94
        cdr_target = 0.3 + 0.6 * severity
        cup_ry = disc_ry * cdr_target
        cup_rx = min(cup_ry * float(rng.uniform(0.85, 1.0)), disc_rx * 0.95)
        cup_cx = disc_cx + side * float(rng.uniform(0.0, 0.2)) * (disc_rx - cup_rx)
        disc = d.ellipse(size, disc_cy, disc_cx, disc_ry, disc_rx)
        cup = d.ellipse(size, disc_cy, cup_cx, cup_ry, cup_rx) & disc
        mask = np.zeros((size, size), dtype=np.int64)
        mask[disc] = 1
        mask[cup] = 2

        yy, xx = d.grid(size)
        r_fov = np.sqrt(yy * yy + xx * xx)
        fov = r_fov <= 0.97

        # Choroidal background, macula, vignetting.
        texture = d.fbm(texture_rng, size, beta=2.6)
        base = np.array([0.78, 0.36, 0.16], dtype=np.float32) * float(rng.uniform(0.9, 1.05))
        img = base[:, None, None] * (1.0 + 0.06 * texture)[None]
        mac_cx = disc_cx - side * 0.62
        macula = np.exp(-((yy - disc_cy - 0.04) ** 2 + (xx - mac_cx) ** 2) / (2 * 0.16**2))
        img *= (1.0 - 0.35 * macula)[None]

        # Vessel arcades: parabolas with vertex at the disc opening temporally, plus nasal vessels.
        vessels = np.zeros((size, size), dtype=np.float32)
        dx = (xx - disc_cx) * -side  # positive towards the macula
        dy = yy - disc_cy
        for k, width in ((1.5, 0.022), (2.3, 0.016), (1.1, 0.014)):
            k_eff = k * float(rng.uniform(0.85, 1.15))
            for sign in (-1.0, 1.0):
                # Curve: dy = sign * sqrt(dx / k) (a parabola dx = k dy^2 opening temporally).
                curve_dy = sign * np.sqrt(np.clip(dx, 0.0, None) / k_eff)
                slope = 1.0 / (2.0 * k_eff * np.abs(curve_dy) + 0.05)
                dist = np.abs(dy - curve_dy) / np.sqrt(1.0 + 0.02 * slope**2)
                taper = width * np.clip(1.0 - 0.45 * np.clip(dx, 0, None), 0.3, 1.0)
                vessels = np.maximum(vessels, np.clip(1.0 - dist / taper, 0.0, 1.0) * (dx > -0.02))
        r_disc, th_disc = d.polar(size, disc_cy, disc_cx)
        for phi in rng.uniform(-np.pi, np.pi, 4):
            phi = float(phi)
            if np.cos(phi) * -side > 0.3:  # keep these nasal
                phi += np.pi
            along = r_disc * np.cos(th_disc - phi)
            across = np.abs(r_disc * np.sin(th_disc - phi))
            vessels = np.maximum(vessels, np.clip(1.0 - across / 0.012, 0.0, 1.0) * (along > 0) * (along < 0.8))
        vessels *= (r_disc > disc_r * 0.35).astype(np.float32)

        # Disc and cup colours (soft edges), vessels drawn over the disc.
        disc_soft = d.soft(disc, 0.8)
        cup_soft = d.soft(cup, 0.8)
        disc_col = np.array([0.98, 0.78, 0.48], dtype=np.float32)
        cup_col = np.array([1.0, 0.93, 0.78], dtype=np.float32)
        img = img * (1 - disc_soft)[None] + disc_col[:, None, None] * disc_soft[None]
        img = img * (1 - cup_soft)[None] + cup_col[:, None, None] * cup_soft[None]
        vessel_col = np.array([0.42, 0.08, 0.05], dtype=np.float32)
        v = 0.85 * vessels
        img = img * (1 - v)[None] + vessel_col[:, None, None] * v[None]

        # Blot haemorrhages (the "other" feature): count follows the burden latent.
        n_haem = round(haem * 12)
        if n_haem:
            hy = rng.uniform(-0.7, 0.7, n_haem)
            hx = rng.uniform(-0.7, 0.7, n_haem)
            hr = rng.uniform(0.025, 0.045, n_haem)
            blots = np.zeros((size, size), dtype=np.float32)
            for cy, cx, rr in zip(hy, hx, hr, strict=True):
                blots = np.maximum(blots, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rr * rr)))
            blots *= (r_disc > disc_r * 1.3).astype(np.float32)
            blot_col = np.array([0.35, 0.03, 0.02], dtype=np.float32)
            b = 0.9 * np.clip(blots * 1.6, 0, 1)
            img = img * (1 - b)[None] + blot_col[:, None, None] * b[None]

        gain = 0.75 + 0.5 * illumination
        vignette = np.clip(1.0 - (0.25 + 0.25 * (1 - illumination)) * r_fov**2, 0.0, 1.0)
        img = img * (gain * vignette)[None]
        img = img + noise_rng.normal(0.0, 0.012, img.shape).astype(np.float32)
        img *= d.soft(fov, 1.0)[None]

        measured = self.measure(mask, self.spacing_mm(size))
        cdr = measured["cdr"]
        u_anatomy = self.anatomy_score(cdr)
        u_other = haem
        z = coupled_score(relatedness, u_anatomy, u_other)
        if nuisance == "illumination":
            z = illumination
        elif nuisance == "laterality":
            z = 1.0 if right_eye else 0.0  # label follows which eye was photographed
        label = score_to_class(z, 2)

        targets = {
            "disc_cup": mask,
            "glaucoma": np.asarray(label, dtype=np.int64),
            "cdr": np.asarray([cdr], dtype=np.float32),
        }
        latents = {
            "severity": severity,
            "cdr": cdr,
            "haemorrhage_burden": haem,
            "haemorrhage_count": float(n_haem),
            "illumination": illumination,
            "laterality": float(right_eye),
            "label_score": z,
        }
        return img, targets, latents

"""The bundled sample store ``data_samples/``: a small fixed set of phantoms per region, on disk.

Layout (the same "folder + CSV" layout users can bring their own data in)::

    data_samples/
      manifest.json                 generator versions, seeds, size, sha256 of every file
      <region>/images/<case>.png    8-bit grey or RGB image
      <region>/masks/<case>.png     segmentation class indices (8-bit)
      <region>/labels.csv           case_id, seed, one column per classification / regression output
      <region>/latents.csv          case_id and the hidden variables that generated the case

The set is written by ``mtdl-kit samples`` and checked by :func:`verify_samples`, which recomputes
every file hash and regenerates every case from its seed. Masks and labels must regenerate exactly; an
image may differ by one grey level at a few pixels (:data:`IMAGE_LEVEL_FLIPS`): numpy's vectorised float
kernels round in the last bit differently on different CPUs, and a pixel whose value lies on a half level
then quantises one level apart (measured 2026-12-07: the store written on one machine regenerates on an AMD
EPYC with one pixel one level off in 6 of 192 images).

**Held-out seeds only.** The cases are drawn from the *demo* seed range, seeds
:data:`DEMO_SEED_OFFSET` ... ``DEMO_SEED_OFFSET + DEMO_SEED_SPAN - 1`` (the ``"demo"`` split of
:class:`~mtdl_kit.data.PhantomDataset`), which no training, validation or test split reaches (they
start at 0, 100,000,000 and 200,000,000, with offsets inside a split below 90,000,000), so a demo
never shows a case a zoo model was trained or scored on. :func:`demo_seed` maps a phantom number a
user types (the dashboard's "Generate a phantom") into the same range. The manifest records the
range (``seed_range``) next to every region's seeds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from mtdl_kit.history import to_json
from mtdl_kit.regions.base import REGION_NAMES, Region, Sample, TaskSpec, get_region

SAMPLES_PER_REGION = 24
SAMPLE_SIZE = 128
#: at most this fraction of an image's values may regenerate one grey level apart (last-bit float differences
#: between CPUs at a half level); a larger difference, or more such values, is a different image
IMAGE_LEVEL_FLIPS = 0.001

MANIFEST = "manifest.json"
STORE_VERSION = 2
#: First seed of the demo range: the bundled cases and the dashboard's generated phantoms.
DEMO_SEED_OFFSET = 300_000_000
#: Number of seeds in the demo range.
DEMO_SEED_SPAN = 100_000_000


def sample_size(region: str) -> int:
    """The image side (px) of ``region``'s bundled cases: its :attr:`~mtdl_kit.regions.base.Region.default_size`.

    Each region's cases are stored at the size its zoo models were trained at, so the dashboard shows
    them at the models' resolution (a test checks the bundled store against the shipped zoo).
    """
    return get_region(region).default_size


def demo_seed(number: int) -> int:
    """The generator seed of demo phantom ``number`` (``DEMO_SEED_OFFSET + number``): a held-out seed.

    Raises:
        ValueError: if ``number`` is not an integer in ``[0, DEMO_SEED_SPAN)``.
    """
    if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or not 0 <= number < DEMO_SEED_SPAN:
        raise ValueError(
            f"A demo phantom number must be an integer in [0, {DEMO_SEED_SPAN}), got {number!r}; "
            "the demo range keeps shown cases apart from every training seed."
        )
    return DEMO_SEED_OFFSET + int(number)


def demo_seed_range() -> range:
    """Every seed a demo may use: the bundled cases' and the generated phantoms'."""
    return range(DEMO_SEED_OFFSET, DEMO_SEED_OFFSET + DEMO_SEED_SPAN)


def default_root() -> Path:
    """``$MTDL_KIT_SAMPLES`` if set, else the bundled ``data_samples/`` (:func:`mtdl_kit.resources.samples_dir`)."""
    from mtdl_kit.resources import samples_dir

    return samples_dir()


def select_seeds(region: Region, n: int = SAMPLES_PER_REGION, size: int = SAMPLE_SIZE, *, start: int = 0) -> list[int]:
    """Deterministic seeds from ``start`` on, covering every class of every classification task, then up to ``n``.

    For each class (in order) the smallest seed producing it is taken; the rest are the smallest
    unused seeds. Raises ``ValueError`` if a class never appears within 2,000 seeds of ``start``.
    The bundled store passes ``start=DEMO_SEED_OFFSET`` (held-out seeds).
    """
    chosen: list[int] = []
    for t in region.tasks:
        if t.kind != "classification":
            continue
        for c in range(t.num_outputs):
            if any(int(region.sample(s, size=64).targets[t.name]) == c for s in chosen):
                continue
            for s in range(start, start + 2000):
                if s not in chosen and int(region.sample(s, size=64).targets[t.name]) == c:
                    chosen.append(s)
                    break
            else:
                raise ValueError(f"{region.name}.{t.name}: class {c} not produced by seeds {start}..{start + 1999}.")
    s = start
    while len(chosen) < n:
        if s not in chosen:
            chosen.append(s)
        s += 1
    return sorted(chosen[:n])


def label_columns(tasks: Sequence[TaskSpec]) -> list[str]:
    """CSV column names for the non-dense targets of ``tasks`` (each task's :attr:`TaskSpec.label_columns`)."""
    return [column for t in tasks for column in t.label_columns]


def label_values(sample: Sample, tasks: Sequence[TaskSpec]) -> list[str]:
    """A sample's classification/regression/landmark targets as CSV cells, in :func:`label_columns` order."""
    vals: list[str] = []
    for t in tasks:
        y = sample.targets[t.name]
        if t.kind == "classification":
            vals.append(str(int(y)))
        elif t.kind in ("regression", "landmarks"):
            vals += [repr(float(v)) for v in np.asarray(y).ravel()]
    return vals


def png_bytes(array: np.ndarray) -> bytes:
    """A uint8 (H, W) or (H, W, 3) array as PNG file bytes (lossless, deterministic)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def quantise_image(image: np.ndarray) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> 8-bit (H, W) or (H, W, 3) as stored on disk."""
    q = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return q[0] if q.shape[0] == 1 else q.transpose(1, 2, 0)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_region_samples(region: Region, root: Path, n: int = SAMPLES_PER_REGION, size: int = SAMPLE_SIZE) -> dict:
    """Write ``n`` cases of ``region`` (held-out demo seeds) under ``root/<region>``; returns its manifest entry."""
    out = root / region.name
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    seg = region.coupling.segmentation
    seeds = select_seeds(region, n, size, start=DEMO_SEED_OFFSET)
    label_rows, latent_rows = [], []
    latent_keys: list[str] = []
    for i, seed in enumerate(seeds):
        case = f"{region.name}_{i:03d}"
        s = region.sample(seed, size=size)
        (out / "images" / f"{case}.png").write_bytes(png_bytes(quantise_image(s.image)))
        (out / "masks" / f"{case}.png").write_bytes(png_bytes(s.targets[seg].astype(np.uint8)))
        label_rows.append([case, str(seed), *label_values(s, region.tasks)])
        latent_keys = latent_keys or sorted(s.latents)
        latent_rows.append([case, *(repr(s.latents[k]) for k in latent_keys)])
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "seed", *label_columns(region.tasks)])
        w.writerows(label_rows)
    with open(out / "latents.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", *latent_keys])
        w.writerows(latent_rows)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    return {
        "generator_version": region.generator_version,
        "size": size,
        "relatedness": 1.0,
        "seeds": seeds,
        "seed_range": [DEMO_SEED_OFFSET, DEMO_SEED_OFFSET + DEMO_SEED_SPAN],
        "seed_note": "held-out demo seeds: disjoint from every training, validation and test split",
        "segmentation_task": seg,
        "files": {str(p.relative_to(root)): _sha256(p) for p in files},
    }


def write_samples(root: Path | None = None, regions: Iterable[str] = REGION_NAMES, progress: bool = False) -> dict:
    """Write the bundled store for ``regions`` and its manifest; returns the manifest."""
    from mtdl_kit import __version__

    root = Path(root) if root is not None else default_root()
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"regions": {}}
    manifest.update({"store_version": STORE_VERSION, "library_version": __version__})
    names = list(regions)
    if progress:
        from tqdm import tqdm

        names = tqdm(names, desc="writing samples", unit="region")
    for name in names:
        manifest["regions"][name] = write_region_samples(get_region(name), root, size=sample_size(name))
    manifest["regions"] = dict(sorted(manifest["regions"].items(), key=lambda kv: REGION_NAMES.index(kv[0])))
    manifest_path.write_text(to_json(manifest, indent=1) + "\n")  # strict JSON (hashes and counts)
    return manifest


def load_manifest(root: Path | None = None) -> dict:
    """Read ``manifest.json``; raise ``FileNotFoundError`` that says how to rebuild it."""
    root = Path(root) if root is not None else default_root()
    path = root / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"No sample manifest at {path}; run `mtdl-kit samples` to write the bundled samples.")
    return json.loads(path.read_text())


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def load_samples(region: str, root: Path | None = None, *, verify: bool = True) -> list[Sample]:
    """Load the bundled cases of ``region`` as :class:`Sample` objects (images as stored, 8-bit).

    Args:
        region: region name.
        root: store root (default :func:`default_root`).
        verify: check each file's sha256 against the manifest first.

    Raises:
        ValueError: if a file's hash does not match the manifest (tampered or stale store).
    """
    reg = get_region(region)
    root = Path(root) if root is not None else default_root()
    entry = load_manifest(root)["regions"].get(region)
    if entry is None:
        raise FileNotFoundError(f"Region {region!r} is not in the sample store {root}; run `mtdl-kit samples`.")
    if verify:
        for rel, digest in entry["files"].items():
            if _sha256(root / rel) != digest:
                raise ValueError(f"{root / rel}: sha256 differs from the manifest; run `mtdl-kit samples` to rebuild.")
    with open(root / region / "labels.csv", newline="") as f:
        labels = list(csv.DictReader(f))
    with open(root / region / "latents.csv", newline="") as f:
        latents = {row.pop("case_id"): {k: float(v) for k, v in row.items()} for row in csv.DictReader(f)}
    samples = []
    for row in labels:
        case = row["case_id"]
        img = _read_png(root / region / "images" / f"{case}.png").astype(np.float32) / 255.0
        img = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
        targets: dict[str, np.ndarray] = {
            entry["segmentation_task"]: _read_png(root / region / "masks" / f"{case}.png").astype(np.int64)
        }
        for t in reg.tasks:
            if t.kind == "classification":
                targets[t.name] = np.asarray(int(row[t.name]), dtype=np.int64)
            elif t.kind == "regression":
                cols = [t.name] if t.num_outputs == 1 else [f"{t.name}__{i}" for i in range(t.num_outputs)]
                targets[t.name] = np.array([float(row[c]) for c in cols], dtype=np.float32)
            elif t.kind == "landmarks":
                pts = [[float(row[f"{t.name}__{k}_{a}"]) for a in ("row", "col")] for k in range(t.num_outputs)]
                targets[t.name] = np.array(pts, dtype=np.float32)
            elif t.kind == "reconstruction":
                targets[t.name] = img.copy()
        samples.append(
            Sample(
                image=img,
                targets=targets,
                latents=latents[case],
                region=region,
                seed=int(row["seed"]),
                spacing_mm=reg.spacing_mm(img.shape[-1]),
                meta={"case_id": case, "source": "bundled"},
            )
        )
    return samples


def regenerates_as_image(stored: np.ndarray, regenerated: np.ndarray) -> bool:
    """Whether a stored 8-bit image is its regeneration: the same shape, and at most :data:`IMAGE_LEVEL_FLIPS` of
    its values (at least one) one grey level apart, none further."""
    if stored.shape != regenerated.shape:
        return False
    apart = np.abs(stored.astype(np.int16) - regenerated.astype(np.int16))
    return int(apart.max(initial=0)) <= 1 and int((apart > 0).sum()) <= max(1, int(IMAGE_LEVEL_FLIPS * apart.size))


def verify_samples(root: Path | None = None, regions: Iterable[str] | None = None) -> list[str]:
    """Check the store: file hashes and regeneration from seeds. Returns a list of problems (empty = ok)."""
    root = Path(root) if root is not None else default_root()
    manifest = load_manifest(root)
    problems: list[str] = []
    for name in regions or manifest["regions"]:
        entry = manifest["regions"].get(name)
        if entry is None:
            problems.append(f"{name}: missing from the manifest")
            continue
        reg = get_region(name)
        if entry["generator_version"] != reg.generator_version:
            problems.append(f"{name}: generator version {entry['generator_version']} != {reg.generator_version}")
        intact = set()
        for rel, digest in entry["files"].items():
            path = root / rel
            if not path.exists():
                problems.append(f"{rel}: missing")
            elif _sha256(path) != digest:
                problems.append(f"{rel}: sha256 mismatch")
            else:
                intact.add(rel)
        label_rows: dict[str, list[str]] = {}
        if f"{name}/labels.csv" in intact:
            with open(root / name / "labels.csv", newline="") as f:
                label_rows = {row[0]: row[2:] for row in list(csv.reader(f))[1:]}
        for i, seed in enumerate(entry["seeds"]):
            case = f"{name}_{i:03d}"
            s = reg.sample(seed, size=entry["size"])
            expected = {
                f"{name}/images/{case}.png": quantise_image(s.image),
                f"{name}/masks/{case}.png": s.targets[entry["segmentation_task"]].astype(np.uint8),
            }
            for rel, array in expected.items():
                same = regenerates_as_image if "/images/" in rel else np.array_equal
                if rel in intact and not same(_read_png(root / rel), array):
                    problems.append(f"{rel}: differs from the regeneration of seed {seed}")
            if case in label_rows and label_rows[case] != label_values(s, reg.tasks):
                problems.append(f"{name}/labels.csv: labels of {case} differ from the regeneration of seed {seed}")
    return problems

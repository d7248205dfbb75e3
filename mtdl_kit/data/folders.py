"""Bring your own data: three dataset layouts read into the same items as :class:`PhantomDataset`.

Layouts (:func:`open_dataset` detects which):

1. **folder + CSV** (the layout of the bundled ``data_samples/<region>/``)::

       root/images/<case_id>.<png|jpg|tif|bmp|dcm|nii|nii.gz>
       root/masks/<case_id>.png          optional; class indices (one folder per segmentation task:
                                         ``masks/`` when there is one, ``masks_<task>/`` otherwise)
       root/labels.csv                   case_id, one column per classification/regression output
                                         (names of :func:`mtdl_kit.data.samples.label_columns`), and
                                         optional ``image``, ``mask`` / ``mask__<task>``, ``split``

   An empty cell (or NA, NaN, null, none) is a missing label. A ``mask`` cell holds a path
   (relative to ``root`` or ``masks/``), ``yes``/``1`` (``masks/<case_id>.png``) or nothing / ``no``.

2. **Medical Segmentation Decathlon ``dataset.json``** (Antonelli et al., "The Medical Segmentation
   Decathlon", Nat. Commun. 13:4128, 2022) extended with task keys::

       {"labels": {"0": "background", "1": "liver", "2": "lesion (non-enhancing)", "3": "lesion (enhancing)"},
        "modality": {"0": "CT"},
        "training": [{"image": "./imagesTr/a.nii.gz", "label": "./labelsTr/a.nii.gz",
                      "malignancy": 1, "lesion_diameter": 23.5, "slice": 40, "split": "train"}]}

3. **MedMNIST ``.npz``** (Yang et al., "MedMNIST v2", Sci. Data 10:41, 2023): ``train_images``
   (N, H, W[, 3]) uint8 and ``train_labels`` (N, L), likewise ``val_*`` and ``test_*``; read with
   ``numpy.load(allow_pickle=False)`` (the ``medmnist`` package's classes assert the official sample
   counts). Classification only; label column ``j`` is called ``label_<j>`` (``label`` if L = 1).

Tasks come from a region (all of them or a subset) or from a custom list of :class:`TaskSpec`.
``task_map`` renames the user's columns / JSON keys to the toolkit's names, e.g.
``{"diagnosis": "melanoma", "image_id": "case_id"}``.

Items are dicts of tensors exactly as :func:`~mtdl_kit.data.phantom.sample_to_tensors` makes them,
plus ``"case_id"`` and a boolean ``"<task>__present"`` per task. A missing target is filled with
zeros and flagged ``False`` (``fill_missing=True``, so the default DataLoader collation works);
with ``fill_missing=False`` it is left out and :func:`collate` fills it. The trainer's masked
losses (:func:`mtdl_kit.losses.compute_losses`) and :func:`mtdl_kit.evaluation.collect_predictions`
skip unlabelled cases.

The layout parsers live in :mod:`mtdl_kit.data.layouts` (``common``, ``csv_folder``, ``decathlon``,
``medmnist``); this module holds the dataset, :func:`detect_layout`, :func:`open_dataset`,
:func:`check_dataset` and :func:`collate`. Import the public names from :mod:`mtdl_kit.data`.

Structural problems (missing files, bad labels, duplicate ids) raise :class:`DataError` when a
dataset is opened; file contents are decoded on access. :func:`check_dataset` decodes everything
and lists *all* problems.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mtdl_kit.data.layouts.common import LAYOUT_HINT, LAYOUTS, PLANE_KEYS, Case, ProblemReport, check_task_map
from mtdl_kit.data.layouts.csv_folder import parse_csv_folder
from mtdl_kit.data.layouts.decathlon import parse_decathlon
from mtdl_kit.data.layouts.medmnist import parse_medmnist
from mtdl_kit.data.masks import check_same_plane, read_mask
from mtdl_kit.data.phantom import sample_to_tensors
from mtdl_kit.data.preprocess import default_window, prepare_image
from mtdl_kit.data.readers.common import DataError, RawImage, check_file_name, display_name, error_text
from mtdl_kit.data.readers.raw import read_raw
from mtdl_kit.data.tasks import resolve_tasks
from mtdl_kit.regions.base import Region, Sample, TaskSpec

__all__ = ["DatasetCheck", "FolderDataset", "check_dataset", "collate", "detect_layout", "open_dataset"]

#: hint of a file a reader failed on in an unforeseen way (a variant of a format no check anticipated)
UNREADABLE_HINT = (
    "The file uses a variant of its format the readers do not handle. Convert it (e.g. to a grey-scale or RGB "
    "PNG, or a NIfTI with one number per voxel) or leave the case out; see docs/bring_your_own_data.md, section 2."
)


@contextlib.contextmanager
def _reading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a reader's unforeseen exception into a :class:`DataError` naming ``path`` (the cause chained).

    The readers raise :class:`DataError` for every problem they anticipate; a file that breaks one in an
    unforeseen way (a format variant no check covers) must still give a message, never a traceback.
    """
    try:
        yield
    except DataError:
        raise
    except Exception as exc:
        raise DataError(path, f"could not be read ({error_text(exc)})", UNREADABLE_HINT) from exc


def _zeros(task: TaskSpec, size: int, channels: int) -> torch.Tensor:
    if task.kind == "segmentation":
        return torch.zeros((size, size), dtype=torch.int64)
    if task.kind == "classification":
        return torch.zeros((), dtype=torch.int64)
    if task.kind == "regression":
        return torch.zeros((task.num_outputs,), dtype=torch.float32)
    if task.kind == "landmarks":
        return torch.zeros((task.num_outputs, 2), dtype=torch.float32)
    return torch.zeros((channels, size, size), dtype=torch.float32)


class FolderDataset(Dataset):
    """Cases of a user's dataset as items the models and the trainer consume (see the module docstring).

    Build it with :func:`open_dataset`. ``ds.sample(i)`` gives the :class:`Sample`; ``ds[i]`` the item
    dict; :meth:`split` a train/test pair; :meth:`check` decodes every case and lists problems.

    Attributes:
        root: the dataset path.
        layout: ``"csv"``, ``"decathlon"`` or ``"medmnist"``.
        region: the region (``None`` for a custom task set).
        tasks: the task specs items carry.
        channels: image channels.
        size: image side in pixels.
        cases: the :class:`Case` list.
    """

    def __init__(
        self,
        cases: Sequence[Case],
        *,
        root: Path,
        layout: str,
        region: Region | None,
        tasks: Sequence[TaskSpec],
        channels: int,
        size: int,
        intensity: str | tuple[float, float] = "auto",
        rgba: str = "composite",
        fit: str = "pad",
        mask_values: Mapping[int, int] | None = None,
        region_window: str | None = None,
        cache: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        fill_missing: bool = True,
        _cache: dict[str, Sample] | None = None,
    ) -> None:
        self.cases = list(cases)
        self.root = root
        self.layout = layout
        self.region = region
        self.tasks = tuple(tasks)
        self.channels = channels
        self.size = size
        self.intensity = intensity
        self.rgba = rgba
        self.fit = fit
        self.mask_values = dict(mask_values) if mask_values else None
        self.region_window = region_window
        self.transform = transform
        self.fill_missing = fill_missing
        self._cache = _cache if _cache is not None else ({} if cache else None)

    # ---- access
    def __len__(self) -> int:
        return len(self.cases)

    @property
    def case_ids(self) -> list[str]:
        """Case identifiers in item order."""
        return [c.case_id for c in self.cases]

    def _raw(self, case: Case) -> RawImage:
        if case.pixels is not None:
            pixels = np.asarray(case.pixels)
            return RawImage(pixels, "NumPy", case.where, bits=8 if pixels.dtype == np.uint8 else None)
        return read_raw(case.image, **case.plane)

    def sample(self, index: int) -> Sample:
        """The decoded :class:`Sample` of case ``index`` (targets only for labelled tasks).

        Raises:
            DataError: for a corrupt image or mask, a mask whose size differs from the image's, a
                mask class index out of range, or any other failure while decoding a file (named in
                the message, the original exception chained).
        """
        case = self.cases[index]
        if self._cache is not None and case.case_id in self._cache:
            return self._cache[case.case_id]
        with _reading(case.image if case.image is not None else case.where):
            raw = self._raw(case)
            image, geometry = prepare_image(
                raw,
                channels=self.channels,
                size=self.size,
                intensity=self.intensity,
                rgba=self.rgba,
                fit=self.fit,
                region_window=self.region_window,
            )
        targets: dict[str, np.ndarray] = {}
        by_name = {t.name: t for t in self.tasks}
        for name, path in case.masks.items():
            with _reading(path):
                mask = read_mask(path, num_classes=by_name[name].num_outputs, values=self.mask_values, **case.plane)
                check_same_plane(raw, mask)
                targets[name] = geometry.mask(mask.array)
        for name, value in case.targets.items():
            targets[name] = geometry.points(value) if by_name[name].kind == "landmarks" else value
        for t in self.tasks:
            if t.kind == "reconstruction":
                targets[t.name] = image.copy()
        fallback = self.region.spacing_mm(self.size) if self.region is not None else 1.0
        sample = Sample(
            image=image,
            targets=targets,
            latents={},
            region=self.region.name if self.region is not None else "custom",
            seed=None,
            spacing_mm=geometry.spacing_mm(raw.spacing_mm, fallback),
            meta={"case_id": case.case_id, "source": raw.name, "format": raw.format, "split": case.split},
        )
        if self._cache is not None:
            self._cache[case.case_id] = sample
        return sample

    def __getitem__(self, index: int) -> dict[str, Any]:
        item: dict[str, Any] = sample_to_tensors(self.sample(index), self.tasks)
        for t in self.tasks:
            present = t.name in item
            item[f"{t.name}__present"] = torch.tensor(present)
            if not present and self.fill_missing:
                item[t.name] = _zeros(t, self.size, self.channels)
        item["case_id"] = self.cases[index].case_id
        return self.transform(item) if self.transform is not None else item

    # ---- views
    def subset(self, indices: Sequence[int]) -> FolderDataset:
        """A dataset of some cases (same options, shared cache)."""
        out = FolderDataset.__new__(FolderDataset)
        out.__dict__.update(self.__dict__)
        out.cases = [self.cases[i] for i in indices]
        return out

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> tuple[FolderDataset, FolderDataset]:
        """(train, test): by the cases' ``split`` values if any, else a seeded shuffle of the sorted case ids.

        With split values: ``train`` (and unassigned cases) train; ``test`` cases test, or ``val``
        cases when there is no ``test``. Without: ``round(test_fraction * n)`` cases (at least one)
        chosen by ``numpy.random.default_rng(seed)`` test, the rest train. The default seed is fixed,
        so every run (and every training seed of a comparison) sees the same test set.

        Raises:
            DataError: when one side would be empty.
        """
        splits = [c.split for c in self.cases]
        if any(s is not None for s in splits):
            test_name = "test" if "test" in splits else "val"
            train = [i for i, s in enumerate(splits) if s in (None, "train")]
            test = [i for i, s in enumerate(splits) if s == test_name]
        else:
            if not 0.0 < test_fraction < 1.0:
                raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
            order = sorted(range(len(self.cases)), key=lambda i: self.cases[i].case_id)
            perm = np.random.default_rng(seed).permutation(len(order))
            n_test = min(max(1, round(test_fraction * len(order))), len(order) - 1)
            test = sorted(order[j] for j in perm[:n_test])
            train = sorted(order[j] for j in perm[n_test:])
        if not train or not test:
            raise DataError(
                self.root,
                f"the split leaves {len(train)} training and {len(test)} test cases",
                "Give both train and test cases (split column), or at least two cases.",
            )
        return self.subset(train), self.subset(test)

    # ---- reports
    def label_counts(self) -> dict[str, int]:
        """Number of cases labelled for each task (before decoding)."""
        counts = {}
        for t in self.tasks:
            if t.kind == "segmentation":
                counts[t.name] = sum(t.name in c.masks for c in self.cases)
            elif t.kind == "reconstruction":
                counts[t.name] = len(self.cases)
            else:
                counts[t.name] = sum(t.name in c.targets for c in self.cases)
        return counts

    def describe(self) -> str:
        """One-paragraph summary: layout, cases, labelled cases per task, splits."""
        counts = ", ".join(f"{k} {v}" for k, v in self.label_counts().items())
        splits = {s: sum(c.split == s for c in self.cases) for s in ("train", "val", "test")}
        split_text = ", ".join(f"{k} {v}" for k, v in splits.items() if v) or "none (seeded shuffle)"
        where = self.region.name if self.region is not None else "custom tasks"
        return (
            f"{display_name(self.root)}: {self.layout} layout, {len(self)} cases for {where}, "
            f"{self.channels} channel(s) at {self.size} px; labelled cases per task: {counts}; splits: {split_text}."
        )

    def unlabelled_notes(self) -> list[str]:
        """One line per task that some cases lack: how many, and that they are treated as unlabelled.

        Partial labels are fine (the trainer's masked losses skip the unlabelled cases), but a person
        checking a dataset should see that a mask or a label column was not found for some cases,
        e.g. ``"2 of 6 cases without a disc_cup mask: treated as unlabelled for disc_cup"``.
        """
        notes = []
        n = len(self.cases)
        for task, count in self.label_counts().items():
            missing = n - count
            if missing:
                kind = next(t.kind for t in self.tasks if t.name == task)
                what = "mask" if kind == "segmentation" else "label"
                cases = "case" if n == 1 else "cases"
                notes.append(f"{missing} of {n} {cases} without a {task} {what}: treated as unlabelled for {task}")
        return notes

    def check(self) -> list[str]:
        """Decode every case; return one message per problem (empty = all good).

        Every case is decoded, whatever happens to the others; any exception while reading a case
        becomes that case's message (never a traceback), so the list is complete in one pass.
        """
        problems = []
        for i, case in enumerate(self.cases):
            try:
                self.sample(i)
            except DataError as exc:
                problems.append(str(exc))
            except Exception as exc:  # not from a reader (those are DataErrors): still one listed problem
                where = case.image if case.image is not None else case.where
                problems.append(str(DataError(where, f"could not be read ({error_text(exc)})", UNREADABLE_HINT)))
        return problems


def detect_layout(path: str | os.PathLike[str]) -> str:
    """``"csv"``, ``"decathlon"`` or ``"medmnist"`` for a dataset path.

    Raises:
        DataError: if the path does not exist or matches no layout.
    """
    p = Path(path)
    check_file_name(p.name)
    if not p.exists():
        raise DataError(p, "does not exist", LAYOUT_HINT)
    if p.is_file():
        if p.suffix.lower() == ".npz":
            return "medmnist"
        if p.suffix.lower() == ".json":
            return "decathlon"
        raise DataError(p, "is a file but not a .npz or dataset .json", LAYOUT_HINT)
    if (p / "dataset.json").is_file():
        return "decathlon"
    if (p / "images").is_dir() or (p / "labels.csv").is_file():
        return "csv"
    if not any(not e.name.startswith(".") for e in os.scandir(p)):
        raise DataError(p, "the folder is empty", LAYOUT_HINT)
    raise DataError(p, "no recognised dataset layout (no images/, labels.csv or dataset.json)", LAYOUT_HINT)


def _open(
    path: str | os.PathLike[str],
    region: Region | str | None,
    report: ProblemReport,
    *,
    tasks: Sequence[TaskSpec] | Sequence[str] | str | None = None,
    task_map: Mapping[str, str] | None = None,
    channels: int | None = None,
    layout: str | None = None,
    split: str | None = None,
    size: int | None = None,
    **options: Any,
) -> FolderDataset | None:
    reg, specs, ch = resolve_tasks(region, tasks, channels)
    root = Path(path)
    layout = layout or detect_layout(root)
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown layout {layout!r}; allowed layouts are {LAYOUTS}.")
    if split is not None and split not in ("train", "val", "test"):
        raise ValueError(f"split must be None, 'train', 'val' or 'test', got {split!r}.")
    reserved = ("case_id", "image", "split", *PLANE_KEYS)
    hint = ""
    if layout == "medmnist":
        cases, specs = parse_medmnist(root, reg, tasks, specs, task_map, report, split)
    else:
        check_task_map(task_map, specs, reserved)
        if layout == "csv":
            cases = parse_csv_folder(root, specs, task_map, report)
        else:
            json_path = root / "dataset.json" if root.is_dir() else root
            cases, hint = parse_decathlon(json_path, specs, task_map, report)
            root = json_path
        if split is not None:
            cases = [c for c in cases if c.split == split]
    if not cases:
        if report.strict or not report.problems:
            report.add(DataError(root, "no usable cases", LAYOUT_HINT))
        return None
    region_window = default_window(reg) or ("soft_tissue" if hint == "CT" else None)
    size = int(size if size is not None else (reg.default_size if reg is not None else 128))
    return FolderDataset(
        cases,
        root=root,
        layout=layout,
        region=reg,
        tasks=specs,
        channels=ch,
        size=size,
        region_window=region_window,
        **options,
    )


def open_dataset(
    path: str | os.PathLike[str],
    region: Region | str | None = None,
    *,
    tasks: Sequence[TaskSpec] | Sequence[str] | str | None = None,
    task_map: Mapping[str, str] | None = None,
    channels: int | None = None,
    layout: str | None = None,
    split: str | None = None,
    size: int | None = None,
    intensity: str | tuple[float, float] = "auto",
    rgba: str = "composite",
    fit: str = "pad",
    mask_values: Mapping[int, int] | None = None,
    cache: bool = False,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    fill_missing: bool = True,
) -> FolderDataset:
    """Open a user's dataset (folder + CSV, Decathlon ``dataset.json`` or MedMNIST ``.npz``).

    Args:
        path: dataset folder, ``dataset.json`` or ``.npz`` file.
        region: region name/object whose tasks, channels and size the data should fit; ``None``
            with a custom ``tasks`` list of :class:`TaskSpec` and ``channels``.
        tasks: ``None`` (all the region's tasks; for MedMNIST its classification tasks), a subset of
            task names, or custom :class:`TaskSpec` objects.
        task_map: the user's column / key names -> the toolkit's (task columns of
            :func:`~mtdl_kit.data.samples.label_columns`, ``case_id``, ``image``, ``mask``, ``split``;
            for MedMNIST ``label_<j>`` -> task name).
        channels: image channels (default: the region's).
        layout: force ``"csv"``, ``"decathlon"`` or ``"medmnist"`` (default: detected).
        split: keep only cases of this split (``"train"``, ``"val"``, ``"test"``).
        size: image side (default: the region's ``default_size``).
        intensity, rgba, fit: see :func:`mtdl_kit.data.preprocess.prepare_image`.
        mask_values: remap stored mask values to class indices, e.g. ``{255: 1}``.
        cache: keep decoded samples in memory.
        transform: applied to each item dict (e.g. :func:`~mtdl_kit.data.phantom.default_augmentation`).
        fill_missing: give unlabelled tasks zero targets (with ``<task>__present`` False).

    Raises:
        DataError: for the first structural problem (use :func:`check_dataset` to see them all).
        ValueError: for bad arguments (unknown region, task names or options).
    """
    ds = _open(
        path,
        region,
        ProblemReport(strict=True),
        tasks=tasks,
        task_map=task_map,
        channels=channels,
        layout=layout,
        split=split,
        size=size,
        intensity=intensity,
        rgba=rgba,
        fit=fit,
        mask_values=mask_values,
        cache=cache,
        transform=transform,
        fill_missing=fill_missing,
    )
    assert ds is not None  # strict mode raises instead
    return ds


class DatasetCheck(list[str]):
    """What :func:`check_dataset` found: the list of problem messages, plus notes and a summary.

    It *is* the list of problems (``check_dataset(...) == []`` means the dataset opens and every
    case decodes), so code that treats the result as a list keeps working. The extra attributes say
    what is fine but worth knowing.

    Attributes:
        notes: what will be treated as unlabelled (one line per task some cases lack, from
            :meth:`FolderDataset.unlabelled_notes`); partial labels are not a problem.
        summary: :meth:`FolderDataset.describe` of the cases that could be listed (``""`` when the
            structure could not be read at all).
    """

    def __init__(self, problems: Sequence[str] = (), notes: Sequence[str] = (), summary: str = "") -> None:
        super().__init__(problems)
        self.notes = list(notes)
        self.summary = summary


def check_dataset(
    path: str | os.PathLike[str],
    region: Region | str | None = None,
    *,
    tasks: Sequence[TaskSpec] | Sequence[str] | str | None = None,
    task_map: Mapping[str, str] | None = None,
    channels: int | None = None,
    layout: str | None = None,
    mask_values: Mapping[int, int] | None = None,
    size: int | None = None,
) -> list[str]:
    """Every problem of a dataset at once: structure, labels, and each image and mask decoded.

    Same arguments as :func:`open_dataset`. Returns one ``"<file>: <problem>. <hint>"`` message per
    problem, as a :class:`DatasetCheck` (a list); an empty list means the dataset opens and every case
    decodes. Every case is checked completely (a case with a bad label still has its image and mask
    decoded), and no exception escapes for a problem of the data: a file that breaks a reader in an
    unforeseen way is listed with the reader's message. ``result.notes`` says how many cases lack
    each task's mask or label (treated as unlabelled); ``result.summary`` describes the dataset.
    """
    report = ProblemReport(strict=False)
    try:
        ds = _open(
            path,
            region,
            report,
            tasks=tasks,
            task_map=task_map,
            channels=channels,
            layout=layout,
            size=size,
            mask_values=mask_values,
        )
    except ValueError as exc:  # DataError included: a problem that stops the structural pass
        return DatasetCheck([*report.problems, str(exc)])
    except OSError as exc:  # e.g. a labels.csv you may not read, or a folder in its place
        where = exc.filename if exc.filename is not None else path
        problem = DataError(
            where, f"could not be read ({exc.strerror or error_text(exc)})", "Check the file and its permissions."
        )
        return DatasetCheck([*report.problems, str(problem)])
    except Exception as exc:  # any other failure of the structural pass: still a message, never a traceback
        return DatasetCheck([*report.problems, str(DataError(path, f"could not be read ({error_text(exc)})"))])
    if ds is None:
        return DatasetCheck(report.problems)
    return DatasetCheck(report.problems + ds.check(), ds.unlabelled_notes(), ds.describe())


def collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """DataLoader ``collate_fn`` for items that may lack some targets.

    Tensors are stacked; a target missing from some items is filled with zeros shaped like the
    others' and its ``<task>__present`` entry is ``False`` there (a target no item has stays absent,
    which the trainer also treats as unlabelled). Strings (``case_id``) become lists.
    """
    if not items:
        raise ValueError("collate needs at least one item.")
    keys: list[str] = []
    for it in items:
        keys += [k for k in it if k not in keys]
    out: dict[str, Any] = {}
    for key in keys:
        if key.endswith("__present"):
            continue
        values = [it.get(key) for it in items]
        template = next(v for v in values if v is not None)
        if not isinstance(template, torch.Tensor):
            out[key] = values
            continue
        out[key] = torch.stack([torch.as_tensor(v) if v is not None else torch.zeros_like(template) for v in values])
        if key != "image":
            flags = [
                (v is not None) and bool(it.get(f"{key}__present", True)) for v, it in zip(values, items, strict=True)
            ]
            if not all(flags) or any(f"{key}__present" in it for it in items):
                out[f"{key}__present"] = torch.tensor(flags, dtype=torch.bool)
    return out

"""Argument types and shared argument groups of the ``mtdl-kit`` command line.

Each type raises :class:`argparse.ArgumentTypeError` (or ``ValueError``) with a message that names the problem and
an example of what is expected, so that argparse prints one line instead of a traceback.
"""

from __future__ import annotations

import argparse

from mtdl_kit.regions.base import REGION_NAMES


def region_list(text: str) -> list[str]:
    names = list(REGION_NAMES) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in REGION_NAMES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown region(s) {bad}; allowed: all or a comma list of {REGION_NAMES}")
    return names


def task_map(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if not pairs or any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
        raise argparse.ArgumentTypeError(f"expected COLUMN=TASK pairs separated by commas, got {text!r}")
    return {k.strip(): v.strip() for k, v in pairs}


def mask_values(text: str) -> dict[int, int]:
    """``"255:1,128:2"`` -> ``{255: 1, 128: 2}`` (stored mask value -> class index)."""
    out: dict[int, int] = {}
    for item in text.split(","):
        parts = [part.strip() for part in item.split(":")]
        try:
            stored, cls = (int(part) for part in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            stored, cls = None, None
        if stored is None or cls is None or cls < 0:
            raise argparse.ArgumentTypeError(
                f"expected STORED:CLASS pairs of integers separated by commas (class >= 0), e.g. 255:1,128:2; "
                f"got {text!r} (bad item {item.strip()!r})"
            )
        if stored in out:
            raise argparse.ArgumentTypeError(f"the stored value {stored} is mapped twice in {text!r}")
        out[stored] = cls
    return out


def positive_int(text: str) -> int:
    """``"2"`` -> ``2``; a clear error for ``"0"``, ``"-1"`` or ``"two"``."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, e.g. 2; got {text!r}")
    return value


def label_budgets(text: str) -> tuple[int, ...]:
    """``"16,256"`` -> ``(16, 256)``; a clear error for anything else."""
    try:
        return tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise ValueError(
            f"--budget must be label counts separated by commas, e.g. 16 or 16,256; got {text!r}."
        ) from None


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", required=True, choices=REGION_NAMES)
    p.add_argument("--tasks", default="all", help="all or a comma list of the region's task names")
    p.add_argument("--level", default="parameters", choices=("parameters", "features"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--size", type=int, default=64, help="image size (multiple of 16)")
    p.add_argument("--n-train", type=int, default=512)
    p.add_argument("--n-test", type=int, default=128)
    p.add_argument("--relatedness", type=float, default=1.0)
    p.add_argument("--nuisance", default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="output folder (default: runs/...)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_arguments(p, required=False)


def add_data_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    if required:
        p.add_argument("path", help="dataset folder (images/ + labels.csv, or dataset.json) or MedMNIST .npz")
    else:
        p.add_argument(
            "--data-dir", default=None, help="train on your own dataset (folder + CSV, dataset.json or .npz)"
        )
    p.add_argument("--task-map", type=task_map, default=None, help="rename your columns: COLUMN=TASK[,COLUMN=TASK...]")
    p.add_argument(
        "--mask-values",
        type=mask_values,
        default=None,
        help="remap stored mask values to class indices: STORED:CLASS[,STORED:CLASS...], e.g. 255:1 for 0/255 "
        "masks (values not listed keep their value)",
    )


def add_lab_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``: where a lab experiment's networks train (:attr:`mtdl_kit.lab.protocol.LabProtocol.device`)."""
    from mtdl_kit.lab.protocol import LAB_DEVICES

    parser.add_argument(
        "--device",
        default="cpu",
        choices=LAB_DEVICES,
        help="where every network trains (default: cpu, as every committed result; cuda trains under autocast, and "
        "its runs are cached under their own key and say where they ran)",
    )

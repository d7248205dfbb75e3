"""The dashboard's upload corpus: bad files (each with the message fragment it must produce) and valid ones.

Files are written in memory with Pillow, pydicom and nibabel (the builders of tests/file_builders.py,
shared with tests/data and benchmarks/bench_bad_inputs.py, whose corpus is larger).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from dicom_helpers import unreadable_transfer_syntax
from file_builders import Writers, corpus, png_header_only

GREY = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(array), mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(array)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _with_writers(fn) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return fn(Writers(Path(tmp))).read_bytes()


def _dicom_undecodable() -> tuple[str, bytes, str]:
    ts = unreadable_transfer_syntax()
    if ts is not None:
        data = _with_writers(
            lambda f: f.dicom(
                "c.dcm", np.zeros((32, 32), np.int16), transfer_syntax=ts, encapsulated=b"\xff\xd8\xff\xf7" + bytes(64)
            )
        )
        return "compressed.dcm", data, "no installed decoder handles it"
    from pydicom.uid import JPEG2000Lossless

    data = _with_writers(
        lambda f: f.dicom(
            "c.dcm", np.zeros((32, 32), np.int16), transfer_syntax=JPEG2000Lossless, encapsulated=bytes(64)
        )
    )
    return "compressed.dcm", data, "cannot decode the pixel data"


def _nifti(array: np.ndarray) -> bytes:
    return _with_writers(lambda f: f.nifti("v.nii", array))


def bad_uploads() -> list[tuple[str, str, bytes, str]]:
    """``(case id, file name, bytes, message fragment)`` for every kind of bad upload."""
    rng = np.random.default_rng(0)
    png = _png(rng.integers(0, 256, (64, 64), dtype=np.uint8))
    nan = np.zeros((20, 20, 5), np.float32)
    nan[3, 3, 2] = np.nan
    inf = np.zeros((20, 20, 5), np.float32)
    inf[3, 3, 2] = np.inf
    dcm = _with_writers(lambda f: f.dicom("a.dcm", np.zeros((64, 64), np.int16), slope=1, intercept=0))
    nii = _with_writers(lambda f: f.nifti("v.nii.gz", rng.normal(size=(30, 30, 30)).astype(np.float32)))
    cname, cdata, cfrag = _dicom_undecodable()
    cases = [
        ("zero_bytes", "empty.png", b"", "empty (0 bytes)"),
        ("truncated_png", "cut.png", png[:200], "corrupt or truncated"),
        ("text_as_png", "notes.png", b"this is not an image, just text\n" * 4, "unknown or corrupt file format"),
        ("bomb_72mp", "bomb.png", png_header_only(9_000, 8_000), "above the 64-megapixel limit"),
        ("bomb_huge", "huge.png", png_header_only(100_000, 100_000), "decompression bomb"),
        ("one_pixel", "dot.png", _png(np.zeros((1, 1), np.uint8)), "only 1x1 pixels"),
        ("dicom_no_pixels", "report.dcm", _with_writers(lambda f: f.dicom("r.dcm", None)), "no pixel data"),
        ("dicom_undecodable", cname, cdata, cfrag),
        ("dicom_truncated", "cut.dcm", dcm[: len(dcm) - 3000], "corrupt or truncated"),
        ("dicom_without_marker", "raw.dcm", b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + bytes(200), "'DICM' marker"),
        ("nifti_nan", "nan.nii", _nifti(nan), "1 NaN and 0 infinite"),
        ("nifti_inf", "inf.nii", _nifti(inf), "0 NaN and 1 infinite"),
        ("nifti_truncated", "cut.nii.gz", nii[: len(nii) // 2], "truncated"),
        ("wrong_extension", "photo.png", _jpeg(np.stack([GREY] * 3, -1)), "the extension '.png' says PNG"),
        ("non_utf8_name", "caf\ufffd.png", _png(GREY), "not valid UTF-8"),  # as a browser sends b"caf\xe9"
        ("control_char_name", "scan\x07.png", _png(GREY), "control characters"),
        ("gif", "anim.gif", _gif(), "GIF files are not supported"),
        ("too_large", "huge.png", b"\x89PNG\r\n\x1a\n" + bytes(20 * 1024 * 1024), "above the limit of 20 MB"),
        ("truncated_jpeg", "cut.jpg", _jpeg(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))[:400], "corrupt"),
    ]
    # issue 15: a strip that once exhausted the server, silent corruption, misleading messages
    shared = ("png_16x20000", "nifti_gz_cut_2_3", "nifti_dim0", "dicom_pixels_too_long", "nifti_f64_huge")
    cases += [(c.kind, c.name, c.make(), c.expect) for c in corpus(heavy=False) if c.kind in shared]
    return cases


def _gif() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(GREY).save(buf, format="GIF")
    return buf.getvalue()


def valid_uploads() -> list[tuple[str, str, bytes]]:
    """``(case id, file name, bytes)`` of files that must be converted and run."""
    rng = np.random.default_rng(1)
    grey16 = (rng.random((96, 80)) * 65535).astype(np.uint16)
    rgba = np.dstack([rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), np.full((64, 64), 200, np.uint8)])
    return [
        ("png_16bit", "scan16.png", _png(grey16)),
        ("png_rgba", "photo_rgba.png", _png(rgba, mode="RGBA")),
        ("jpeg_rgb", "photo.jpg", _jpeg(np.stack([GREY] * 3, -1))),
        ("dicom_ct", "slice.dcm", _with_writers(lambda f: f.dicom("s.dcm", (GREY.astype(np.int16) * 4 - 500)))),
        (
            "nifti_3d",
            "volume.nii.gz",
            _with_writers(lambda f: f.nifti("v.nii.gz", rng.normal(size=(48, 48, 6)).astype(np.float32))),
        ),
        ("nifti_4d", "bold.nii", _nifti(rng.normal(size=(20, 20, 4, 5)).astype(np.float32))),  # volume 0 is shown
    ]


def plane_uploads() -> dict[str, tuple[str, bytes]]:
    """Uploads with several planes (a 4-D NIfTI, a 4-frame DICOM), a plain and a blank PNG: ``id -> (name, bytes)``."""
    rng = np.random.default_rng(2)
    frames = np.stack([np.full((32, 32), 100 * k, np.uint16) for k in range(4)]) + rng.integers(
        0, 50, (4, 32, 32)
    ).astype(np.uint16)
    return {
        "nifti_4d": (
            "bold.nii.gz",
            _with_writers(lambda f: f.nifti("b.nii.gz", rng.normal(size=(20, 24, 18, 3)).astype(np.float32))),
        ),
        "dicom_frames": ("cine.dcm", _with_writers(lambda f: f.dicom("c.dcm", frames, modality="MR"))),
        "png": ("photo.png", _png(GREY)),
        "blank": ("blank.png", _png(np.zeros((64, 64), np.uint8))),
    }

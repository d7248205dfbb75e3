"""PNG, JPEG, TIFF and BMP through Pillow (EXIF orientation, palettes, RGBA, multi-page)."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from mtdl_kit.data.readers.common import (
    DECODE_ERRORS,
    DataError,
    RawImage,
    Source,
    check_pixels,
    error_text,
)


@contextlib.contextmanager
def _pillow_errors(src: Source, fmt: str, step: str) -> Iterator[None]:
    """Pillow's failures during ``step`` (read, decode) as :class:`DataError`: a bomb, or a corrupt file."""
    from PIL import Image

    try:
        yield
    except Image.DecompressionBombError as exc:
        raise DataError(src.name, f"refused as a possible decompression bomb ({error_text(exc)})") from None
    except DECODE_ERRORS as exc:
        raise DataError(
            src.name, f"cannot {step} this {fmt} file ({error_text(exc)})", "The file is corrupt or truncated."
        ) from None


def read_pillow(src: Source, fmt: str, frame: int | None, max_pixels: int) -> RawImage:
    """One frame of a PNG/JPEG/TIFF/BMP file (Pillow), EXIF orientation applied."""
    from PIL import Image, ImageOps

    with _pillow_errors(src, fmt, "read"), warnings.catch_warnings():
        # the size is checked below, with our own (lower) limit
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(io.BytesIO(src.read()), formats=[fmt])
    with im:
        w, h = im.size
        check_pixels(src.name, h, w, max_pixels)
        n_frames = int(getattr(im, "n_frames", 1))
        meta: dict[str, Any] = {"mode": im.mode, "frames": n_frames}
        if n_frames > 1 or frame not in (None, 0):
            index = n_frames // 2 if frame is None else frame
            if not 0 <= index < n_frames:
                raise DataError(src.name, f"frame {frame} does not exist", f"Choose a frame in 0..{n_frames - 1}.")
            im.seek(index)
            meta["frame"] = index
        with _pillow_errors(src, fmt, "decode"):
            im.load()
            im = ImageOps.exif_transpose(im)
        mode = im.mode
        if mode == "1":
            im = im.convert("L")
        elif mode in ("P", "PA"):
            meta["palette_indices"] = np.asarray(im.convert("P") if mode == "PA" else im).copy()
            im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
        elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La"):
            im = im.convert("RGBA" if mode in ("RGBa",) else ("LA" if mode == "La" else "RGB"))
        array = np.asarray(im)
        array = np.array(array, dtype=array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype)
    bits = {1: 8, 2: 16, 4: 32}.get(array.dtype.itemsize) if array.dtype.kind in "ui" else None
    return RawImage(array=array, format=fmt, name=src.name, bits=bits, meta=meta)

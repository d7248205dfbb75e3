"""PNG, JPEG, TIFF and BMP through Pillow (EXIF orientation, palettes, RGBA, multi-page).

The plane's size and memory are checked from the header before anything is decoded
(:func:`~mtdl_kit.data.readers.common.check_plane`). With ``reduce_to``, a large plane is shrunk
while decoding: JPEG through libjpeg's DCT scaling (Pillow ``Image.draft``, 1/2, 1/4, 1/8), every
other mode by an integer box average (``Image.reduce``), so a 64-megapixel image never reaches
numpy at full size.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from mtdl_kit.data.readers.common import (
    DECODE_ERRORS,
    DataError,
    PlaneChoices,
    RawImage,
    Source,
    box_reduce,
    check_plane,
    error_text,
    reduction_factor,
)

#: EXIF orientations (tag 0x0112) that swap width and height (TIFF/EP, CIPA DC-008 section 4.6.4).
_TRANSPOSING = (5, 6, 7, 8)
#: Pillow modes ``Image.reduce`` handles; others are converted (or reduced in numpy) first.
_REDUCIBLE = ("L", "LA", "PA", "RGB", "RGBA", "I", "F", "CMYK", "YCbCr", "La", "RGBa", "RGBX", "LAB", "HSV")
#: most pages of a TIFF that are counted; a file with more is refused (each page costs a seek, ~0.3 ms).
MAX_PAGES = 2048


@contextlib.contextmanager
def _pillow_errors(src: Source, fmt: str, step: str) -> Iterator[None]:
    """Pillow's failures during ``step`` (read, decode) as :class:`DataError`: a bomb, or a corrupt file."""
    from PIL import Image

    try:
        yield
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise DataError(
            src.name,
            f"refused as a possible decompression bomb ({error_text(exc)})",
            "Downscale or tile the image first.",
        ) from None
    except DECODE_ERRORS as exc:
        reason = error_text(exc)
        hint = "The file is corrupt or truncated."
        if "too large" in reason.lower():  # Pillow's limits on text chunks (PngImagePlugin.MAX_TEXT_CHUNK)
            hint = "Its metadata inflates beyond Pillow's safety limit (a possible decompression bomb): re-save the "
            hint += "image without its text chunks."
        raise DataError(src.name, f"cannot {step} this {fmt} file ({reason})", hint) from None


def _bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow holds per pixel of ``mode`` (multi-band images are stored 4 bytes a pixel)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


@contextlib.contextmanager
def _open(src: Source, fmt: str) -> Iterator[Any]:
    """The Pillow image of ``src``, header read (nothing decoded), size checked by Pillow's own bomb guard."""
    from PIL import Image

    with _pillow_errors(src, fmt, "read"), warnings.catch_warnings():
        # the size is checked by check_plane, with our own (lower) limit
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(io.BytesIO(src.read()), formats=[fmt])
    with im:
        yield im


def _frames(src: Source, im: Any, fmt: str) -> int:
    """Frames a person can choose from: TIFF pages (at most :data:`MAX_PAGES`), MPO images; 1 for an animated PNG."""
    if fmt == "PNG":
        return 1  # an animated PNG: frame k needs all frames before it decoded; only the first is read
    with _pillow_errors(src, fmt, "read"):
        if fmt == "TIFF":
            count = 1
            while count <= MAX_PAGES:
                try:
                    im.seek(count)
                except EOFError:
                    break
                count += 1
            im.seek(0)
            if count > MAX_PAGES:
                raise DataError(
                    src.name,
                    f"the TIFF has more than {MAX_PAGES} pages",
                    "Save the page you need as its own file (e.g. tiffsplit, or Pillow's ImageSequence).",
                )
            return count
        return int(getattr(im, "n_frames", 1))


def pillow_choices(src: Source, fmt: str) -> PlaneChoices:
    """The frames (TIFF pages) of a PNG/JPEG/TIFF/BMP file, from its header."""
    with _open(src, fmt) as im:
        w, h = im.size
        n = _frames(src, im, fmt)
    return PlaneChoices(
        format=fmt,
        shape=(n, h, w) if n > 1 else (h, w),
        frames=n,
        default={"frame": n // 2} if n > 1 else {},
    )


def read_pillow(src: Source, fmt: str, frame: int | None, max_pixels: int, reduce_to: int | None = None) -> RawImage:
    """One frame of a PNG/JPEG/TIFF/BMP file (Pillow), EXIF orientation applied.

    Args:
        src: the file.
        fmt: its sniffed format.
        frame: TIFF page (multi-page files; default the middle one); only frame 0 of other files.
        max_pixels: largest accepted plane.
        reduce_to: shrink the plane while decoding by the largest integer factor that keeps both
            sides >= this (``None``: full resolution).
    """
    from PIL import ImageOps

    with _open(src, fmt) as im:
        w, h = im.size
        check_plane(src.name, h, w, itemsize=_bytes_per_pixel(im.mode), max_pixels=max_pixels)
        n_frames = _frames(src, im, fmt)
        meta: dict[str, Any] = {"mode": im.mode, "frames": n_frames}
        notes: list[str] = []
        animated = fmt == "PNG" and int(getattr(im, "n_frames", 1)) > 1
        if animated:
            if frame not in (None, 0):
                raise DataError(
                    src.name,
                    f"frame {frame} of an animated PNG cannot be chosen (only its first frame is read)",
                    "Save the frame you need as its own PNG.",
                )
            notes.append(f"This is an animated PNG with {im.n_frames} frames; its first frame is shown.")
        elif n_frames > 1 or frame not in (None, 0):
            index = n_frames // 2 if frame is None else int(frame)
            if not 0 <= index < n_frames:
                raise DataError(
                    src.name,
                    f"frame {frame} does not exist",
                    f"This file has {n_frames} frame(s): choose 0..{n_frames - 1}.",
                )
            with _pillow_errors(src, fmt, "read"):
                im.seek(index)
            meta["frame"] = index
            if n_frames > 1:
                notes.append(f"This {fmt} file has {n_frames} pages (frames 0-{n_frames - 1}); frame {index} is shown.")
            w, h = im.size  # pages may differ in size
            check_plane(src.name, h, w, itemsize=_bytes_per_pixel(im.mode), max_pixels=max_pixels)
        transposed = im.getexif().get(0x0112) in _TRANSPOSING
        factor = reduction_factor(h, w, reduce_to)
        with _pillow_errors(src, fmt, "decode"):
            if factor > 1 and fmt == "JPEG":
                im.draft(im.mode, (math.ceil(w / factor), math.ceil(h / factor)))  # DCT scaling: 1/2, 1/4 or 1/8
            im.load()
            done = max(1, round(w / im.size[0]))  # what draft already did
            rest = factor // done
            if rest > 1 and im.mode in ("1", "P"):
                im = im.convert("L" if im.mode == "1" else ("RGBA" if "transparency" in im.info else "RGB"))
            if rest > 1 and im.mode in _REDUCIBLE:
                im = im.reduce(rest)
                done *= rest
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
    if done < factor and factor // done > 1:  # modes Pillow cannot reduce (16-bit grey): in numpy
        array = box_reduce(array, factor // done)
        done = factor
    bits = {1: 8, 2: 16, 4: 32}.get(array.dtype.itemsize) if array.dtype.kind in "ui" else None
    return RawImage(
        array=array,
        format=fmt,
        name=src.name,
        bits=bits,
        meta=meta,
        notes=notes,
        reduction=done,
        file_shape=((w, h) if transposed else (h, w)) if done > 1 else None,
    )

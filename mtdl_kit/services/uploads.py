"""Browser uploads for the dashboard: :func:`mtdl_kit.data.read_upload` plus the checks a browser needs,
and the frames, slices and volumes an upload offers (:func:`upload_choices`).

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mtdl_kit.data import PlaneChoices
    from mtdl_kit.regions.base import Sample


def _check_browser_name(name: str) -> str:
    """The name as a browser sent it; refused when undecodable bytes arrived as U+FFFD (or lone surrogates)."""
    from mtdl_kit.data import DataError

    text = str(name)
    if "\ufffd" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise DataError(
            text.encode("utf-8", "replace").decode("utf-8"),
            "the file name is not valid UTF-8 (undecodable bytes arrived as '\ufffd')",
            "Rename the file using UTF-8 characters (letters, digits, '_-.').",
        )
    return text


def read_dashboard_upload(
    name: str,
    data: bytes,
    region: str,
    *,
    size: int = 128,
    frame: int | None = None,
    slice_index: int | None = None,
    axis: str = "axial",
    volume: int | None = None,
) -> Sample:
    """:func:`mtdl_kit.data.read_upload` for a browser upload, plus a file-name check.

    A browser turns the bytes of a file name that is not valid UTF-8 into U+FFFD before the server
    sees it; such a name (or one with lone surrogates) is refused with the same message as
    ``read_upload`` gives for a non-UTF-8 name on disk. ``frame``, ``slice_index``, ``axis`` and
    ``volume`` choose the plane of a multi-frame or volume upload (:func:`upload_choices`).

    Raises:
        DataError: the message says what is wrong and what is accepted.
    """
    from mtdl_kit.data import read_upload

    text = _check_browser_name(name)
    return read_upload(text, data, region, size=size, frame=frame, slice_index=slice_index, axis=axis, volume=volume)


def upload_sample(name: str, data: bytes, region: str, **options: Any) -> tuple[Sample | None, str | None]:
    """``(sample, None)`` for a readable upload, ``(None, message)`` otherwise — never raises.

    The message is the :class:`~mtdl_kit.data.DataError`'s (what is wrong, what is accepted); any
    other failure (a reader bug) is reported with the list of accepted files, so that a bad file
    can never take a dashboard session down. ``sample.meta["notes"]`` and ``["warnings"]`` hold
    the sentences to show with the image (which frame or slice is shown; a blank image).
    ``options`` are those of :func:`read_dashboard_upload` (``size``, ``frame``, ``slice_index``,
    ``axis``, ``volume``).
    """
    from mtdl_kit.data import ACCEPTED, DataError

    try:
        sample = read_dashboard_upload(name, data, region, **options)
        return sample, None
    except DataError as exc:
        return None, str(exc)
    except Exception as exc:  # a reader bug must never take the session down
        return None, f"{name!r} could not be read ({type(exc).__name__}). {ACCEPTED}"


def upload_choices(name: str, data: bytes) -> PlaneChoices | None:
    """The frames, slices and volumes an upload offers, from its header (``None`` if it cannot say) — never raises.

    The dashboard shows a frame, slice or volume chooser only when :attr:`PlaneChoices.choosable`.
    """
    from mtdl_kit.data import MAX_FILE_BYTES, DataError, plane_choices

    try:
        if len(data) > MAX_FILE_BYTES:
            return None
        return plane_choices(bytes(data), name=_check_browser_name(name), max_bytes=MAX_FILE_BYTES)
    except DataError:
        return None
    except Exception:  # the upload itself reports the problem
        return None


__all__ = ["read_dashboard_upload", "upload_choices", "upload_sample"]

"""Browser uploads for the dashboard: :func:`mtdl_kit.data.read_upload` plus the checks a browser needs.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mtdl_kit.regions.base import Sample


def read_dashboard_upload(name: str, data: bytes, region: str, *, size: int = 128) -> Sample:
    """:func:`mtdl_kit.data.read_upload` for a browser upload, plus a file-name check.

    A browser turns the bytes of a file name that is not valid UTF-8 into U+FFFD before the server
    sees it; such a name (or one with lone surrogates) is refused with the same message as
    ``read_upload`` gives for a non-UTF-8 name on disk.

    Raises:
        DataError: the message says what is wrong and what is accepted.
    """
    from mtdl_kit.data import DataError, read_upload

    text = str(name)
    if "\ufffd" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise DataError(
            text.encode("utf-8", "replace").decode("utf-8"),
            "the file name is not valid UTF-8 (undecodable bytes arrived as '\ufffd')",
            "Rename the file using UTF-8 characters (letters, digits, '_-.').",
        )
    return read_upload(text, data, region, size=size)


def upload_sample(name: str, data: bytes, region: str, *, size: int = 128) -> tuple[Sample | None, str | None]:
    """``(sample, None)`` for a readable upload, ``(None, message)`` otherwise — never raises.

    The message is the :class:`~mtdl_kit.data.DataError`'s (what is wrong, what is accepted); any
    other failure (a reader bug) is reported with the list of accepted files, so that a bad file
    can never take a dashboard session down.
    """
    from mtdl_kit.data import ACCEPTED, DataError

    try:
        return read_dashboard_upload(name, data, region, size=size), None
    except DataError as exc:
        return None, str(exc)
    except Exception as exc:  # a reader bug must never take the session down
        return None, f"{name!r} could not be read ({type(exc).__name__}). {ACCEPTED}"


__all__ = ["read_dashboard_upload", "upload_sample"]

"""Shared by the data and dashboard tests (not collected: the name does not start with ``test_``)."""

from __future__ import annotations


def unreadable_transfer_syntax() -> str | None:
    """A compressed DICOM transfer syntax none of the installed pixel decoders can read (None if all can)."""
    from pydicom import uid
    from pydicom.pixels import get_decoder

    for ts in (uid.JPEGLSLossless, uid.HTJ2KLossless, uid.JPEGLSNearLossless):
        decoder = get_decoder(ts)
        if decoder is None or not decoder.is_available:
            return ts
    return None

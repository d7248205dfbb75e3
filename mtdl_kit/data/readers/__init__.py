"""File readers: one module per format family, all returning a :class:`RawImage`.

- :mod:`~mtdl_kit.data.readers.common`: limits, accepted formats, :class:`DataError`, sniffing.
- :mod:`~mtdl_kit.data.readers.raster`: PNG, JPEG, TIFF, BMP (Pillow).
- :mod:`~mtdl_kit.data.readers.dicom`: DICOM (pydicom).
- :mod:`~mtdl_kit.data.readers.nifti`: NIfTI (nibabel).
- :mod:`~mtdl_kit.data.readers.raw`: :func:`read_raw`, which sniffs and dispatches.

Import the public names (``DataError``, ``RawImage``, ``read_raw``, ``sniff_format``, ...) from
:mod:`mtdl_kit.data`; inside the data package, import a name from the module that defines it.
"""

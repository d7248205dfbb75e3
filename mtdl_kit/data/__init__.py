"""Data: fresh phantoms by index, the bundled sample store, and the user's own files and datasets.

The public API is :data:`__all__`; import it from here (``from mtdl_kit.data import open_dataset``).
Each name lives in exactly one submodule:

- :mod:`.readers` (``common``, ``raster``, ``dicom``, ``nifti``, ``raw``): :func:`read_raw` turns a
  PNG/JPEG/TIFF/BMP, DICOM or NIfTI file into a :class:`RawImage`; every problem is a :class:`DataError`;
  :func:`plane_choices` lists a file's frames, slices and volumes from its header (:class:`PlaneChoices`).
- :mod:`.preprocess`: :func:`prepare_image` (intensities, channels, size) and its :class:`Geometry`.
- :mod:`.masks`: :func:`read_mask`. :mod:`.tasks`: task sets and label values as targets.
- :mod:`.files`: :func:`read_sample` and :func:`read_upload`, one file into a
  :class:`~mtdl_kit.regions.base.Sample`.
- :mod:`.folders` (parsers in :mod:`.layouts`): :func:`open_dataset` and :func:`check_dataset` (its
  :class:`DatasetCheck`) for folder + CSV, Decathlon ``dataset.json`` and MedMNIST ``.npz`` datasets.
- :mod:`.phantom`: :class:`PhantomDataset`. :mod:`.samples`: the bundled sample store.
  :mod:`.demo`: demo files and datasets written from phantoms.

Importing a name loads only the submodule that defines it (PEP 562 lazy loading, as
scientific-python SPEC 1): ``import mtdl_kit.data`` and ``from mtdl_kit.data import load_samples``
stay free of torch (the dashboard's cold start); ``PhantomDataset`` and ``open_dataset`` bring it.
"""

from __future__ import annotations

from mtdl_kit.lazy import attach

#: public name -> submodule of :mod:`mtdl_kit.data` that defines it.
_SUBMODULE_OF: dict[str, str] = {
    "ACCEPTED": "readers.common",
    "DataError": "readers.common",
    "DatasetCheck": "folders",
    "FolderDataset": "folders",
    "Geometry": "preprocess",
    "LUMINANCE": "readers.common",
    "MAX_FILE_BYTES": "readers.common",
    "PLANTED_PROBLEMS": "demo",
    "PhantomDataset": "phantom",
    "PlaneChoices": "readers.common",
    "RawImage": "readers.common",
    "SAMPLES_PER_REGION": "samples",
    "WINDOW_PRESETS": "readers.common",
    "apply_window": "preprocess",
    "break_copy": "demo",
    "check_dataset": "folders",
    "collate": "folders",
    "default_augmentation": "phantom",
    "default_root": "samples",
    "label_columns": "samples",
    "load_manifest": "samples",
    "load_samples": "samples",
    "open_dataset": "folders",
    "plane_choices": "readers.raw",
    "prepare_image": "preprocess",
    "read_mask": "masks",
    "read_raw": "readers.raw",
    "read_sample": "files",
    "read_upload": "files",
    "resolve_intensity": "preprocess",
    "sample_to_tensors": "phantom",
    "sniff_format": "readers.common",
    "stored_to_hu": "demo",
    "strip_extension": "readers.common",
    "verify_samples": "samples",
    "write_ct_dicom": "demo",
    "write_nifti": "demo",
    "write_phantom_folder": "demo",
    "write_samples": "samples",
}

__all__ = [
    "ACCEPTED",
    "LUMINANCE",
    "MAX_FILE_BYTES",
    "PLANTED_PROBLEMS",
    "SAMPLES_PER_REGION",
    "WINDOW_PRESETS",
    "DataError",
    "DatasetCheck",
    "FolderDataset",
    "Geometry",
    "PhantomDataset",
    "PlaneChoices",
    "RawImage",
    "apply_window",
    "break_copy",
    "check_dataset",
    "collate",
    "default_augmentation",
    "default_root",
    "label_columns",
    "load_manifest",
    "load_samples",
    "open_dataset",
    "plane_choices",
    "prepare_image",
    "read_mask",
    "read_raw",
    "read_sample",
    "read_upload",
    "resolve_intensity",
    "sample_to_tensors",
    "sniff_format",
    "stored_to_hu",
    "strip_extension",
    "verify_samples",
    "write_ct_dicom",
    "write_nifti",
    "write_phantom_folder",
    "write_samples",
]

__getattr__, __dir__ = attach(__name__, _SUBMODULE_OF, __all__)

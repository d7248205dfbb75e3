"""Dataset layout parsers, each turning a path into :class:`~mtdl_kit.data.layouts.common.Case` objects.

- :mod:`~mtdl_kit.data.layouts.common`: constants, problem report, cases, task columns, label parsing.
- :mod:`~mtdl_kit.data.layouts.csv_folder`: folder + CSV.
- :mod:`~mtdl_kit.data.layouts.decathlon`: Decathlon ``dataset.json``.
- :mod:`~mtdl_kit.data.layouts.medmnist`: MedMNIST ``.npz``.

Open datasets with :func:`mtdl_kit.data.folders.open_dataset`; import public names from there.
"""

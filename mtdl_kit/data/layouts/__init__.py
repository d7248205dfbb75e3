"""Dataset layout parsers, each turning a path into :class:`~mtdl_kit.data.layouts.common.Case` objects.

- :mod:`~mtdl_kit.data.layouts.common`: constants, problem report, cases, task columns, label parsing.
- :mod:`~mtdl_kit.data.layouts.csv_folder`: folder + CSV.
- :mod:`~mtdl_kit.data.layouts.decathlon`: Decathlon ``dataset.json``.
- :mod:`~mtdl_kit.data.layouts.medmnist`: MedMNIST ``.npz``.

Open datasets with :func:`mtdl_kit.data.open_dataset` (defined in :mod:`mtdl_kit.data.folders`);
import the public names from :mod:`mtdl_kit.data`.
"""

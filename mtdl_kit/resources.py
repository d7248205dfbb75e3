"""Where mtdl-kit finds what it ships: bundled samples, pretrained weights and results tables.

One lookup, in this order, so that a source checkout, an editable install and a wheel install all
work, and a course server can keep the data elsewhere:

1. an environment variable naming that one folder: ``$MTDL_KIT_SAMPLES`` (samples),
   ``$MTDL_KIT_ZOO`` (weights), ``$MTDL_KIT_RESULTS`` (results tables);
2. ``$MTDL_KIT_DATA_DIR``: a folder laid out like the repository (``data_samples/``,
   ``data_samples/weights/``, ``benchmarks/results/``);
3. the package data of an installed wheel, ``mtdl_kit/_bundled/`` (found with
   :mod:`importlib.resources`; the wheel build copies the folders there);
4. the source checkout the package was imported from (the folder holding ``pyproject.toml``).

A folder that is named but missing raises :class:`FileNotFoundError` with the fix, instead of
silently falling back to another copy.

The code the package ships besides the library, the dashboard (:func:`dashboard_app`) and the
lessons (:func:`notebooks_dir`), is looked up in the installed package first and then in the source
checkout, but not under ``$MTDL_KIT_DATA_DIR``: it must match the installed library's version.
``$MTDL_KIT_NOTEBOOKS`` may name another lesson folder (e.g. a course's own copy).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: environment variable of a folder laid out like the repository
DATA_DIR_ENV = "MTDL_KIT_DATA_DIR"
#: the folder inside the installed package where a wheel carries the bundled data
PACKAGED = "_bundled"
#: environment variable of another lesson folder (:func:`notebooks_dir`)
NOTEBOOKS_ENV = "MTDL_KIT_NOTEBOOKS"


def bundled_root() -> Path:
    """The folder that holds ``data_samples/`` and ``benchmarks/results/`` (see the module docstring).

    Raises:
        FileNotFoundError: ``$MTDL_KIT_DATA_DIR`` names a missing folder, or no bundled data exists
            (a wheel built without it and no source checkout).
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        root = Path(env)
        if not root.is_dir():
            raise FileNotFoundError(
                f"${DATA_DIR_ENV} is {env!r}, which is not a folder. Point it at a folder holding data_samples/ "
                "and benchmarks/results/ (e.g. a copy of the repository), or unset it."
            )
        return root
    root = _installed_root()
    if root is None:
        raise FileNotFoundError(
            "mtdl-kit cannot find its bundled data: this installation has no mtdl_kit/_bundled/ folder and is not "
            f"a source checkout. Reinstall the wheel, or set ${DATA_DIR_ENV} to a copy of the repository."
        )
    return root


def _packaged() -> Path:
    """``mtdl_kit/_bundled/`` of the imported package (it exists only in a wheel install)."""
    return Path(str(resources.files("mtdl_kit").joinpath(PACKAGED)))


def _installed_root() -> Path | None:
    """The package's ``_bundled/`` folder, else the source checkout, else ``None``."""
    packaged = _packaged()
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "data_samples").is_dir():
        return checkout
    return None


def is_packaged(path: str | Path) -> bool:
    """Whether ``path`` lies inside the installed package's ``_bundled/`` folder.

    Such files belong to the installation (a reinstall replaces them): copy them before editing.
    """
    return Path(path).resolve().is_relative_to(_packaged().resolve())


def _shipped(*parts: str, what: str) -> Path:
    root = _installed_root()
    path = root.joinpath(*parts) if root is not None else None
    if path is None or not path.exists():
        where = f"{root} has no {'/'.join(parts)}" if root is not None else "this installation is not a source checkout"
        raise FileNotFoundError(
            f"mtdl-kit cannot find {what}: {where} (and there is no mtdl_kit/{PACKAGED}/ package data). "
            "Reinstall the wheel (pip install --force-reinstall mtdl_kit-*.whl) or run from a full source checkout."
        )
    return path


def _named(env_name: str, *parts: str) -> Path:
    env = os.environ.get(env_name)
    return Path(env) if env else bundled_root().joinpath(*parts)


def samples_dir() -> Path:
    """The bundled sample store: ``$MTDL_KIT_SAMPLES``, else ``data_samples/``."""
    return _named("MTDL_KIT_SAMPLES", "data_samples")


def weights_dir() -> Path:
    """The pretrained zoo: ``$MTDL_KIT_ZOO``, else ``data_samples/weights/``."""
    return _named("MTDL_KIT_ZOO", "data_samples", "weights")


def results_dir() -> Path:
    """The results tables the lessons read: ``$MTDL_KIT_RESULTS``, else ``benchmarks/results/``."""
    return _named("MTDL_KIT_RESULTS", "benchmarks", "results")


def dashboard_app() -> Path:
    """The Streamlit entry point ``dashboard/app.py`` (package data of a wheel, else the checkout's)."""
    return _shipped("dashboard", "app.py", what="the dashboard app")


def notebooks_dir() -> Path:
    """The lessons: ``$MTDL_KIT_NOTEBOOKS``, else ``notebooks/`` of the package data or the checkout.

    Raises:
        FileNotFoundError: ``$MTDL_KIT_NOTEBOOKS`` names a missing folder, or no lessons are bundled.
    """
    env = os.environ.get(NOTEBOOKS_ENV)
    if env:
        if not Path(env).is_dir():
            raise FileNotFoundError(
                f"${NOTEBOOKS_ENV} is {env!r}, which is not a folder. Point it at a folder of lesson notebooks, "
                "or unset it to use the bundled lessons."
            )
        return Path(env)
    return _shipped("notebooks", what="the lesson notebooks")

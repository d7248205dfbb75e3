"""Build hook only: the metadata lives in ``pyproject.toml`` (setuptools reads both).

A wheel must carry what :mod:`mtdl_kit.resources` looks for — the bundled data, the dashboard and
the lessons — but these stay at the repository root (``data_samples/``, ``benchmarks/results/``,
``dashboard/``, ``notebooks/``) so that the source checkout and an editable install use them in
place. This ``build_py`` copies them into ``mtdl_kit/_bundled/`` of the build folder, i.e. into the
wheel; ``MANIFEST.in`` puts the same folders into the sdist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: the package folder the wheel carries the data in (``mtdl_kit.resources.PACKAGED``)
BUNDLED = Path("mtdl_kit", "_bundled")
#: (folder relative to the repository root, glob of the files to carry, folder inside ``_bundled/``)
DATA = (
    ("data_samples", "**/*", "data_samples"),
    ("benchmarks/results", "*.csv", "benchmarks/results"),
    ("dashboard", "**/*.py", "dashboard"),
    # the project's Streamlit settings, read by `streamlit run` as the app's script-level config
    (".streamlit", "config.toml", "dashboard/.streamlit"),
    ("notebooks", "*.ipynb", "notebooks"),
)
#: files that must be there, or the wheel would install without its data
REQUIRED = (
    "data_samples/manifest.json",
    "data_samples/weights/manifest.json",
    "dashboard/app.py",
    ".streamlit/config.toml",
    "notebooks/00_start_here.ipynb",
)


def _skipped(rel: Path) -> bool:
    """Caches, bytecode and hidden files (e.g. an interrupted manifest write) never go into the wheel."""
    return any(part == "__pycache__" or part.startswith(".") for part in rel.parts) or rel.suffix in {".pyc", ".pyo"}


def bundled_files(root: Path = ROOT) -> Iterator[tuple[Path, Path]]:
    """The files to carry: (path relative to ``root``, path relative to ``_bundled/``)."""
    for folder, pattern, dest in DATA:
        for path in sorted((root / folder).glob(pattern)):
            inner = path.relative_to(root / folder)
            if path.is_file() and not _skipped(inner):
                yield path.relative_to(root), Path(dest) / inner


class BuildPyWithData(build_py):
    """``build_py`` that also copies the bundled files into ``<build_lib>/mtdl_kit/_bundled/``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # `pip install -e .`: resources.py finds everything in the checkout
            return
        missing = [name for name in REQUIRED if not (ROOT / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"Cannot build mtdl-kit without its bundled files: {', '.join(missing)} missing under {ROOT}. "
                "Build from a full checkout (or an sdist made from one)."
            )
        for rel, inside in bundled_files():
            dest = Path(self.build_lib) / BUNDLED / inside
            self.mkpath(str(dest.parent))
            self.copy_file(str(ROOT / rel), str(dest))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not self.editable_mode:
            outputs += [str(Path(self.build_lib) / BUNDLED / inside) for _, inside in bundled_files()]
        return outputs


setup(cmdclass={"build_py": BuildPyWithData})

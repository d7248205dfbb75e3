"""Build hook only: the metadata lives in ``pyproject.toml`` (setuptools reads both).

A wheel must carry the bundled data that :mod:`mtdl_kit.resources` looks for, but the data stays at
the repository root (``data_samples/``, ``benchmarks/results/``) so that the source checkout and an
editable install use it in place. This ``build_py`` copies it into ``mtdl_kit/_bundled/`` of the build
folder, i.e. into the wheel; ``MANIFEST.in`` puts the same folders into the sdist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: the package folder the wheel carries the data in (``mtdl_kit.resources.PACKAGED``)
BUNDLED = Path("mtdl_kit", "_bundled")
#: (folder relative to the repository root, glob of the files to carry)
DATA = (("data_samples", "**/*"), ("benchmarks/results", "*.csv"))
#: files that must be there, or the wheel would install without its data
REQUIRED = ("data_samples/manifest.json", "data_samples/weights/manifest.json")


def _skipped(rel: Path) -> bool:
    """Caches, bytecode and hidden files (e.g. an interrupted manifest write) never go into the wheel."""
    return any(part == "__pycache__" or part.startswith(".") for part in rel.parts) or rel.suffix in {".pyc", ".pyo"}


def bundled_files(root: Path = ROOT) -> Iterator[Path]:
    """The data files to carry, relative to ``root``."""
    for folder, pattern in DATA:
        for path in sorted((root / folder).glob(pattern)):
            rel = path.relative_to(root)
            if path.is_file() and not _skipped(rel):
                yield rel


class BuildPyWithData(build_py):
    """``build_py`` that also copies the bundled data into ``<build_lib>/mtdl_kit/_bundled/``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # `pip install -e .`: resources.py finds the data in the checkout
            return
        missing = [name for name in REQUIRED if not (ROOT / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"Cannot build mtdl-kit without its bundled data: {', '.join(missing)} missing under {ROOT}. "
                "Build from a full checkout (or an sdist made from one)."
            )
        for rel in bundled_files():
            dest = Path(self.build_lib) / BUNDLED / rel
            self.mkpath(str(dest.parent))
            self.copy_file(str(ROOT / rel), str(dest))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not self.editable_mode:
            outputs += [str(Path(self.build_lib) / BUNDLED / rel) for rel in bundled_files()]
        return outputs


setup(cmdclass={"build_py": BuildPyWithData})

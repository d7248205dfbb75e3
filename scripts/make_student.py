"""Write student copies of the tutorial notebooks: solutions replaced by stubs, outputs stripped.

Every code cell's ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block (nbgrader's markers) becomes
``# YOUR CODE HERE`` + ``raise NotImplementedError("Exercise: ...")`` at the marker's indentation; the
exercise title is the cell's first ``# Exercise ...`` comment. Run ``make student`` (or
``python scripts/make_student.py [--src notebooks] [--out notebooks/student]``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB_LINE = "# YOUR CODE HERE"
_TITLE = re.compile(r"^\s*#\s*(Exercise[^\n]*)$", re.MULTILINE)


def stub_source(source: str) -> str:
    """Replace every solution block of one cell's source by a ``NotImplementedError`` stub.

    Raises:
        ValueError: for an unmatched marker.
    """
    match = _TITLE.search(source)
    title = match.group(1).strip().rstrip(".") if match else "Exercise: complete this cell"
    if not title.startswith("Exercise:"):
        title = "Exercise: " + title.removeprefix("Exercise").lstrip(" :-0123456789.").strip()
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"Nested {BEGIN!r} in cell:\n{source}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}{STUB_LINE}", f"{indent}raise NotImplementedError({title!r})"]
        elif stripped == END:
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in cell:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in cell:\n{source}")
    return "\n".join(out)


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions stubbed and every output and execution count removed."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        if BEGIN in cell.source:
            cell.source = stub_source(cell.source)
    return nb


#: written beside the student copies: ``notebooks/jupytext.toml`` pairs each lesson with a ``.py``
#: source, and a student folder inside ``notebooks/`` would inherit that pairing (JupyterLab would
#: write a ``.py`` next to every copy); this keeps the copies plain notebooks
STUDENT_JUPYTEXT = 'formats = "ipynb"  # student copies: no paired text source (see scripts/make_student.py)\n'


def write_student_copies(src: Path, out: Path) -> list[Path]:
    """Write ``out/<name>.ipynb`` for every ``src/*.ipynb`` (and ``out/jupytext.toml``); return the notebooks."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "jupytext.toml").write_text(STUDENT_JUPYTEXT, encoding="utf-8")
    written = []
    for path in sorted(src.glob("*.ipynb")):
        nb = student_notebook(nbformat.read(path, as_version=4))
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=root / "notebooks")
    parser.add_argument("--out", type=Path, default=root / "notebooks" / "student")
    args = parser.parse_args(argv)
    for path in write_student_copies(args.src, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

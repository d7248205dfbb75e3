"""Lazy public APIs for packages (PEP 562, as scientific-python SPEC 1 describes).

A package declares ``__all__`` and a table ``{public name: submodule}``; importing a name then loads
only the submodule that defines it, so ``from mtdl_kit.models import FAMILIES`` or
``from mtdl_kit.data import load_samples`` stay free of torch (the dashboard's cold start).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def attach(
    package: str, submodule_of: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: names load from their submodule on first access.

    Submodules themselves (``package.<submodule>``) resolve too, so ``import package`` followed by
    ``package.build`` works as it would with eager imports.

    Args:
        package: the package's ``__name__``.
        submodule_of: public name -> submodule (relative, dotted) that defines it.
        public: the package's ``__all__``.
    """
    namespace = importlib.import_module(package).__dict__
    submodules = {m.split(".")[0] for m in submodule_of.values()}

    def get_attribute(name: str) -> Any:
        if name in submodule_of:
            value = getattr(importlib.import_module(f"{package}.{submodule_of[name]}"), name)
            namespace[name] = value  # later lookups skip this function
            return value
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def public_names() -> list[str]:
        return sorted(public)

    return get_attribute, public_names

"""Lazy re-exports for the stage packages: ``from corpus_tools.validate import validate_export`` works, and
importing one module of a stage (as the build's workers do) does not import the stage's other modules."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[list[str], Callable[[str], object]]:
    """``__all__`` and a module ``__getattr__`` (PEP 562) for ``package``: each name in ``names`` is taken from
    the module given beside it (``".driver"``, relative to ``package``) on first use."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name], package), name)

    return sorted(names), __getattr__

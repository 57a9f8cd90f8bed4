"""Build a release folder from a validated export: gold, splits, rows of every config, shards.

The stage's plain functions are importable from here (``from corpus_tools.build import build_release``); they are
loaded on first use, so importing one module of the stage does not import the others.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build_release": ".driver",
    "BuildResult": ".driver",
    "remove_killed_builds": ".driver",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)

"""The release folder as a contract: manifest, splits, card, checks, diff.

The stage's plain functions are importable from here (``from corpus_tools.release import check_release``); they are
loaded on first use, so importing one module of the stage does not import the others.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "check_release": ".checks",
    "read_manifest": ".manifest",
    "diff_releases": ".diff",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)

"""Validate Label Studio exports and document JSONL: the streaming driver over the core rules.

The stage's plain functions are importable from here (``from corpus_tools.validate import validate_export``); they are
loaded on first use, so importing one module of the stage does not import the others.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "validate_export": ".driver",
    "validate_task": ".driver",
    "validate_document": ".driver",
    "repair_utf16_export": ".driver",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)

"""Raw articles (newswire text files, JSONL, CSV) into Article records.

The stage's plain functions are importable from here (``from corpus_tools.ingest import ingest_paths``); they are
loaded on first use, so importing one module of the stage does not import the others.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ingest_paths": ".driver",
    "ingest_to_jsonl": ".driver",
    "read_articles_jsonl": ".driver",
    "write_articles_jsonl": ".driver",
    "article_id": ".driver",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)

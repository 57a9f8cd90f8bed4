"""Validate Label Studio exports and document JSONL: the streaming driver over the core rules.

The stage's plain functions are importable from here (``from corpus_tools.validate import validate_export``); they are
loaded on first use, so importing one module of the stage does not import the others.
"""

from corpus_tools.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "validate_export": ".driver",
    "validate_task": ".driver",
    "validate_document": ".driver",
    "repair_utf16_export": ".driver",
})

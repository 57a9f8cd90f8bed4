"""The release folder as a contract: manifest, splits, card, checks, diff.

The stage's plain functions are importable from here (``from corpus_tools.release import check_release``); they are
loaded on first use, so importing one module of the stage does not import the others.
"""

from corpus_tools.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "check_release": ".checks",
    "read_manifest": ".manifest",
    "diff_releases": ".diff",
})

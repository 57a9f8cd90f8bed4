"""Build a release folder from a validated export: gold, splits, rows of every config, shards.

The stage's plain functions are importable from here (``from corpus_tools.build import build_release``); they are
loaded on first use, so importing one module of the stage does not import the others.
"""

from corpus_tools.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "build_release": ".driver",
    "BuildResult": ".driver",
    "remove_killed_builds": ".driver",
})

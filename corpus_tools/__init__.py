"""corpus-tools: build annotated Arabic corpora with Label Studio and publish them as datasets.

The package re-exports plain library functions; the ``corpus-tools`` command is a thin
Typer layer over them (:mod:`corpus_tools.cli`).
"""

from corpus_tools._version import __version__
from corpus_tools.errors import CorpusToolsError
from corpus_tools.ontology import Ontology, check_ontology, load_ontology
from corpus_tools.report import Problem, Report
from corpus_tools.spans import Document, Relation, Span, bio_to_spans, spans_to_bio, tokenize

__all__ = [
    "CorpusToolsError",
    "Document",
    "Ontology",
    "Problem",
    "Relation",
    "Report",
    "Span",
    "__version__",
    "bio_to_spans",
    "check_ontology",
    "load_ontology",
    "spans_to_bio",
    "tokenize",
]

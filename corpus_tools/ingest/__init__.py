"""Raw articles (newswire text files, JSONL, CSV) into Article records.

The stage's plain functions are importable from here (``from corpus_tools.ingest import ingest_paths``); they are
loaded on first use, so importing one module of the stage does not import the others.
"""

from corpus_tools.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "ingest_paths": ".driver",
    "ingest_to_jsonl": ".driver",
    "read_articles_jsonl": ".driver",
    "write_articles_jsonl": ".driver",
    "article_id": ".driver",
})

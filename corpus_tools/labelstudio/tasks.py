"""Pure conversion from canonical records to Label Studio tasks and result lists.

* :func:`article_to_task`: an ingested Article record becomes a task whose ``data`` carries the
  article id (the idempotence key for re-imports);
* :func:`document_to_result`: canonical spans and relations become a Label Studio result list
  (span items with the span id as region id; relation items pointing at those ids).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from corpus_tools.artefacts import LS_DATA_KEY, LS_FROM_NAME, LS_TO_NAME
from corpus_tools.spans import Relation, Span

ARTICLE_ID_KEY = "article_id"
TASK_DATA_KEYS = ("title", "source", "lang", "sha256", "dateline", "meta")


def article_to_task(article: Mapping[str, object]) -> dict[str, object]:
    """A Label Studio task for an Article record; ``data.article_id`` identifies it."""
    data: dict[str, object] = {LS_DATA_KEY: article["text"], ARTICLE_ID_KEY: article["id"]}
    for key in TASK_DATA_KEYS:
        if key in article:
            data[key] = article[key]
    return {"data": data}


def span_to_item(span: Span, text: str | None = None) -> dict[str, object]:
    """One Label Studio span region; ``value.text`` is taken from the stored text when given."""
    value_text = text[span.start : span.end] if text is not None else span.text
    return {
        "id": span.id,
        "from_name": LS_FROM_NAME,
        "to_name": LS_TO_NAME,
        "type": "labels",
        "value": {"start": span.start, "end": span.end, "text": value_text, "labels": [span.label]},
    }


def relation_to_item(relation: Relation) -> dict[str, object]:
    """One Label Studio relation item, directed head → tail (``direction: right``)."""
    return {
        "from_id": relation.head,
        "to_id": relation.tail,
        "type": "relation",
        "direction": "right",
        "labels": [relation.label],
    }


def document_to_result(
    entities: Sequence[Span], relations: Sequence[Relation], text: str | None = None
) -> list[dict[str, object]]:
    """A Label Studio result list for canonical spans and relations (span ids become region ids)."""
    missing = [s for s in entities if not s.id]
    if missing:
        raise ValueError(f"spans need ids to become Label Studio regions: {missing[0]}")
    return [span_to_item(s, text) for s in entities] + [relation_to_item(r) for r in relations]

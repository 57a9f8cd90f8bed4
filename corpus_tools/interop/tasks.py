"""The ``tasks`` format: a Label Studio import file (a JSON array of tasks) with each document's entities and
relations as a prediction, written.

Each task is what ``ls import`` makes of an article (:func:`corpus_tools.labelstudio.tasks.article_to_task`:
``data.text``, ``data.article_id`` = the document id, title, source, lang, dateline and the text's sha256) with one
``predictions`` item whose result is :func:`corpus_tools.labelstudio.tasks.document_to_result` (span ids become
region ids, relations point at them).  The prediction's ``model_version`` is the option ``model_version``, else the
document's ``meta.model_version``, else ``convert``.  A span without an id gets ``span-N`` (its position).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from corpus_tools.interop.format import Context, Format
from corpus_tools.labelstudio.tasks import article_to_task, document_to_result
from corpus_tools.spans import Document
from corpus_tools.text import sha256_text

DEFAULT_MODEL_VERSION = "convert"


def document_to_task(doc: Document, model_version: str | None = None) -> dict[str, object]:
    """The Label Studio task of one document, its annotations as a prediction."""
    article: dict[str, object] = {"id": doc.id, "text": doc.text, "title": doc.title, "source": doc.source,
                                  "lang": doc.lang, "sha256": sha256_text(doc.text)}
    if doc.dateline is not None:
        article["dateline"] = doc.dateline
    task = article_to_task(article)
    taken = {s.id for s in doc.entities if s.id}
    entities = []
    for k, span in enumerate(doc.entities):
        if not span.id:
            new_id = f"span-{k}"
            while new_id in taken:
                new_id += "_"
            taken.add(new_id)
            span = replace(span, id=new_id)
        entities.append(span)
    meta = doc.meta if isinstance(doc.meta, dict) else {}
    version = model_version or meta.get("model_version") or DEFAULT_MODEL_VERSION
    prediction: dict[str, object] = {"model_version": str(version),
                                     "result": document_to_result(entities, doc.relations, doc.text)}
    if isinstance(meta.get("score"), int | float) and not isinstance(meta.get("score"), bool):
        prediction["score"] = meta["score"]
    task["predictions"] = [prediction]
    return task


def write_tasks(documents: Iterable[Document], path: Path, ctx: Context) -> None:
    model_version = ctx.options.get("model_version")
    with open(path, "x", encoding="utf-8", newline="\n") as out:
        out.write("[")
        for k, doc in enumerate(documents):
            out.write(",\n" if k else "\n")
            out.write(json.dumps(document_to_task(doc, model_version), ensure_ascii=False, separators=(",", ":")))
        out.write("\n]\n")


FORMAT = Format(
    name="tasks",
    summary="A Label Studio import file: one task per document, its entities and relations as a prediction.",
    writer=write_tasks,
    output="file",
    options={"model_version": "The predictions' model_version (default: the document's meta.model_version, else"
                              " convert)."},
)

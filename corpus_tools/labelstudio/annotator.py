"""Apply canonical annotations to Label Studio tasks, as an annotator would save them.

:func:`annotate_documents` reads canonical documents (JSONL, ``schemas/document.schema.json``),
finds each document's task by article id and saves its spans and relations as an annotation
by the key's user.  It is idempotent: a task that already has an annotation by this user is
left alone, or, with ``update=True``, that annotation's result is replaced.  A document id that
appears twice in the file is an error (``document-duplicate-id``).  Every document is
checked before anything is uploaded (:func:`~corpus_tools.labelstudio.checks.check_document`: the
task's stored text and the validator's document checks); errors refuse the whole run, warnings
are reported.
"""

from __future__ import annotations

from pathlib import Path

from corpus_tools.codes import DOCUMENT_DUPLICATE_ID
from corpus_tools.errors import InvalidDataError
from corpus_tools.labelstudio.checks import UPLOAD_INVALID_RECORD, UPLOAD_UNKNOWN_ARTICLE, check_document
from corpus_tools.labelstudio.client import LabelStudioClient, ProjectInfo
from corpus_tools.labelstudio.importer import existing_articles, iter_jsonl, project_lock
from corpus_tools.labelstudio.tasks import document_to_result
from corpus_tools.ontology import Ontology
from corpus_tools.report import Report, make_problem
from corpus_tools.spans import Document


def _user_id(value: object) -> object:
    return value.get("id") if isinstance(value, dict) else value


def annotate_documents(client: LabelStudioClient, project: ProjectInfo, path: Path, *, ontology: Ontology,
                       update: bool = False) -> Report:
    """Save each document of ``path`` as an annotation of its task; returns a report with counts.

    Raises :class:`InvalidDataError` (with the report) before uploading anything when a line is
    not a valid document, names no task of the project, or has errors against the ontology or the
    task's text (the validator's codes).  Warnings stay in the returned report.  Another import or
    annotate run into the project on this machine makes it raise ``LabelStudioError`` at once
    (:func:`~corpus_tools.labelstudio.importer.project_lock`).
    """
    with project_lock(client, project):
        return _annotate_locked(client, project, path, ontology=ontology, update=update)


def _annotate_locked(client: LabelStudioClient, project: ProjectInfo, path: Path, *, ontology: Ontology,
                     update: bool) -> Report:
    report = Report()
    documents: list[tuple[int, dict]] = []
    for line, _, _, record in iter_jsonl(path, "document.schema.json", UPLOAD_INVALID_RECORD, report):
        documents.append((line, record))
    tasks, _ = existing_articles(client, project)
    planned: list[tuple[int, Document]] = []
    first_line: dict[str, int] = {}
    for line, record in documents:
        doc = Document.from_dict(record)
        if doc.id in first_line:  # which of two annotations of one task would win is not for the tool to guess
            report.add(make_problem(DOCUMENT_DUPLICATE_ID, f"Document {doc.id!r} appears twice (first on line"
                                    f" {first_line[doc.id]}); keep one annotation per task.", file=str(path),
                                    line=line, json_path="$.id", details={"first_line": first_line[doc.id]}))
            continue
        first_line[doc.id] = line
        task_id = tasks.get(doc.id)
        if task_id is None:
            report.add(make_problem(UPLOAD_UNKNOWN_ARTICLE, f"Document {doc.id!r} is not a task of project"
                                    f" {project.id}; import its article first.", file=str(path), line=line,
                                    json_path="$.id"))
            continue
        report.extend(check_document(record, ontology, text=client.get_task_text(task_id), file=str(path),
                                     line=line, task_id=task_id))
        planned.append((task_id, doc))
    if not report.valid:
        raise InvalidDataError(f"{report.error_count} problems in {path}; nothing was uploaded", report)
    me = client.whoami()["id"]
    created = updated = unchanged = 0
    for task_id, doc in planned:
        result = document_to_result(doc.entities, doc.relations, doc.text)
        mine = [a for a in client.task_annotations(task_id) if _user_id(a["completed_by"]) == me]
        if not mine:
            client.create_annotation(task_id, result)
            created += 1
        elif update:
            client.update_annotation(int(mine[-1]["id"]), result)
            updated += 1
        else:
            unchanged += 1
    report.stats = {"documents": len(documents), "created": created, "updated": updated,
                    "already_annotated": unchanged}
    return report

"""Idempotent import of Article records (and pre-annotations) into a Label Studio project.

Every task carries its article id in ``data.article_id``; that id is the idempotence key.

1. The article ids already in the project are found, with the sha256 of each task's text.  A local
   index (``article id -> task id, text sha256`` per project, in the cache dir) avoids listing every
   task: it is used only after the server confirms it exactly (its task count equals the index's, and
   every indexed task id is there); otherwise every task is listed and the index rebuilt.
2. Both input files are read and checked in one pass (article schema, duplicate ids,
   predictions against the article text and the validator's document checks), remembering where
   the new articles lie in the file; any error refuses the whole import, so nothing is uploaded
   from invalid input (warnings are kept in the report and do not block).
3. The new articles are read again (by byte offset) and imported in batches of one request
   each.  Label Studio saves one request in one database transaction, so a batch lands whole or
   not at all; each landed batch is appended to the index.  A run interrupted anywhere (even by
   the server dying) is resumed by running it again: present articles are skipped, and an
   unrecorded batch that did land is found by the server check.

Predictions are attached to the tasks they arrive with; predictions for articles already
present are counted as skipped (never duplicated).

:func:`import_predictions` (``ls import --predictions FILE`` without articles) is the other way in: each document
becomes a prediction on the task with its id, or a new task with its prediction, once per model version; a
document whose text differs from its task's is skipped with a warning, never misaligned.

An article already present whose text changed (its id comes from its source, and the source fixed the text)
is left alone and reported (``upload-text-changed``), unless ``update_changed``: then, after the new articles
are imported, each such task is updated in place (same task id).  Its annotations' and predictions' spans are
moved onto the new text first (:mod:`corpus_tools.labelstudio.reanchor`; a span the edit touched is removed and
reported, ``upload-span-removed``), then its data is replaced and the index records the new text's hash.  A run
interrupted between the two is finished by running it again: spans already on the new text stay where they are.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from filelock import FileLock, Timeout

from corpus_tools.artefacts import LS_DATA_KEY
from corpus_tools.codes import DOCUMENT_DUPLICATE_ID
from corpus_tools.errors import InputError, InvalidDataError, LabelStudioError
from corpus_tools.files import AtomicFile, cache_root, new_file_mode
from corpus_tools.labelstudio.checks import (
    UPLOAD_DUPLICATE_ARTICLE,
    UPLOAD_INVALID_ARTICLE,
    UPLOAD_INVALID_RECORD,
    UPLOAD_MISSING_MODEL_VERSION,
    UPLOAD_PREDICTION_TEXT_DIFFERS,
    UPLOAD_SPAN_REMOVED,
    UPLOAD_TEXT_CHANGED,
    UPLOAD_UNKNOWN_ARTICLE,
    blocking,
    check_document,
)
from corpus_tools.labelstudio.client import LabelStudioClient, ProjectInfo
from corpus_tools.labelstudio.reanchor import RemovedRegion, reanchor_result, unchanged_blocks
from corpus_tools.labelstudio.tasks import ARTICLE_ID_KEY, article_to_task, document_to_result
from corpus_tools.ontology import Ontology
from corpus_tools.report import Problem, Report, make_problem
from corpus_tools.schemas import bundled_pass
from corpus_tools.spans import Document
from corpus_tools.strictjson import LoneSurrogateError
from corpus_tools.strictjson import loads as json_loads
from corpus_tools.text import sha256_text

DEFAULT_BATCH_SIZE = 500
MAX_RANGES_PER_QUERY = 40
MAX_RANGE_QUERIES = 10

BatchCallback = Callable[[int, int], None]
IndexEntry = tuple[str | None, int, str | None]  # article id, task id, sha256 of the task's text


# ---------------------------------------------------------------------------- reading



def iter_jsonl(path: Path, schema: str, code: str, report: Report) -> Iterator[tuple[int, int, int, dict]]:
    """``(line number, byte offset, byte length, record)`` of each valid line; invalid lines become problems."""
    fast = bundled_pass(schema)
    if path.exists() and not path.is_file():  # a pipe cannot be read again (the import does, by byte offset)
        raise InputError(f"not a file: {path}")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with fh:
        offset = 0
        for number, raw in enumerate(fh, 1):
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
                record = json_loads(text)
            except UnicodeDecodeError as exc:
                raise InputError(f"{path} is not UTF-8 text (line {number}: {exc.reason})") from exc
            except LoneSurrogateError as exc:
                report.add(make_problem(code, "Line holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its"
                                        " pair), which is not text; fix or remove that escape.", file=str(path),
                                        line=number, json_path=exc.json_path))
                continue
            except ValueError as exc:
                report.add(make_problem(code, f"Line is not JSON ({exc}).", file=str(path), line=number))
                continue
            if fast.is_valid(record):
                yield number, start, len(raw), record
                continue
            first = (fast.errors(record) or [None])[0]
            report.add(make_problem(
                code,
                f"Record does not match {schema}: {first.message if first else 'invalid'}.",
                file=str(path), line=number, json_path=first.json_path if first else "$",
            ))


def read_records(path: Path, spans: list[tuple[int, int]]) -> Iterator[dict]:
    """The JSON records at the given ``(byte offset, byte length)`` places of a file, in order."""
    with open(path, "rb") as fh:
        for offset, length in spans:
            fh.seek(offset)
            yield json_loads(fh.read(length).decode("utf-8"))


@dataclass
class Prediction:
    document: Document
    line: int | None
    model_version: str | None
    score: float | None


def read_predictions(path: Path, report: Report, *, model_version: str | None = None,
                     score: float | None = None) -> dict[str, Prediction]:
    """Canonical documents by id; ``model_version``/``score`` override the documents' ``meta``."""
    documents = ((number, Document.from_dict(record))
                 for number, _, _, record in iter_jsonl(path, "document.schema.json", UPLOAD_INVALID_RECORD, report))
    return collect_predictions(documents, str(path), report, model_version=model_version, score=score)


def collect_predictions(documents: Iterable[tuple[int | None, Document]], file: str, report: Report, *,
                        model_version: str | None = None, score: float | None = None) -> dict[str, Prediction]:
    """``(line, document)`` pairs as predictions by document id: a missing model version and a repeated id are
    errors; ``model_version``/``score`` override the documents' ``meta``."""
    found: dict[str, Prediction] = {}
    for number, doc in documents:
        version = model_version or (doc.meta.get("model_version") if isinstance(doc.meta, dict) else None)
        raw_score = score if score is not None else doc.meta.get("score")
        if not version:
            report.add(make_problem(UPLOAD_MISSING_MODEL_VERSION, f"Document {doc.id!r} has no meta.model_version;"
                                    " add it or pass --model-version.", file=file, line=number,
                                    json_path="$.meta.model_version"))
        if doc.id in found:
            report.add(make_problem(DOCUMENT_DUPLICATE_ID, f"Document {doc.id!r} appears twice"
                                    + ("" if found[doc.id].line is None else f" (first on line {found[doc.id].line})")
                                    + "; keep one prediction per article.", file=file,
                                    line=number, json_path="$.id", details={"first_line": found[doc.id].line}))
            continue
        found[doc.id] = Prediction(doc, number, str(version) if version else None,
                                   float(raw_score) if isinstance(raw_score, int | float) else None)
    return found


def prediction_to_ls(prediction: Prediction) -> dict[str, object]:
    """The inline ``predictions`` item of a task for one canonical document."""
    doc = prediction.document
    return {
        "model_version": prediction.model_version,
        "score": prediction.score,
        "result": document_to_result(doc.entities, doc.relations, doc.text),
    }


# ---------------------------------------------------------------------------- index


def id_ranges(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted task ids as inclusive ``(first, last)`` runs of consecutive ids."""
    ranges: list[tuple[int, int]] = []
    for task_id in sorted(ids):
        if ranges and task_id == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], task_id)
        else:
            ranges.append((task_id, task_id))
    return ranges


class TaskIndex:
    """A local record of ``(article id or None, task id, text sha256)`` for one project of one server; a later
    line for a task replaces an earlier one (a task whose text was updated).

    Only a cache: :meth:`verified` returns it only when the server confirms it exactly.
    """

    def __init__(self, directory: Path, url: str, project: ProjectInfo) -> None:
        key = hashlib.sha256(f"{url.rstrip('/')}|{project.id}|{project.created_at}".encode()).hexdigest()[:24]
        self.path = directory / f"{key}.jsonl"
        self.lock_path = directory / f"{key}.lock"  # held by the import running into this project
        self.header = {"url": url, "project_id": project.id, "created_at": project.created_at, "version": 2}

    def load(self) -> list[IndexEntry] | None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        if not lines:
            return None
        try:
            if json.loads(lines[0]) != self.header:
                return None
        except ValueError:
            return None
        entries: dict[int, IndexEntry] = {}
        for line in lines[1:]:
            try:
                article_id, task_id, digest = json.loads(line)
                entries[int(task_id)] = (article_id, int(task_id), digest)  # a later line replaces, in place
            except (ValueError, TypeError):
                continue  # a torn last line: the server check decides
        return list(entries.values())

    def verified(self, client: LabelStudioClient, project_id: int) -> dict[str, tuple[int, str | None]] | None:
        """The index as ``article id -> (task id, text sha256)`` if the server holds exactly its tasks, else None."""
        entries = self.load()
        if entries is None:
            return None
        task_ids = [t for _, t, _ in entries]
        ranges = id_ranges(task_ids)
        chunks = [ranges[i : i + MAX_RANGES_PER_QUERY] for i in range(0, len(ranges), MAX_RANGES_PER_QUERY)]
        if len(chunks) > MAX_RANGE_QUERIES or client.count_tasks(project_id) != len(task_ids):
            return None
        if task_ids and sum(client.count_tasks(project_id, chunk) for chunk in chunks) != len(task_ids):
            return None
        mapping: dict[str, tuple[int, str | None]] = {}
        for article_id, task_id, digest in entries:
            if article_id is not None:
                mapping.setdefault(article_id, (task_id, digest))
        return mapping

    @staticmethod
    def _write_entries(fh: IO[str], entries: list[IndexEntry]) -> None:
        fh.writelines(json.dumps([a, t, h], ensure_ascii=False) + "\n" for a, t, h in entries)

    def rewrite(self, entries: list[IndexEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicFile(self.path, permissions=new_file_mode(), fsync=True) as fh:
            fh.write(json.dumps(self.header) + "\n")
            self._write_entries(fh, entries)

    def append(self, entries: list[IndexEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            self._write_entries(fh, entries)
            fh.flush()
            os.fsync(fh.fileno())


def default_index_dir() -> Path:
    return cache_root() / "task-index"


def existing_tasks(client: LabelStudioClient, project: ProjectInfo, *, index: TaskIndex | None = None,
                   ) -> tuple[dict[str, tuple[int, str | None]], str]:
    """``article id -> (task id, sha256 of the task's text)`` of the project's tasks, and how it was found
    (``index`` or ``listing``)."""
    if index is not None:
        mapping = index.verified(client, project.id)
        if mapping is not None:
            return mapping, "index"
    entries: list[IndexEntry] = []
    mapping = {}
    for task_id, data in client.iter_task_data(project.id):
        article_id = data.get(ARTICLE_ID_KEY) if isinstance(data, Mapping) else None
        article_id = str(article_id) if article_id not in (None, "") else None
        text = data.get(LS_DATA_KEY) if isinstance(data, Mapping) else None
        digest = sha256_text(text) if isinstance(text, str) else None
        entries.append((article_id, task_id, digest))
        if article_id is not None:
            mapping.setdefault(article_id, (task_id, digest))
    if index is not None:
        index.rewrite(entries)
    return mapping, "listing"


def existing_articles(client: LabelStudioClient, project: ProjectInfo, *, index: TaskIndex | None = None,
                      ) -> tuple[dict[str, int], str]:
    """``article id -> task id`` of the project's tasks, and how it was found (``index`` or ``listing``)."""
    mapping, found_by = existing_tasks(client, project, index=index)
    return {article_id: task_id for article_id, (task_id, _) in mapping.items()}, found_by


# ---------------------------------------------------------------------------- import


def import_articles(
    client: LabelStudioClient,
    project: ProjectInfo,
    articles_path: Path,
    *,
    ontology: Ontology,
    predictions_path: Path | None = None,
    model_version: str | None = None,
    score: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    index_dir: Path | None = None,
    use_index: bool = True,
    on_batch: BatchCallback | None = None,
    update_changed: bool = False,
) -> Report:
    """Import new articles as tasks (with their predictions) in batches; returns a report with stats.

    An article already present with another text is reported and left alone, or with ``update_changed`` updated
    in place (its annotations and predictions moved onto the new text; see the module docstring).

    Raises :class:`InvalidDataError` carrying the report, before uploading anything, when an
    input file has errors; warnings (such as a span edge inside a word) stay in the returned report.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if score is not None and not math.isfinite(score):
        raise ValueError(f"score must be a finite number (JSON has no {score})")
    with project_lock(client, project, index_dir) as index:
        return _import_locked(client, project, articles_path, ontology=ontology, predictions_path=predictions_path,
                              model_version=model_version, score=score, batch_size=batch_size,
                              index=index if use_index else None, on_batch=on_batch,
                              update_changed=update_changed)


@contextmanager
def project_lock(client: LabelStudioClient, project: ProjectInfo,
                 index_dir: Path | None = None) -> Iterator[TaskIndex]:
    """Hold the lock of one project of one server on this machine (yielding the project's task index, whose
    lock it is), or raise :class:`LabelStudioError` at once when another import or annotate run holds it: two
    runs at once would both find the same articles new (or the same tasks without this user's annotation) and
    upload them twice.  The system releases it if the process dies."""
    index = TaskIndex(index_dir or default_index_dir(), client.url, project)
    path = index.lock_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path), timeout=0)
        lock.acquire()
    except Timeout:
        raise LabelStudioError(f"another import or annotate run into project {project.id} of {client.url} is"
                               f" running on this machine (lock {path}); run this one again when it has finished"
                               " (it then adds only what is still missing)") from None
    except OSError as exc:
        raise LabelStudioError(f"cannot create the project lock {path}: {exc.strerror or exc}") from exc
    try:
        yield index
    finally:
        lock.release()


def _import_locked(
    client: LabelStudioClient,
    project: ProjectInfo,
    articles_path: Path,
    *,
    ontology: Ontology,
    predictions_path: Path | None,
    model_version: str | None,
    score: float | None,
    batch_size: int,
    index: TaskIndex | None,
    on_batch: BatchCallback | None,
    update_changed: bool = False,
) -> Report:
    started = time.monotonic()
    existing, found_by = existing_tasks(client, project, index=index)
    report = Report()
    predictions = (read_predictions(predictions_path, report, model_version=model_version, score=score)
                   if predictions_path else {})
    plan = _plan_import(articles_path, predictions, predictions_path, existing, ontology, report,
                        update_changed=update_changed)
    if not report.valid:
        raise InvalidDataError(
            f"{report.error_count} problems in the input; nothing was imported", report
        )
    upload = _upload(client, project, articles_path, plan, predictions, batch_size=batch_size, index=index,
                     on_batch=on_batch)
    updated = [update_task_text(client, task_id, article, index=index, report=report)
               for article, task_id in zip(read_records(articles_path, [(o, n) for o, n, _ in plan.changed]),
                                           [t for _, _, t in plan.changed], strict=True)]
    report.stats = {
        "project_id": project.id,
        "articles": len(plan.article_ids),
        "imported": upload.imported,
        "already_present": len(plan.already),
        "predictions_imported": upload.predictions_imported,
        "predictions_skipped": plan.predictions_skipped,
        "batches": upload.batches,
        "existing_found_by": found_by,
        "seconds": round(time.monotonic() - started, 3),
        "already_present_ids": plan.already,
        "text_changed": len(plan.text_changed) + len(plan.changed),
        "text_changed_ids": plan.text_changed,
        "updated": len(updated),
        "updated_tasks": updated,
    }
    return report


@dataclass
class _ImportPlan:
    """What the checked input holds: every article id, those already in the project, where the new ones are."""

    article_ids: set[str] = field(default_factory=set)
    already: list[str] = field(default_factory=list)
    planned: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) of each new article
    predictions_skipped: int = 0
    text_changed: list[str] = field(default_factory=list)  # present with another text, left alone
    changed: list[tuple[int, int, int]] = field(default_factory=list)  # (offset, length, task id) to update


def _plan_import(articles_path: Path, predictions: dict[str, Prediction], predictions_path: Path | None,
                 existing: Mapping[str, tuple[int, str | None]], ontology: Ontology, report: Report, *,
                 update_changed: bool = False) -> _ImportPlan:
    """Read and check both inputs in one pass (problems go to ``report``); the plan of what to upload."""
    plan = _ImportPlan()
    for number, offset, length, article in iter_jsonl(articles_path, "article.schema.json",
                                                      UPLOAD_INVALID_ARTICLE, report):
        article_id = article["id"]
        if article_id in plan.article_ids:
            report.add(make_problem(UPLOAD_DUPLICATE_ARTICLE, f"Article {article_id!r} appears again; the first"
                                    " one is imported.", file=str(articles_path), line=number, json_path="$.id"))
            continue
        plan.article_ids.add(article_id)
        pred = predictions.get(article_id)
        if pred is not None:
            report.extend(check_document(pred.document, ontology, text=article["text"],
                                         file=str(predictions_path), line=pred.line))
        if article_id in existing:
            plan.already.append(article_id)
            plan.predictions_skipped += pred is not None
            task_id, digest = existing[article_id]
            new_digest = sha256_text(article["text"])
            if digest is None or digest == new_digest:
                continue
            if update_changed:
                plan.changed.append((offset, length, task_id))
                continue
            plan.text_changed.append(article_id)
            report.add(make_problem(
                UPLOAD_TEXT_CHANGED, f"Article {article_id!r} (task {task_id}): text changed; run with"
                " --update-changed to replace it.", file=str(articles_path), line=number, json_path="$.text",
                task_id=task_id, details={"article_id": article_id, "old_sha256": digest, "new_sha256": new_digest}))
        else:
            plan.planned.append((offset, length))
    for doc_id, pred in predictions.items():
        if doc_id not in plan.article_ids:
            report.add(make_problem(UPLOAD_UNKNOWN_ARTICLE, f"Document {doc_id!r} is not an article of"
                                    f" {articles_path.name}.", file=str(predictions_path), line=pred.line,
                                    json_path="$.id"))
    return plan


@dataclass
class _Upload:
    """Imports batches of tasks, one request each, recording each landed batch in the index; counts them."""

    client: LabelStudioClient
    project_id: int
    index: TaskIndex | None
    on_batch: BatchCallback | None
    planned: int
    imported: int = 0
    predictions_imported: int = 0
    batches: int = 0

    def send(self, batch: list[tuple[str, dict]]) -> None:
        task_ids = self.client.import_tasks(self.project_id, [task for _, task in batch])
        if self.index is not None:
            self.index.append([(article_id, task_id, sha256_text(str(task["data"][LS_DATA_KEY])))  # type: ignore[index]
                               for (article_id, task), task_id in zip(batch, task_ids, strict=True)])
        self.imported += len(batch)
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(self.imported, self.planned)


def _upload(client: LabelStudioClient, project: ProjectInfo, articles_path: Path, plan: _ImportPlan,
            predictions: dict[str, Prediction], *, batch_size: int, index: TaskIndex | None,
            on_batch: BatchCallback | None) -> _Upload:
    """Import the planned articles, read again by their place in the file, with their predictions."""
    upload = _Upload(client, project.id, index, on_batch, len(plan.planned))
    batch: list[tuple[str, dict]] = []
    for article in read_records(articles_path, plan.planned):
        task = article_to_task(article)
        pred = predictions.get(article["id"])
        if pred is not None:
            task["predictions"] = [prediction_to_ls(pred)]
            upload.predictions_imported += 1
        batch.append((article["id"], task))
        if len(batch) >= batch_size:
            upload.send(batch)
            batch = []
    if batch:
        upload.send(batch)
    return upload


# ---------------------------------------------------------------------------- predictions


def import_predictions(
    client: LabelStudioClient,
    project: ProjectInfo,
    source: Path,
    *,
    ontology: Ontology,
    documents: Iterable[Document] | None = None,
    model_version: str | None = None,
    score: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    index_dir: Path | None = None,
    use_index: bool = True,
    on_batch: BatchCallback | None = None,
) -> Report:
    """Add each document of ``source`` as a prediction: to the task with its id (``data.article_id``) when there is
    one, else as a new task with the prediction; returns a report with stats.

    ``source`` is canonical documents JSONL, unless ``documents`` gives what an interop reader read from it.
    Idempotent: a task that already has a prediction of the same model version gets none (another version adds
    another).  A document whose text differs from its task's text is skipped with a warning
    (``upload-prediction-text-differs``, naming the document and the task), never put on the other text's
    offsets.  Any error (an unreadable line, a missing model version, a document the validator refuses) raises
    :class:`InvalidDataError` carrying the report before anything is uploaded.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if score is not None and not math.isfinite(score):
        raise ValueError(f"score must be a finite number (JSON has no {score})")
    with project_lock(client, project, index_dir) as index:
        started = time.monotonic()
        existing, found_by = existing_articles(client, project, index=index if use_index else None)
        report = Report()
        if documents is None:
            predictions = read_predictions(source, report, model_version=model_version, score=score)
        else:
            predictions = collect_predictions(((None, doc) for doc in documents), str(source), report,
                                              model_version=model_version, score=score)
        plan = _plan_predictions(client, project, predictions, existing, ontology, str(source), report)
        if not report.valid:
            raise InvalidDataError(f"{report.error_count} problems in the input; nothing was imported", report)
        upload = _Upload(client, project.id, index if use_index else None, on_batch, len(plan.new))
        batch: list[tuple[str, dict]] = []
        for pred in plan.new:
            batch.append((pred.document.id, document_to_task(pred)))
            upload.predictions_imported += 1
            if len(batch) >= batch_size:
                upload.send(batch)
                batch = []
        if batch:
            upload.send(batch)
        for task_id, pred in plan.add:
            doc = pred.document
            client.create_prediction(task_id, document_to_result(doc.entities, doc.relations, doc.text),
                                     model_version=str(pred.model_version), score=pred.score)
        report.stats = {
            "project_id": project.id,
            "documents": len(predictions),
            "predictions_added": len(plan.add),
            "tasks_imported": upload.imported,
            "already_present": len(plan.already),
            "text_differs": len(plan.differs),
            "batches": upload.batches,
            "existing_found_by": found_by,
            "seconds": round(time.monotonic() - started, 3),
            "added_ids": [pred.document.id for _, pred in plan.add],
            "imported_ids": [pred.document.id for pred in plan.new],
            "already_present_ids": plan.already,
            "text_differs_ids": plan.differs,
        }
        return report


@dataclass
class _PredictionPlan:
    add: list[tuple[int, Prediction]] = field(default_factory=list)  # (task id, prediction) for existing tasks
    new: list[Prediction] = field(default_factory=list)  # documents with no task: new tasks
    already: list[str] = field(default_factory=list)  # ids whose task has a prediction of this model version
    differs: list[str] = field(default_factory=list)  # ids whose task holds another text


def _plan_predictions(client: LabelStudioClient, project: ProjectInfo, predictions: dict[str, Prediction],
                      existing: Mapping[str, int], ontology: Ontology, file: str, report: Report) -> _PredictionPlan:
    """Match the predictions with the tasks, check each against the text it will be shown on."""
    matched = {existing[doc_id]: doc_id for doc_id in predictions if doc_id in existing}
    tasks: dict[int, tuple[str, list[str]]] = {}
    ranges = id_ranges(list(matched))
    for k in range(0, len(ranges), MAX_RANGES_PER_QUERY):
        for task_id, data, versions in client.iter_task_predictions(project.id, ranges[k:k + MAX_RANGES_PER_QUERY]):
            tasks[task_id] = (str(data.get(LS_DATA_KEY, "")) if isinstance(data, Mapping) else "", versions)
    plan = _PredictionPlan()
    for doc_id, pred in predictions.items():
        doc = pred.document
        task_id = existing.get(doc_id)
        if task_id is None:
            report.extend(check_document(doc, ontology, file=file, line=pred.line))
            plan.new.append(pred)
            continue
        text, versions = tasks.get(task_id, ("", []))
        if text != doc.text:
            at = next((i for i, (a, b) in enumerate(zip(text, doc.text, strict=False)) if a != b),
                      min(len(text), len(doc.text)))
            report.add(make_problem(
                UPLOAD_PREDICTION_TEXT_DIFFERS,
                f"Document {doc_id!r} has a text that differs from the text of task {task_id} (from character {at};"
                f" {len(doc.text)} characters against {len(text)}); its prediction is skipped. Convert the"
                " annotations onto the task's text, or import the document under another id.",
                file=file, line=pred.line, task_id=task_id, json_path="$.text",
                details={"document_id": doc_id, "first_difference": at}))
            plan.differs.append(doc_id)
            continue
        if pred.model_version in versions:
            plan.already.append(doc_id)
            continue
        report.extend(check_document(doc, ontology, text=text, file=file, line=pred.line, task_id=task_id))
        plan.add.append((task_id, pred))
    return plan


def document_to_task(prediction: Prediction) -> dict[str, object]:
    """A new task for a document that has no task yet, with its prediction (the document is its article)."""
    doc = prediction.document
    article: dict[str, object] = {"id": doc.id, "text": doc.text, "title": doc.title, "source": doc.source,
                                  "lang": doc.lang, "sha256": sha256_text(doc.text), "dateline": doc.dateline}
    task = article_to_task(article)
    task["predictions"] = [prediction_to_ls(prediction)]
    return task
def update_task_text(client: LabelStudioClient, task_id: int, article: Mapping[str, object], *,
                     index: TaskIndex | None = None, report: Report | None = None) -> dict[str, object]:
    """Put an article's new text into its task in place: every annotation's and prediction's spans moved onto it
    first (those the edit touched removed, each an ``upload-span-removed`` warning in ``report``), then the task's
    data replaced and the index told.  Returns what was done: the article and task ids, how many annotations and
    predictions changed and how many spans were removed."""
    new_data = dict(article_to_task(article)["data"])  # type: ignore[call-overload]
    new_text = str(new_data[LS_DATA_KEY])
    old_data = client.get_task_data(task_id)
    old_text = str(old_data.get(LS_DATA_KEY, ""))
    changed = {"annotation": 0, "prediction": 0}
    spans_removed = 0
    if old_text != new_text:
        blocks = unchanged_blocks(old_text, new_text)
        annotations, predictions = client.task_results(task_id)
        for kind, items, save in (("annotation", annotations, client.update_annotation),
                                  ("prediction", predictions, client.update_prediction)):
            for item in items:
                item_id, result = int(item["id"]), list(item["result"])  # type: ignore[call-overload]
                moved, removed = reanchor_result(result, old_text, new_text, blocks)
                if moved != result:
                    save(item_id, moved)
                    changed[kind] += 1
                spans_removed += sum(region.kind == "span" for region in removed)
                if report is not None:
                    report.extend(_removed_problem(kind, item_id, task_id, str(article["id"]), region)
                                  for region in removed)
        client.update_task_data(task_id, {**old_data, **new_data})
    if index is not None:
        index.append([(str(article["id"]), task_id, sha256_text(new_text))])
    return {"article_id": article["id"], "task_id": task_id, "annotations": changed["annotation"],
            "predictions": changed["prediction"], "spans_removed": spans_removed}


def _removed_problem(kind: str, item_id: int, task_id: int, article_id: str, region: RemovedRegion) -> Problem:
    what = (f"span {region.id!r} [{region.start}:{region.end}] {region.text!r} ({region.label})"
            if region.kind == "span" else f"relation {region.id} ({region.label})")
    return make_problem(
        UPLOAD_SPAN_REMOVED, f"The {what} of {kind} {item_id} of task {task_id} (article {article_id!r}) touched"
        " text that changed, so it was removed; annotate it again on the new text.", task_id=task_id,
        annotation_id=item_id if kind == "annotation" else None,
        details={"article_id": article_id, f"{kind}_id": item_id, **region.to_dict()})


# ---------------------------------------------------------------------------- annotations


def annotate_task(
    client: LabelStudioClient,
    task_id: int,
    document: Document,
    *,
    ontology: Ontology,
    lead_time: float | None = None,
    was_cancelled: bool = False,
    report: Report | None = None,
) -> int:
    """Create an annotation on a task from a canonical Document, as an annotator would; returns its id.

    The document is checked first (:func:`~corpus_tools.labelstudio.checks.check_document`: the
    task's stored text and the validator's document checks).  Any error raises
    :class:`InvalidDataError` with the report and uploads nothing; warnings do not block and are
    added to ``report`` when one is given.
    """
    text = client.get_task_text(task_id)
    _checked(document, ontology, text, task_id, "annotation", report)
    return client.create_annotation(
        task_id, document_to_result(document.entities, document.relations, text),
        lead_time=lead_time, was_cancelled=was_cancelled,
    )


def add_prediction(
    client: LabelStudioClient, task_id: int, document: Document, *, ontology: Ontology, model_version: str,
    score: float | None = None, report: Report | None = None,
) -> int:
    """Add a prediction to an existing task from a canonical Document (checked like :func:`annotate_task`)."""
    text = client.get_task_text(task_id)
    _checked(document, ontology, text, task_id, "prediction", report)
    return client.create_prediction(task_id, document_to_result(document.entities, document.relations, text),
                                    model_version=model_version, score=score)


def _checked(document: Document, ontology: Ontology, text: str, task_id: int, what: str,
             report: Report | None) -> None:
    """Raise :class:`InvalidDataError` when the document has errors; add its warnings to ``report``."""
    problems = check_document(document, ontology, text=text, task_id=task_id)
    errors = blocking(problems)
    if errors:
        raise InvalidDataError(f"{len(errors)} problems in the {what} for task {task_id}; nothing was uploaded",
                               Report(problems=problems))
    if report is not None:
        report.extend(problems)

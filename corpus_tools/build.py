"""Build a release folder from a validated export.

:func:`build_release` validates the input (and refuses it when invalid, with no override), picks
one gold annotation per task, assigns each document to a split (:mod:`corpus_tools.splits`),
streams the rows of the four configs into size-capped Parquet shards
(:mod:`corpus_tools.shards`), writes ``splits.json``, the card (:mod:`corpus_tools.card`) and
``manifest.json``, runs :func:`corpus_tools.release.check_release` and only then renames the
temporary folder to ``out``.  An interrupted build leaves nothing at ``out``.

Gold selection per task (predictions never become gold):

1. the document of that id in the ``gold`` file (canonical document JSONL), when given;
2. else the non-cancelled annotation marked ``ground_truth``;
3. else the only non-cancelled annotation;
4. else the task is left out and reported: ``build-gold-ambiguous`` (several annotations, no
   ground truth) or ``build-gold-missing`` (no non-cancelled annotation).

Left-out tasks still contribute their annotations to the ``annotations`` config.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import BinaryIO

from corpus_tools import __version__
from corpus_tools.card import (
    DEFAULT_LICENSE,
    DEFAULT_RIGHTS,
    ReleaseStats,
    SplitLayout,
    card_metadata,
    changelog_entry,
    extract_changelog,
    render_body,
    render_card,
)
from corpus_tools.errors import CorpusToolsError, InputError, InvalidDataError, OutputError, ReleaseError
from corpus_tools.fastbio import SPAN_MODES, encode_bio, whole_token_spans
from corpus_tools.generate import RELEASE_CONFIGS, ontology_to_features
from corpus_tools.labelstudio.export import (
    AnnotationRecord,
    task_document_id,
    task_text,
    task_to_document,
    task_to_records,
)
from corpus_tools.ontology import Ontology, load_ontology
from corpus_tools.release import MANIFEST_NAME, SPLITS_NAME, check_release, read_manifest, write_manifest
from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.shards import MAX_SHARD_BYTES, ROW_GROUP_ROWS, ShardWriter
from corpus_tools.spans import Document, Relation, Span
from corpus_tools.splits import SplitPlan, read_splits

STAGE = "build"
GOLD_AMBIGUOUS = define_code(
    "build-gold-ambiguous",
    "warning",
    "A task has several non-cancelled annotations and none is marked ground truth; it was left out. Mark one"
    " as ground truth in Label Studio or pass an adjudicated --gold file.",
    stage=STAGE,
)
GOLD_MISSING = define_code(
    "build-gold-missing",
    "warning",
    "A task has no non-cancelled annotation; it was left out of the documents, tokens and relations configs.",
    stage=STAGE,
)
GOLD_TEXT_MISMATCH = define_code(
    "build-gold-text-mismatch",
    "error",
    "A document of the --gold file has another text than the export's task of the same id; regenerate the gold"
    " file from this export.",
    stage=STAGE,
)
GOLD_UNUSED = define_code(
    "build-gold-unused", "warning", "A document of the --gold file matches no task of the export.", stage=STAGE
)
DUPLICATE_ID = define_code(
    "build-duplicate-id", "error", "Two tasks carry the same document id; remove or re-key one of them.",
    stage=STAGE,
)
DUPLICATE_TEXT_ACROSS_SPLITS = define_code(
    "build-duplicate-text-across-splits",
    "error",
    "Two documents with exactly the same text landed in different splits (test leakage); remove one of them"
    " or assign both to one split in splits.json.",
    stage=STAGE,
)
DUPLICATE_TEXT = define_code(
    "build-duplicate-text",
    "warning",
    "Two documents of the same split have exactly the same text.",
    stage=STAGE,
)
UNKNOWN_LABEL = define_code(
    "build-unknown-label",
    "error",
    "A span or relation label is not in the ontology (validate the export with the same ontology).",
    stage=STAGE,
)
DANGLING_RELATION = define_code(
    "build-dangling-relation",
    "error",
    "A relation's head or tail is not a span of the same annotation.",
    stage=STAGE,
)
NO_DOCUMENTS = define_code(
    "build-no-documents",
    "error",
    "No task has a gold annotation, so the release would be empty.",
    stage=STAGE,
)

# Validate in a second process while the build streams, when there is a second core.
PARALLEL_VALIDATION = (os.cpu_count() or 1) > 1
SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
Progress = Callable[[str, int, int | None], None]


@dataclass
class BuildResult:
    """What a build produced: the release folder, its manifest and the build report."""

    out: Path
    version: str
    manifest: dict
    report: Report
    stats: ReleaseStats = field(default_factory=ReleaseStats)

    def to_dict(self) -> dict[str, object]:
        return {"out": str(self.out), "version": self.version, "report": self.report.to_dict()}


def parse_version(version: str) -> tuple[int, int, int]:
    """``1.2.3`` or ``v1.2.3`` as a tuple; ValueError otherwise."""
    match = SEMVER.fullmatch(version.strip())
    if not match:
        raise ValueError(f"version must be MAJOR.MINOR.PATCH (e.g. 1.0.0), got {version!r}")
    return int(match[1]), int(match[2]), int(match[3])


def annotator_name(value: str | None) -> str | None:
    """Annotator ids are kept; e-mail addresses become a stable pseudonym (no personal data in releases)."""
    if value and "@" in value:
        return "annotator-" + hashlib.sha256(value.strip().lower().encode()).hexdigest()[:10]
    return value


def select_gold(records: list[AnnotationRecord]) -> tuple[AnnotationRecord | None, str]:
    """The gold annotation of a task and how it was chosen, or None and why not."""
    live = [r for r in records if r.kind == "annotation" and not r.cancelled]
    marked = [r for r in live if r.ground_truth]
    if len(marked) == 1:
        return marked[0], "ground-truth"
    if len(marked) > 1:
        return None, "ambiguous"
    if len(live) == 1:
        return live[0], "single"
    return None, ("ambiguous" if live else "unannotated")


class _HashingReader:
    """A binary file wrapper that hashes and counts what is read through it."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self.sha256.update(data)
        self.bytes += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def input_format(path: Path) -> str:
    """``labelstudio`` (a JSON array of tasks) or ``documents`` (canonical document JSONL)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "labelstudio"
    if stripped.startswith(b"{"):
        return "documents"
    raise InputError(f"{path} is neither a Label Studio JSON export (an array) nor document JSONL")


def _validate(path: Path, ontology: Ontology, progress: Progress | None) -> Report:
    from corpus_tools.validate import validate_export

    callback = None
    if progress is not None:
        size = path.stat().st_size

        def callback(done: int) -> None:
            progress("validate", done, size)

    return validate_export(path, ontology=ontology, max_errors=None, progress=callback)


def _validate_worker(path: str, ontology: Ontology, conn) -> None:  # runs in the validation process
    try:
        conn.send(("ok", _validate(Path(path), ontology, None)))
    except BaseException as exc:  # noqa: BLE001 - sent back and re-raised in the parent
        conn.send(("error", exc))
    finally:
        conn.close()


class _Validation:
    """Validation of the export, in a second process while the build streams (on a multi-core machine).

    The build writes only into its temporary folder, and nothing is renamed into place unless the
    validation report is valid, so running both at once refuses invalid input exactly as running
    validation first would, in about the time of the slower of the two.
    """

    def __init__(self, path: Path, ontology: Ontology, progress: Progress | None, *, parallel: bool) -> None:
        self._report: Report | None = None
        self._process = None
        self._progress = progress
        self._size = path.stat().st_size
        if not parallel:
            self._report = _validate(path, ontology, progress)
            return
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe(duplex=False)
        self._process = context.Process(target=_validate_worker, args=(str(path), ontology, child), daemon=True)
        self._process.start()
        child.close()
        if progress is not None:
            progress("validate", 0, self._size)

    def result(self) -> Report:
        if self._report is None:
            try:
                kind, payload = self._conn.recv()
            except EOFError as exc:
                raise CorpusToolsError("the validation process ended without a report") from exc
            finally:
                self._process.join()
                self._process = None
            if kind == "error":
                raise payload
            self._report = payload
            if self._progress is not None:
                self._progress("validate", self._size, self._size)
        return self._report

    def cancel(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join()
            self._process = None


def _read_gold(path: Path) -> dict[str, Document]:
    docs: dict[str, Document] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    doc = Document.from_dict(json.loads(line))
                    docs[doc.id] = doc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read gold file {path}: {exc}") from exc
    return docs


class _Builder:
    """Streams documents into the config writers and collects statistics and problems."""

    def __init__(
        self,
        root: Path,
        ontology: Ontology,
        plan: SplitPlan,
        report: Report,
        *,
        gold: dict[str, Document],
        span_mode: str,
        row_group_rows: int,
        max_shard_bytes: int,
        file_name: str,
    ) -> None:
        self.root = root
        self.features = ontology_to_features(ontology)
        self.schemas = {c: f.arrow_schema for c, f in self.features.items()}
        self.plan = plan
        self.report = report
        self.gold = gold
        self.gold_used: set[str] = set()
        self.span_mode = span_mode
        self.row_group_rows = row_group_rows
        self.max_shard_bytes = max_shard_bytes
        self.file = file_name
        self.stats = ReleaseStats()
        self.entity_ids = {label: i for i, label in enumerate(ontology.entity_labels)}
        self.relation_ids = {label: i for i, label in enumerate(ontology.relation_labels)}
        self.bio_ids = {label: i for i, label in enumerate(ontology.bio_labels)}
        self.writers: dict[tuple[str, str], ShardWriter] = {}
        self.seen_ids: set[str] = set()
        self.texts: dict[bytes, tuple[str, str]] = {}

    # -- writers ---------------------------------------------------------------------------------
    def _write(self, config: str, split: str, row: dict) -> None:
        writer = self.writers.get((config, split))
        if writer is None:
            writer = self.writers[(config, split)] = ShardWriter(
                self.root / "data" / config,
                split,
                self.schemas[config],
                row_group_rows=self.row_group_rows,
                max_shard_bytes=self.max_shard_bytes,
            )
        writer.write(row)

    def close(self) -> dict[str, dict[str, SplitLayout]]:
        layout: dict[str, dict[str, SplitLayout]] = {}
        for config in RELEASE_CONFIGS:
            for split in self.plan.split_names:
                writer = self.writers.get((config, split))
                if writer is None:
                    continue
                shards = writer.close()
                files = [p.relative_to(self.root).as_posix() for p, _ in shards]
                layout.setdefault(config, {})[split] = SplitLayout(
                    num_examples=writer.num_rows,
                    num_bytes=writer.num_bytes,
                    files=files,
                    file_bytes=sum(p.stat().st_size for p, _ in shards),
                )
        return layout

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()

    # -- rows ------------------------------------------------------------------------------------
    def _problem(self, code: str, message: str, **where: object) -> None:
        self.report.add(make_problem(code, message, file=self.file, **where))

    def _span_rows(self, spans: list[Span], where: dict) -> list[dict]:
        rows = []
        for s in sorted(spans, key=lambda s: (s.start, s.end, s.label, s.id)):
            label = self.entity_ids.get(s.label)
            if label is None:
                self._problem(UNKNOWN_LABEL, f"Span label {s.label!r} is not in the ontology.", **where)
                continue
            rows.append({"id": s.id, "start": s.start, "end": s.end, "text": s.text, "label": label})
        return rows

    def _relation_rows(self, relations: list[Relation], where: dict) -> list[dict]:
        rows = []
        for r in sorted(relations, key=lambda r: (r.head, r.tail, r.label, r.id)):
            label = self.relation_ids.get(r.label)
            if label is None:
                self._problem(UNKNOWN_LABEL, f"Relation label {r.label!r} is not in the ontology.", **where)
                continue
            rows.append({"id": r.id, "head": r.head, "tail": r.tail, "label": label})
        return rows

    def add_annotations(self, records: list[AnnotationRecord], split: str) -> None:
        """Rows of the annotations config and the agreement statistics for one task."""
        live: list[set[tuple[int, int, str]]] = []
        for rec in records:
            if rec.kind != "annotation":
                continue
            where = {"task_id": rec.task_id, "annotation_id": rec.id}
            annotator = annotator_name(rec.annotator)
            self.stats.annotations += 1
            self.stats.cancelled += rec.cancelled
            if annotator is not None:
                self.stats.annotators[annotator] += 1
            if not rec.cancelled:
                live.append({(s.start, s.end, s.label) for s in rec.entities})
            self._write("annotations", split, {
                "document_id": rec.document_id,
                "task_id": rec.task_id,
                "annotation_id": rec.id,
                "annotator": annotator,
                "lead_time": rec.lead_time,
                "cancelled": rec.cancelled,
                "ground_truth": rec.ground_truth,
                "created_at": rec.created_at,
                "updated_at": rec.updated_at,
                "entities": self._span_rows(rec.entities, where),
                "relations": self._relation_rows(rec.relations, where),
            })
        if len(live) >= 2:
            self.stats.agreement.documents += 1
            for a, b in combinations(live, 2):
                self.stats.agreement.add_pair(a, b)

    def check_identity(self, doc: Document, split: str, where: dict) -> bool:
        """Duplicate ids and the leakage audit; False when the document must not be written."""
        if doc.id in self.seen_ids:
            self._problem(DUPLICATE_ID, f"Document id {doc.id!r} appears in more than one task.", **where)
            return False
        self.seen_ids.add(doc.id)
        key = hashlib.sha256(doc.text.encode("utf-8")).digest()
        other = self.texts.get(key)
        if other is None:
            self.texts[key] = (doc.id, split)
        elif other[1] != split:
            self._problem(
                DUPLICATE_TEXT_ACROSS_SPLITS,
                f"Documents {other[0]!r} ({other[1]}) and {doc.id!r} ({split}) have exactly the same text.",
                details={"documents": [other[0], doc.id], "splits": [other[1], split]}, **where,
            )
        else:
            self.stats.duplicate_texts += 1
            self._problem(
                DUPLICATE_TEXT,
                f"Documents {other[0]!r} and {doc.id!r} ({split}) have exactly the same text.",
                details={"documents": [other[0], doc.id]}, **where,
            )
        return True

    def add_document(self, doc: Document, split: str, where: dict) -> None:
        """Rows of the documents, tokens and relations configs for one gold document."""
        counts = self.stats.split(split)
        counts.documents += 1
        entities = self._span_rows(doc.entities, where)
        relations = self._relation_rows(doc.relations, where)
        dateline = doc.dateline or {}
        self._write("documents", split, {
            "id": doc.id,
            "title": doc.title,
            "text": doc.text,
            "source": doc.source,
            "lang": doc.lang,
            "dateline_places": list(dateline.get("places") or []),
            "dateline_paper": dateline.get("paper"),
            "dateline_agencies": list(dateline.get("agencies") or []),
            "entities": entities,
            "relations": relations,
        })
        for s in doc.entities:
            counts.entities[s.label] += 1
        # tokens
        spans = [s for s in doc.entities if s.label in self.entity_ids]
        if self.span_mode != "exact":
            spans = whole_token_spans(doc.text, spans)
        bio = encode_bio(doc.text, spans, self.bio_ids)
        for s in bio.unencodable:
            counts.unencodable[s.label] += 1
        counts.tokens += len(bio.tokens)
        tags = bio.tags
        self._write("tokens", split, {
            "id": doc.id, "tokens": bio.tokens, "token_start": bio.starts, "token_end": bio.ends, "ner_tags": tags,
        })
        # relations
        by_id = {s["id"]: s for s in entities}
        for rel in relations:
            head, tail = by_id.get(rel["head"]), by_id.get(rel["tail"])
            if head is None or tail is None:
                self._problem(DANGLING_RELATION, f"Relation {rel['id']!r} points to a missing span.", **where)
                continue
            counts.relations[self._relation_label(rel["label"])] += 1
            self._write("relations", split, {
                "document_id": doc.id,
                "id": rel["id"],
                "head_id": head["id"], "head_start": head["start"], "head_end": head["end"],
                "head_text": head["text"], "head_label": head["label"],
                "tail_id": tail["id"], "tail_start": tail["start"], "tail_end": tail["end"],
                "tail_text": tail["text"], "tail_label": tail["label"],
                "label": rel["label"],
            })

    def _relation_label(self, index: int) -> str:
        if not hasattr(self, "_relation_names"):
            self._relation_names = list(self.relation_ids)
        return self._relation_names[index]

    # -- inputs ----------------------------------------------------------------------------------
    def add_task(self, task: dict) -> None:
        self.stats.tasks += 1
        if not isinstance(task, dict):
            return
        records = list(task_to_records(task))
        doc_id = task_document_id(task)
        split = self.plan.assign(doc_id)
        where = {"task_id": task.get("id")}
        self.add_annotations(records, split)
        adjudicated = self.gold.get(doc_id)
        if adjudicated is not None:
            self.gold_used.add(doc_id)
            if adjudicated.text != task_text(task):
                self._problem(
                    GOLD_TEXT_MISMATCH,
                    f"The gold document {doc_id!r} has another text than the task; regenerate the gold file.",
                    **where,
                )
                return
            doc = task_to_document(task)
            doc.entities, doc.relations = list(adjudicated.entities), list(adjudicated.relations)
            source = "gold-file"
        else:
            record, source = select_gold(records)
            if record is None:
                self.stats.left_out[source] += 1
                if source == "ambiguous":
                    self._problem(
                        GOLD_AMBIGUOUS,
                        f"Task of document {doc_id!r} has several annotations and no ground truth; left out.",
                        **where,
                    )
                else:
                    self._problem(
                        GOLD_MISSING, f"Task of document {doc_id!r} has no non-cancelled annotation; left out.",
                        **where,
                    )
                return
            doc = task_to_document(task, record)
            where = {**where, "annotation_id": record.id}
        if self.check_identity(doc, split, where):
            self.stats.gold_sources[source] += 1
            self.add_document(doc, split, where)

    def add_canonical(self, doc: Document, line: int) -> None:
        self.stats.tasks += 1
        split = self.plan.assign(doc.id)
        where = {"line": line}
        if self.check_identity(doc, split, where):
            self.stats.gold_sources["document"] += 1
            self.add_document(doc, split, where)

    def finish_gold(self) -> None:
        for doc_id in sorted(set(self.gold) - self.gold_used):
            self._problem(GOLD_UNUSED, f"Gold document {doc_id!r} matches no task of the export.")


def _iter_tasks(reader: _HashingReader) -> Iterator[dict]:
    import ijson

    yield from ijson.items(reader, "item", use_float=True)


def _iter_documents(reader: _HashingReader) -> Iterator[tuple[int, Document]]:
    buffer = b""
    line = 0
    while True:
        chunk = reader.read(1 << 20)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line += 1
            if raw.strip():
                yield line, Document.from_dict(json.loads(raw))
    if buffer.strip():
        yield line + 1, Document.from_dict(json.loads(buffer))


def _refusal(export: Path, report: Report) -> InvalidDataError:
    return InvalidDataError(
        f"{export} failed validation with {report.to_dict()['errors']} errors; fix them and rebuild"
        " (there is no override)",
        report,
    )


def _stream_input(export: Path, kind: str, builder: _Builder, progress: Progress | None) -> str:
    """Feed every task (or document) of the input to the builder; return the input's sha256."""
    total = export.stat().st_size
    with open(export, "rb") as raw:
        reader = _HashingReader(raw)
        if kind == "labelstudio":
            for i, task in enumerate(_iter_tasks(reader)):
                builder.add_task(task)
                if progress is not None and i % 500 == 0:
                    progress("build", reader.bytes, total)
        else:
            for line, doc in _iter_documents(reader):
                builder.add_canonical(doc, line)
        reader.drain()
    if progress is not None:
        progress("build", total, total)
    return reader.sha256.hexdigest()


def build_release(
    export: Path,
    *,
    version: str,
    out: Path,
    ontology: Ontology | None = None,
    name: str | None = None,
    splits: Path | None = None,
    gold: Path | None = None,
    previous: Path | None = None,
    progress: Progress | None = None,
    ratios: tuple[tuple[str, float], ...] | None = None,
    span_mode: str = "exact",
    license: str = DEFAULT_LICENSE,
    rights: str = DEFAULT_RIGHTS,
    date: str | None = None,
    row_group_rows: int = ROW_GROUP_ROWS,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> BuildResult:
    """Validate ``export`` and write the release folder ``out`` (which must not exist).

    Raises :class:`InvalidDataError` (with the report) when the export or the gold file fails
    validation or the data has build errors (duplicate ids, duplicate texts across splits),
    :class:`ReleaseError` when the written release fails :func:`check_release`,
    :class:`OutputError` when ``out`` exists, and :class:`InputError` for unreadable inputs.
    """
    export, out = Path(export), Path(out)
    try:
        parse_version(version)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    version = version.strip().removeprefix("v")
    if span_mode not in SPAN_MODES:
        raise InputError(f"span_mode must be one of {', '.join(SPAN_MODES)}, got {span_mode!r}")
    if out.exists() or out.is_symlink():
        raise OutputError(f"{out} already exists; a release folder is never overwritten (choose another --out)")
    ontology = ontology or load_ontology()
    kind = input_format(export)
    name = name or out.resolve().name

    previous_manifest = None
    if previous is not None:
        previous = Path(previous)
        previous_manifest = read_manifest(previous)
        if parse_version(str(previous_manifest.get("version", "0.0.0"))) >= parse_version(version):
            raise InputError(
                f"version {version} is not above the previous release's {previous_manifest.get('version')}"
            )
        if splits is None and (previous / SPLITS_NAME).is_file():
            splits = previous / SPLITS_NAME
    plan = read_splits(splits) if splits is not None else SplitPlan()
    if ratios is not None and splits is None:
        plan = SplitPlan(ratios=ratios)

    gold_docs: dict[str, Document] = {}
    if gold is not None:
        gold = Path(gold)
        gold_report = _validate(gold, ontology, progress)
        if not gold_report.valid:
            raise InvalidDataError(
                f"gold file {gold} failed validation with {gold_report.to_dict()['errors']} errors", gold_report
            )
        gold_docs = _read_gold(gold)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".building", dir=out.parent))
    builder = _Builder(
        tmp, ontology, plan, Report(), gold=gold_docs, span_mode=span_mode, row_group_rows=row_group_rows,
        max_shard_bytes=max_shard_bytes, file_name=export.name,
    )
    validation: _Validation | None = None
    try:
        validation = _Validation(export, ontology, progress, parallel=PARALLEL_VALIDATION)
        try:
            input_sha256 = _stream_input(export, kind, builder, progress)
        except Exception as exc:
            # Input the build could not read is invalid input: report what validation found.
            report = validation.result()
            if not report.valid:
                raise _refusal(export, report) from exc
            raise
        report = validation.result()
        report.stats = {"validation": dict(report.stats)} if report.stats else {}
        if not report.valid:
            raise _refusal(export, report)
        report.extend(builder.report.problems)
        builder.finish_gold()
        stats = builder.stats
        if stats.documents == 0:
            report.add(make_problem(NO_DOCUMENTS, "No task has a gold annotation; nothing to release.",
                                    file=export.name))
        if not report.valid:
            raise InvalidDataError(f"{export}: the build found {report.to_dict()['errors']} errors", report)
        layout = builder.close()
        (tmp / SPLITS_NAME).write_text(plan.to_json(), encoding="utf-8")

        diff = None
        changelog_earlier = ""
        if previous is not None:
            from corpus_tools.diff import diff_loaded, load_documents

            documents = {split: lay.files for split, lay in layout.get("documents", {}).items()}
            diff = diff_loaded(load_documents(previous), load_documents(tmp, version=version, files=documents))
            readme = previous / "README.md"
            if readme.is_file():
                changelog_earlier = extract_changelog(readme.read_text(encoding="utf-8"))
        changelog = changelog_entry(version, date=date, diff=diff, stats=stats)
        if changelog_earlier:
            changelog += "\n" + changelog_earlier + "\n"
        metadata = card_metadata(
            name=name, features=builder.features, layout=layout, license=license, documents=stats.documents
        )
        body = render_body(
            name=name, version=version, ontology=ontology, layout=layout, stats=stats, plan=plan,
            span_mode=span_mode, license=license, rights=rights, changelog=changelog,
            input_sha256=input_sha256, tool_version=__version__,
        )
        (tmp / "README.md").write_text(render_card(metadata, body), encoding="utf-8")
        manifest = write_manifest(
            tmp,
            {
                "name": name,
                "version": version,
                "ontology": {"name": ontology.name, "version": ontology.version, "sha256": ontology.source_sha256},
                "input_sha256": input_sha256,
                "tool_version": __version__,
                "configs": {
                    config: {
                        split: {"num_examples": lay.num_examples, "files": lay.files}
                        for split, lay in splits_.items()
                        if lay.num_examples
                    }
                    for config, splits_ in layout.items()
                    if any(lay.num_examples for lay in splits_.values())
                },
            },
        )
        if progress is not None:
            progress("check", 0, None)
        checks = check_release(tmp, ontology=ontology)
        report.extend(checks.problems)
        report.stats.update({"release": stats.to_dict(), "checks": checks.stats})
        if not checks.valid:
            raise ReleaseError(
                f"the built release failed {checks.error_count} pre-publish checks; nothing was written to {out}",
                report,
            )
        os.rename(tmp, out)
    except BaseException:
        if validation is not None:
            validation.cancel()
        builder.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(out=out, version=version, manifest=manifest, report=report, stats=stats)


__all__ = ["BuildResult", "build_release", "select_gold", "parse_version", "MANIFEST_NAME"]

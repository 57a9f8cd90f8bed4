"""Rows of the release configs, one document at a time, with the statistics for the card.

:class:`Builder` receives each task (or canonical document), picks its gold
(:func:`select_gold`), checks ids and the leakage audit, and writes the rows of the
``documents``, ``tokens``, ``relations`` and ``annotations`` configs into their
:class:`~corpus_tools.build.shards.ShardWriter`.  Problems go to its report; nothing is printed.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from pathlib import Path
from typing import TypeVar

from corpus_tools.artefacts import RELEASE_CONFIGS
from corpus_tools.build.shards import ShardWriter
from corpus_tools.build.tokenrows import token_row, tokens_batch
from corpus_tools.features import release_features
from corpus_tools.labelstudio.export import (
    AnnotationRecord,
    task_document_id,
    task_text,
    task_to_document,
    task_to_records,
)
from corpus_tools.ontology import Ontology
from corpus_tools.release.card import SplitLayout
from corpus_tools.release.splits import SplitPlan
from corpus_tools.release.stats import ReleaseStats
from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.spans import Document, Relation, Span
from corpus_tools.tokens import encode_bio_arrays, whole_token_spans

T = TypeVar("T")
STAGE = "build"
_DELTA = "DELTA_BINARY_PACKED"
# Parquet encodings per config (docs/benchmarks.md): token strings and tags repeat (dictionary), offsets
# grow along a row (delta: the tokens files a third smaller and written a third faster), the rest plain.
PARQUET_ENCODINGS: dict[str, dict] = {
    "tokens": {"dictionary": ["tokens.list.element", "ner_tags.list.element"],
               "column_encoding": {"token_start.list.element": _DELTA, "token_end.list.element": _DELTA}},
    **{config: {"dictionary": False, "column_encoding": {"entities.list.element.start": _DELTA,
                                                          "entities.list.element.end": _DELTA}}
       for config in ("documents", "annotations")},
}
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
LABELS_CHANGED = define_code(
    "build-labels-changed", "warning",
    "Entity or relation labels were removed or reordered since the --previous release (their ClassLabel ids"
    " changed) while the major version stayed the same.", stage=STAGE,
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


def annotator_name(value: str | None) -> str | None:
    """Annotator ids are kept; e-mail addresses become a stable pseudonym (no personal data in releases)."""
    if value and "@" in value:
        return "annotator-" + hashlib.sha256(value.strip().lower().encode()).hexdigest()[:10]
    return value


def choose_gold(live: list[T], marked: list[T]) -> tuple[T | None, str]:
    """The gold among a task's non-cancelled annotations (``marked``: those marked ground truth) and how it
    was chosen, or None and why not."""
    if len(marked) == 1:
        return marked[0], "ground-truth"
    if len(marked) > 1:
        return None, "ambiguous"
    if len(live) == 1:
        return live[0], "single"
    return None, ("ambiguous" if live else "unannotated")


def select_gold(records: list[AnnotationRecord]) -> tuple[AnnotationRecord | None, str]:
    """The gold annotation of a task and how it was chosen, or None and why not."""
    live = [r for r in records if r.kind == "annotation" and not r.cancelled]
    return choose_gold(live, [r for r in live if r.ground_truth])


def left_out_problem(source: str, doc_id: str) -> tuple[str, str]:
    """The code and message for a task left out because its gold could not be chosen (``source``)."""
    if source == "ambiguous":
        return GOLD_AMBIGUOUS, f"Task of document {doc_id!r} has several annotations and no ground truth; left out."
    return GOLD_MISSING, f"Task of document {doc_id!r} has no non-cancelled annotation; left out."


class Builder:
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
        self.features = release_features(ontology)
        self.schemas = dict(self.features.schemas)
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
    def writer(self, config: str, split: str) -> ShardWriter:
        """The shard writer of one config split (created on first use)."""
        writer = self.writers.get((config, split))
        if writer is None:
            writer = self.writers[(config, split)] = ShardWriter(
                self.root / "data" / config,
                split,
                self.schemas[config],
                row_group_rows=self.row_group_rows,
                max_shard_bytes=self.max_shard_bytes,
                **({"make_batch": tokens_batch} if config == "tokens" else {}),
                **PARQUET_ENCODINGS.get(config, {"dictionary": False}),
            )
        return writer

    def _write(self, config: str, split: str, row: object) -> None:
        self.writer(config, split).write(row)

    def close(self) -> dict[str, dict[str, SplitLayout]]:
        """Close every shard writer (their last row groups are encoded in threads: pyarrow releases the GIL)."""
        keys = [(config, split) for config in RELEASE_CONFIGS for split in self.plan.split_names
                if (config, split) in self.writers]
        with ThreadPoolExecutor(min(len(keys), os.cpu_count() or 1) or 1) as pool:
            closed = dict(zip(keys, pool.map(lambda key: self.writers[key].close(), keys), strict=True))
        layout: dict[str, dict[str, SplitLayout]] = {}
        for config, split in keys:
            writer = self.writers[(config, split)]
            shards = closed[(config, split)]
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
        return self.check_key(doc.id, hashlib.sha256(doc.text.encode("utf-8")).digest(), split, where)

    def check_key(self, doc_id: str, digest: bytes, split: str, where: dict) -> bool:
        """:meth:`check_identity` for a document known by its id and the sha256 of its UTF-8 text."""
        if doc_id in self.seen_ids:
            self._problem(DUPLICATE_ID, f"Document id {doc_id!r} appears in more than one task.", **where)
            return False
        self.seen_ids.add(doc_id)
        other = self.texts.get(digest)
        if other is None:
            self.texts[digest] = (doc_id, split)
        elif other[1] != split:
            self._problem(
                DUPLICATE_TEXT_ACROSS_SPLITS,
                f"Documents {other[0]!r} ({other[1]}) and {doc_id!r} ({split}) have exactly the same text.",
                details={"documents": [other[0], doc_id], "splits": [other[1], split]}, **where,
            )
        else:
            self.stats.duplicate_texts += 1
            self._problem(
                DUPLICATE_TEXT,
                f"Documents {other[0]!r} and {doc_id!r} ({split}) have exactly the same text.",
                details={"documents": [other[0], doc_id]}, **where,
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
        bio = encode_bio_arrays(doc.text, spans, self.bio_ids)
        for s in bio.unencodable:
            counts.unencodable[s.label] += 1
        counts.tokens += len(bio.starts)
        self._write("tokens", split, token_row(doc.id, doc.text, bio))
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
                self._problem(*left_out_problem(source, doc_id), **where)
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

"""The row-by-row builder the build had before its columnar one, kept as the reference the build is tested against.

:class:`ReferenceRows` takes one task (or canonical document) at a time, picks its gold with
:func:`~corpus_tools.build.gold.select_gold` over :class:`~corpus_tools.labelstudio.export.AnnotationRecord`
objects and writes plain row dicts; ``tests/test_build_parallel.py`` compares its files, statistics and problems
with those of :func:`~corpus_tools.build.driver.build_release`.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import ijson

from corpus_tools.build.gold import GOLD_TEXT_MISMATCH, GOLD_UNUSED, left_out_problem, select_gold
from corpus_tools.build.shards import MAX_SHARD_BYTES, ROW_GROUP_ROWS
from corpus_tools.build.writer import DANGLING_RELATION, UNKNOWN_LABEL, ReleaseWriter
from corpus_tools.labelstudio.export import (
    AnnotationRecord,
    task_document_id,
    task_text,
    task_to_document,
    task_to_records,
)
from corpus_tools.ontology import Ontology
from corpus_tools.release.splits import SplitPlan
from corpus_tools.report import Report
from corpus_tools.spans import Document, Relation, Span, spans_to_bio
from corpus_tools.strictjson import loads as json_loads
from corpus_tools.teams.agreement import AgreementReport, task_annotations
from corpus_tools.teams.pseudonyms import load_or_create_key, pseudonym


class ReferenceRows(ReleaseWriter):
    """Streams documents into the config writers one row at a time."""

    def __init__(self, root: Path, ontology: Ontology, *, gold: dict[str, Document] | None = None,
                 segmentation: str = "none", file_name: str = "export.json") -> None:
        super().__init__(root, ontology, SplitPlan(ratios=SplitPlan().ratios), Report(),
                         row_group_rows=ROW_GROUP_ROWS, max_shard_bytes=MAX_SHARD_BYTES, file_name=file_name)
        self.gold = gold or {}
        self.gold_used: set[str] = set()
        self.segmentation = segmentation
        self.entity_ids = {label: i for i, label in enumerate(ontology.entity_labels)}
        self.relation_ids = {label: i for i, label in enumerate(ontology.relation_labels)}
        self.bio_ids = {label: i for i, label in enumerate(ontology.bio_labels)}
        self.meta_fields = ontology.meta_fields
        self.key = load_or_create_key()  # the key build_release uses by default

    def _write_row(self, config: str, split: str, row: object) -> None:
        self.writer(config, split).write(row)

    def _span_rows(self, spans: list[Span], where: dict) -> list[dict]:
        rows = []
        for s in sorted(spans, key=lambda s: (s.start, s.end, s.label, s.id)):
            label = self.entity_ids.get(s.label)
            if label is None:
                self.problem(UNKNOWN_LABEL, f"Span label {s.label!r} is not in the ontology.", **where)
                continue
            rows.append({"id": s.id, "start": s.start, "end": s.end, "text": s.text, "label": label})
        return rows

    def _relation_rows(self, relations: list[Relation], where: dict) -> list[dict]:
        rows = []
        for r in sorted(relations, key=lambda r: (r.head, r.tail, r.label, r.id)):
            label = self.relation_ids.get(r.label)
            if label is None:
                self.problem(UNKNOWN_LABEL, f"Relation label {r.label!r} is not in the ontology.", **where)
                continue
            rows.append({"id": r.id, "head": r.head, "tail": r.tail, "label": label})
        return rows

    def add_annotations(self, records: list[AnnotationRecord], split: str) -> None:
        """Rows of the annotations config for one task."""
        for rec in records:
            if rec.kind != "annotation":
                continue
            where = {"task_id": rec.task_id, "annotation_id": rec.id}
            annotator = pseudonym(rec.annotator, key=self.key)
            self.stats.annotations += 1
            self.stats.cancelled += rec.cancelled
            if annotator is not None:
                self.stats.annotators[annotator] += 1
            self._write_row("annotations", split, {
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

    def _meta_row(self, meta: dict) -> dict:
        """The declared meta fields (a date's first ten characters as a calendar date), null when absent."""
        row = {}
        for name, kind in self.meta_fields:
            value = meta.get(name)
            row[name] = datetime.date.fromisoformat(value[:10]) if kind == "date" and value is not None else value
        return row

    def check_identity(self, doc: Document, split: str, where: dict) -> bool:
        return self.check_key(doc.id, hashlib.sha256(doc.text.encode("utf-8")).digest(), split, where)

    def add_document(self, doc: Document, split: str, where: dict) -> None:
        """Rows of the documents, tokens and relations configs for one gold document."""
        counts = self.stats.split(split)
        counts.documents += 1
        entities = self._span_rows(doc.entities, where)
        relations = self._relation_rows(doc.relations, where)
        dateline = doc.dateline or {}
        self._write_row("documents", split, {
            "id": doc.id,
            "title": doc.title,
            "text": doc.text,
            "text_sha256": hashlib.sha256(doc.text.encode("utf-8")).hexdigest(),
            "source": doc.source,
            "lang": doc.lang,
            "dateline_places": list(dateline.get("places") or []),
            "dateline_paper": dateline.get("paper"),
            "dateline_agencies": list(dateline.get("agencies") or []),
            "meta": self._meta_row(doc.meta),
            "entities": entities,
            "relations": relations,
        })
        for s in doc.entities:
            counts.entities[s.label] += 1
        # tokens
        spans = [s for s in doc.entities if s.label in self.entity_ids]
        bio = spans_to_bio(doc.text, spans, self.segmentation)
        for s in bio.unencodable:
            counts.unencodable[s.label] += 1
        for s in bio.widened:
            counts.widened[s.label] += 1
        counts.tokens += len(bio.tokens)
        self._write_row("tokens", split, {
            "id": doc.id, "tokens": [t.text for t in bio.tokens], "token_start": [t.start for t in bio.tokens],
            "token_end": [t.end for t in bio.tokens], "ner_tags": [self.bio_ids[tag] for tag in bio.tags]})
        # relations
        by_id = {s["id"]: s for s in entities}
        for rel in relations:
            head, tail = by_id.get(rel["head"]), by_id.get(rel["tail"])
            if head is None or tail is None:
                self.problem(DANGLING_RELATION, f"Relation {rel['id']!r} points to a missing span.", **where)
                continue
            counts.relations[self._relation_label(rel["label"])] += 1
            self._write_row("relations", split, {
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
        if self.stats.agreement is None:
            self.stats.agreement = AgreementReport(segmentation=self.segmentation)
        annotations = task_annotations(task, lambda value: pseudonym(value, key=self.key))
        self.stats.agreement.add_task(task.get("id"), task_text(task), annotations)
        records = list(task_to_records(task))
        doc_id = task_document_id(task)
        split = self.plan.assign(doc_id)
        where = {"task_id": task.get("id")}
        self.add_annotations(records, split)
        adjudicated = self.gold.get(doc_id)
        if adjudicated is not None:
            self.gold_used.add(doc_id)
            if adjudicated.text != task_text(task):
                self.problem(
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
                self.problem(*left_out_problem(source, doc_id), **where)
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
            self.problem(GOLD_UNUSED, f"Gold document {doc_id!r} matches no task of the export.")


def reference_release(path: Path, root: Path, ontology: Ontology, **options: object) -> ReferenceRows:
    """The reference rows of a Label Studio export or document JSONL written under ``root`` (closed)."""
    rows = ReferenceRows(root, ontology, file_name=str(path), **options)  # type: ignore[arg-type]
    with open(path, "rb") as f:
        if f.read(1) == b"[":
            f.seek(0)
            for task in ijson.items(f, "item", use_float=True):
                rows.add_task(task)
        else:
            f.seek(0)
            for line, raw in enumerate(f, 1):
                if raw.strip():
                    rows.add_canonical(Document.from_dict(json_loads(raw)), line)
    rows.finish_gold()
    rows.layout = rows.close()
    return rows

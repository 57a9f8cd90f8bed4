"""The one row builder: a segment of the input turned into the release configs' Arrow tables, column by column.

A segment is a list of whole Label Studio tasks (:meth:`SegmentBuilder.build`, which also validates each
task exactly as :func:`corpus_tools.validate.driver.validate_export` does) or of validated canonical documents
(:meth:`SegmentBuilder.build_documents`).  The rows of the four configs are built column by column (no row
dicts, no ``Span`` objects; the tokens config for the whole segment at once).  What needs every task
(repeated article ids, repeated document ids, the leakage audit) is returned as keys for the main process,
which checks them in input order (:mod:`corpus_tools.build.workers`, :mod:`corpus_tools.build.writer`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from corpus_tools.artefacts import LS_DATA_KEY
from corpus_tools.build.gold import choose_gold, gold_text_mismatch, left_out_problem
from corpus_tools.build.shards import row_weights
from corpus_tools.build.writer import DANGLING_RELATION, UNKNOWN_LABEL, text_signatures
from corpus_tools.columns import find_in_rows, parents
from corpus_tools.labelstudio.export import read_result
from corpus_tools.labelstudio.tasks import ARTICLE_ID_KEY
from corpus_tools.ontology import Ontology, meta_date, meta_value_ok
from corpus_tools.release.splits import SplitPlan
from corpus_tools.release.stats import ReleaseStats, SplitCounts, ViewCounts
from corpus_tools.report import Problem, make_problem
from corpus_tools.rules import SpanReads
from corpus_tools.spans import Document
from corpus_tools.teams.agreement import AgreementReport, latest_per_annotator
from corpus_tools.teams.pseudonyms import pseudonym
from corpus_tools.tokens import TagIds, token_table
from corpus_tools.validate.segmented import CheckedSegment
from corpus_tools.views import ViewSpec, normalise


@dataclass
class TaskKeys:
    """What the main process needs of one task, in task order."""

    index: int
    task_id: object
    doc_id: str | None  # None: the item is not a task object
    split: str | None = None  # the plan's split (a rule or an earlier assignment: the same in every process)
    before: list[Problem] | None = None  # build problems before the identity check
    digest: bytes | None = None  # sha256 of the gold document's text; None: no gold document
    signature: bytes | None = None  # MinHash of the gold document's text (the near-duplicate audit)
    where: dict | None = None
    source: str | None = None
    after: list[Problem] | None = None  # build problems of the document's rows
    gold_file: bool = False  # the --gold file holds this document


@dataclass
class SegmentResult(CheckedSegment):
    """A worker's answer for one segment: its checks (:class:`~corpus_tools.validate.segmented.CheckedSegment`),
    the keys of its tasks, its statistics and its tables."""

    tasks: list[TaskKeys] = field(default_factory=list)
    stats: ReleaseStats = field(default_factory=ReleaseStats)
    tables: dict[tuple[str, str], pa.Table] = field(default_factory=dict)
    spooled: dict[tuple[str, str], tuple[str, np.ndarray]] = field(default_factory=dict)

    def spool(self, directory: Path) -> None:
        """Move the tables into Arrow IPC files (with their row weights): the main process maps them, so a
        worker never waits for the main process to read its answer from a pipe."""
        for (config, split), table in self.tables.items():
            path = directory / f"{self.first_index:012d}-{config}-{split}.arrow"
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            self.spooled[(config, split)] = (str(path), row_weights(table))
        self.tables = {}

    def load(self) -> dict[tuple[str, str], tuple[pa.Table, np.ndarray]]:
        """The tables (memory-mapped from their spool files, which are unlinked at once) and their row weights."""
        out = {key: (table, row_weights(table)) for key, table in self.tables.items()}
        for key, (path, weights) in self.spooled.items():
            with pa.memory_map(path) as source:
                out[key] = (pa.ipc.open_file(source).read_all(), weights)
            os.unlink(path)
        return out


def task_doc_id(task: dict) -> str:
    """The document id of a task: its article id, else ``task-ID``."""
    data = task.get("data") or {}
    article_id = data.get(ARTICLE_ID_KEY) if isinstance(data, dict) else None
    return str(article_id) if article_id else f"task-{task.get('id')}"


VIEW_RUN = 1 << 20  # code points of text normalised at once for a view


class SegmentBuilder:
    """Validates and builds the tasks of one segment (one instance per worker process)."""

    def __init__(self, ontology: Ontology, plan: SplitPlan, schemas: dict[str, pa.Schema], *, file: str,
                 segmentation: str, gold: Mapping[str, Document] | None = None,
                 views: Sequence[ViewSpec] = (), pseudonym_key: bytes, near_duplicates: bool = True) -> None:
        from corpus_tools.checks import ItemChecker

        self.ontology = ontology
        self.plan = plan
        self.schemas = schemas
        self.file = file
        self.segmentation = segmentation
        self.views = tuple(views)  # normalised views: configs documents-NAME and tokens-NAME
        self.gold = gold or {}  # adjudicated documents by id (--gold): they replace the annotations' choice
        self.run = ItemChecker(ontology)
        self.entity_ids = {label: i for i, label in enumerate(ontology.entity_labels)}
        self.relation_ids = {label: i for i, label in enumerate(ontology.relation_labels)}
        self.relation_names = list(ontology.relation_labels)
        self.meta_fields = ontology.meta_fields
        self._no_meta = (None,) * len(self.meta_fields)
        self.bio_ids = {label: i for i, label in enumerate(ontology.bio_labels)}
        self.tag_ids = TagIds.from_labels(ontology.entity_labels, self.bio_ids)
        self.near_duplicates = near_duplicates  # MinHash signatures of the gold texts for the leakage audit
        self.pseudonym_key = pseudonym_key  # annotators are named by keyed pseudonyms (corpus_tools.teams)
        self._annotators: dict[int, str | None] = {}  # completed_by ids seen (each pseudonym made once)
        self._names: dict[str | None, str | None] = {}  # the same for the names agreement gives

    # -- one segment -----------------------------------------------------------------------------
    def build(self, tasks: list, first_index: int, *, check: bool = True) -> SegmentResult:
        """The tables of the tasks ``tasks`` (the first at ``first_index`` in the export) and, unless ``check`` is
        False (the caller validated them), their validation problems, counts and article ids."""
        result = SegmentResult(first_index=first_index, count=len(tasks))
        run = self.run
        before = dict(run.semantic.counts)
        self._out = result
        self._rows: dict[tuple[str, str], dict[str, list]] = {}
        self._signing: list[tuple[TaskKeys, str]] = []  # gold texts whose signatures the segment's tables add
        reads: dict[int, SpanReads] = {}
        self._splits = self.plan.splits_of(task_doc_id(task) for task in tasks if type(task) is dict)
        for offset, task in enumerate(tasks):
            index = first_index + offset
            if check:
                problems: list[Problem] = []
                reads = run.task(task, index, problems, file=self.file, keep_reads=True)
                if problems:
                    result.validation.append((index, problems))
            self._task(task, index, reads, articles=check)
        result.counts = {k: v - before.get(k, 0) for k, v in run.semantic.counts.items()}
        result.tables = self._tables()
        _no_empty_problem_lists(result.tasks)
        return result

    def _columns(self, config: str, split: str) -> dict[str, list]:
        cols = self._rows.get((config, split))
        if cols is None:
            cols = self._rows[(config, split)] = {name: [] for name in self.schemas[config].names}
            if config == "documents":
                cols["_utf8"] = []  # the texts in UTF-8, encoded once for the digest, the text column and tokens
                cols["_problems"] = []  # each row's problems list and location (see _relations)
            if config in ("documents", "annotations"):
                # each row's offsets and the (start, end, label, id, text) span tuples of the rows, turned into the
                # struct-list columns once for the segment (_transpose)
                cols["entities"] = [[0], []]
                cols["relations"] = [[0], []]  # the same with (head, tail, label, id) relation tuples
        return cols

    def _problem(self, out: list[Problem], code: str, message: str, where: dict) -> None:
        out.append(make_problem(code, message, file=self.file, **where))

    # -- spans -----------------------------------------------------------------------------------
    def _add_spans(self, lists: list[list], spans: list[tuple], out: list[Problem], where: dict, *,
                   checked: bool) -> None:
        """Append ``spans`` (sorted in place by start, end, label, id) to a row's entities; ``checked``: their labels
        are known already (validation read them)."""
        offsets, rows = lists
        spans.sort()  # tuples: (start, end, label, id, text), the text being a function of start and end
        entity_ids = self.entity_ids
        if not checked and not all(span[2] in entity_ids for span in spans):
            known = []
            for span in spans:
                if span[2] in entity_ids:
                    known.append(span)
                else:
                    self._problem(out, UNKNOWN_LABEL, f"Span label {span[2]!r} is not in the ontology.", where)
            spans = known
        rows.extend(spans)
        offsets.append(len(rows))

    def _add_relations(self, lists: list[list], relations: list[tuple], out: list[Problem], where: dict, *,
                       checked: bool) -> None:
        """The same for a row's relations (tuples: head, tail, label, id)."""
        offsets, rows = lists
        relations.sort()
        if checked:
            rows.extend(relations)
        else:
            relation_ids = self.relation_ids
            for relation in relations:
                if relation[2] in relation_ids:
                    rows.append(relation)
                else:
                    self._problem(out, UNKNOWN_LABEL, f"Relation label {relation[2]!r} is not in the ontology.", where)
        offsets.append(len(rows))

    # -- one task --------------------------------------------------------------------------------
    def _task(self, task: object, index: int, reads: dict[int, SpanReads], *, articles: bool) -> None:
        result = self._out
        result.stats.tasks += 1
        if type(task) is not dict:
            result.tasks.append(TaskKeys(index=index, task_id=None, doc_id=None))
            return
        task_id = task.get("id")
        data = task.get("data") or {}
        if not isinstance(data, dict):
            data = {}
        article_id = data.get(ARTICLE_ID_KEY)
        if articles:  # the whole-export checks (ExportKeys) take every task: its id, its article id
            result.articles.append((article_id if type(article_id) is str and article_id else None, index, task_id))
        text = data.get(LS_DATA_KEY, "")
        doc_id = task_doc_id(task)
        split = self._splits[doc_id]  # looked up for the whole segment at once (build)
        keys = TaskKeys(index=index, task_id=task_id, doc_id=doc_id, split=split)
        result.tasks.append(keys)
        where = {"task_id": task_id}
        before: list[Problem] = []
        live, marked, cols, copied = self._annotations(task, doc_id, text, split, reads, before)
        adjudicated = self.gold.get(doc_id)
        if adjudicated is not None:
            keys.gold_file = True
            if adjudicated.text != text:
                self._problem(before, *gold_text_mismatch(doc_id), where)
            else:
                spans = [(s.start, s.end, s.label, s.id, s.text) for s in adjudicated.entities]
                relations = [(r.head, r.tail, r.label, r.id) for r in adjudicated.relations]
                self._gold(keys, _task_fields(data), text, spans, relations, where, "gold-file", None)
        else:
            gold, source = choose_gold(live, marked)  # predictions never become gold
            if gold is None:
                result.stats.left_out[source] += 1
                self._problem(before, *left_out_problem(source, doc_id), where)
            else:
                item, spans, relations = gold
                rows = copied.get(id(item))
                source_rows = (cols, *rows) if rows is not None and cols is not None else None
                where = {**where, "annotation_id": item.get("id")}
                self._gold(keys, _task_fields(data), text, spans, relations, where, source, source_rows)
        keys.before = before or None

    def _annotations(self, task: dict, doc_id: str, text: object, split: str, reads: dict[int, SpanReads],
                     out: list[Problem]) -> tuple:
        """The annotations rows of a task (every annotation, cancelled ones too) and its agreement statistics;
        ``reads``: what validation read of them, by index.

        Returns the non-cancelled annotations as ``(item, spans, relations)``, those marked ground truth, the
        annotations columns and, by ``id(item)``, the row ranges of the annotations the documents config may copy.
        """
        stats = self._out.stats
        record_task_id = int(task.get("id") or 0)
        live: list[tuple[dict, list[tuple], list[tuple]]] = []
        marked = []
        cols = None
        copied: dict[int, tuple[int, int, int, int]] = {}
        for i, item in enumerate(task.get("annotations") or []):
            if type(item) is not dict:
                continue
            if cols is None:
                cols = self._columns("annotations", split)
            read = reads.get(i)  # validated and read already: the spans and relations as read_result gives them
            spans, relations = read if read is not None else read_result(item.get("result") or [], text)
            checked = read is not None  # their labels are known
            annotator = self._annotator(item.get("completed_by"))
            cancelled = bool(item.get("was_cancelled"))
            ground_truth = bool(item.get("ground_truth"))
            stats.annotations += 1
            if cancelled:
                stats.cancelled += 1
            if annotator is not None:
                stats.annotators[annotator] += 1
            if not cancelled:
                live.append((item, spans, relations))
                if ground_truth:
                    marked.append(live[-1])
            cols["document_id"].append(doc_id)
            cols["task_id"].append(record_task_id)
            cols["annotation_id"].append(item.get("id"))
            cols["annotator"].append(annotator)
            cols["lead_time"].append(item.get("lead_time"))
            cols["cancelled"].append(cancelled)
            cols["ground_truth"].append(ground_truth)
            cols["created_at"].append(item.get("created_at"))
            cols["updated_at"].append(item.get("updated_at"))
            problems = len(out)
            entity_start, relation_start = len(cols["entities"][1]), len(cols["relations"][1])
            ann_where = {"task_id": record_task_id, "annotation_id": item.get("id")}
            self._add_spans(cols["entities"], spans, out, ann_where, checked=checked)
            self._add_relations(cols["relations"], relations, out, ann_where, checked=checked)
            if not cancelled and len(out) == problems:  # its rows can be copied for the documents config
                copied[id(item)] = (entity_start, len(cols["entities"][1]), relation_start,
                                    len(cols["relations"][1]))
        if stats.agreement is None:
            stats.agreement = AgreementReport(segmentation=self.segmentation)
        # with fewer than two annotations agreement only counts the task: nobody is named
        stats.agreement.add_task(task.get("id"), text if type(text) is str else "",
                                 latest_per_annotator(live, self._pseudonym) if len(live) > 1 else ())
        return live, marked, cols, copied

    def _pseudonym(self, value: str | None) -> str | None:
        if value not in self._names:  # a string (annotator_of) or None
            self._names[value] = pseudonym(value, key=self.pseudonym_key)
        return self._names[value]

    def _annotator(self, completed_by: object) -> str | None:
        key = completed_by if type(completed_by) is int else None
        annotator = self._annotators.get(key) if key is not None else None
        if annotator is None:
            annotator = pseudonym(completed_by, key=self.pseudonym_key)
            if key is not None:
                self._annotators[key] = annotator
        return annotator

    def _gold(self, keys: TaskKeys, fields: tuple, text: object, spans: list[tuple], relations: list[tuple],
              where: dict, source: str, source_rows: tuple | None) -> None:
        """The rows of a task's gold document; the main process checks its identity (``keys``) before the
        problems of its rows."""
        utf8 = text.encode("utf-8") if type(text) is str else b""
        keys.digest = hashlib.sha256(utf8).digest()  # the documents row's text_sha256 is its hex form
        if self.near_duplicates and type(text) is str:
            self._signing.append((keys, text))
        keys.where = where
        keys.source = source
        after: list[Problem] = []
        self._document(fields, keys.doc_id, text, utf8, keys.digest, keys.split, spans, relations, after, where,
                       source_rows)
        keys.after = after  # the relations config adds its problems at the end of the segment (_relations)

    # -- one canonical document ------------------------------------------------------------------
    def build_documents(self, documents: list[tuple[int, Document]], first_index: int) -> SegmentResult:
        """The rows of validated canonical documents (``(line, document)`` pairs of a document JSONL file)."""
        result = SegmentResult(first_index=first_index, count=len(documents))
        self._out = result
        self._rows = {}
        self._signing = []
        splits = self.plan.splits_of(doc.id for _, doc in documents)
        for line, doc in documents:
            result.stats.tasks += 1
            keys = TaskKeys(index=line, task_id=None, doc_id=doc.id, split=splits[doc.id])
            result.tasks.append(keys)
            spans = [(s.start, s.end, s.label, s.id, s.text) for s in doc.entities]
            relations = [(r.head, r.tail, r.label, r.id) for r in doc.relations]
            fields = (doc.title, doc.source, doc.lang, doc.dateline or {}, doc.meta)
            self._gold(keys, fields, doc.text, spans, relations, {"line": line}, "document", None)
        result.tables = self._tables()
        _no_empty_problem_lists(result.tasks)
        return result

    def _document(self, fields: tuple, doc_id: str, text: str, utf8: bytes, digest: bytes, split: str,
                  spans: list[tuple], relations: list[tuple], out: list[Problem], where: dict,
                  source_rows: tuple | None) -> None:
        """The documents row of a gold document (its relations rows are made for the segment: :meth:`_relations`).

        ``fields``: its title, source, language, dateline and article metadata.  ``source_rows``: the annotations
        columns and the gold annotation's entity and relation row ranges there, when they can be copied (they are
        the same rows, already sorted and checked).
        """
        counts = self._out.stats.split(split)
        counts.documents += 1
        cols = self._columns("documents", split)
        title, source, lang, dateline, meta = fields
        cols["id"].append(doc_id)
        cols["title"].append(title)
        cols["text"].append(text)
        cols["text_sha256"].append(digest.hex())  # the stored text's sha256, in every view config too
        cols["_problems"].append((out, where))  # where the relations config reports a dangling relation
        cols["_utf8"].append(utf8)
        cols["source"].append(source)
        cols["lang"].append(lang)
        cols["dateline_places"].append(list(dateline.get("places") or []))
        cols["dateline_paper"].append(dateline.get("paper"))
        cols["dateline_agencies"].append(list(dateline.get("agencies") or []))
        cols["meta"].append(self._meta_row(meta))
        if source_rows is not None:
            source, e0, e1, r0, r1 = source_rows
            for name, first, last in (("entities", e0, e1), ("relations", r0, r1)):
                offsets, rows = cols[name]
                rows.extend(source[name][1][first:last])
                offsets.append(len(rows))
        else:
            self._add_spans(cols["entities"], spans, out, where, checked=False)
            self._add_relations(cols["relations"], relations, out, where, checked=False)
        counts.entities.update([span[2] for span in spans])

    def _relations(self, split: str, cols: dict[str, list], documents_table: pa.Table) -> pa.Table | None:
        """The relations config of a split's documents rows ``cols`` (their table: ``documents_table``): one row
        per relation whose head and tail are spans of its document, built column by column for the whole segment
        (None: no relation at all).  A relation whose head or tail is no span of its document is reported with the
        document's problems."""
        offsets, r_ids, heads, tails, r_labels = cols["relations"]
        if not r_ids:
            return None
        lists = documents_table.column("entities").combine_chunks()
        entities = lists.flatten()  # the entity rows, in order
        e_doc = parents(lists)
        r_doc = np.repeat(np.arange(len(cols["id"])), np.diff(np.asarray(offsets, dtype=np.int64)))
        # the last span of that id, as a dict keeps: heads and tails looked up at once (one vocabulary of span ids)
        both = find_in_rows(e_doc, entities.field("id"), np.concatenate([r_doc, r_doc]),
                            pa.array(heads + tails, type=pa.string()))
        ends = {"head": both[:len(heads)], "tail": both[len(heads):]}
        found = (ends["head"] >= 0) & (ends["tail"] >= 0)
        problems = cols["_problems"]
        for k in np.flatnonzero(~found).tolist():
            out, where = problems[r_doc[k]]
            self._problem(out, DANGLING_RELATION, f"Relation {r_ids[k]!r} points to a missing span.", where)
        kept = np.flatnonzero(found)
        labels = np.asarray(r_labels, dtype=np.int64)[kept]
        values, first, count = np.unique(labels, return_index=True, return_counts=True)
        counts = self._out.stats.split(split).relations
        for k in np.argsort(first).tolist():  # the labels in the order the rows first give them
            counts[self.relation_names[values[k]]] += int(count[k])
        columns = {"document_id": documents_table.column("id").take(pa.array(r_doc[kept])),
                   "id": pa.array(r_ids, type=pa.string()).take(pa.array(kept)), "label": pa.array(labels)}
        for side, rows in ends.items():
            spans = entities.take(pa.array(rows[kept]))
            for name in ("id", "start", "end", "text", "label"):
                columns[f"{side}_{name}"] = spans.field(name)
        schema = self.schemas["relations"]
        return pa.Table.from_arrays([columns[f.name].cast(f.type) for f in schema], schema=schema)

    def _meta_row(self, meta: object) -> tuple:
        """The meta struct of a document, a value per declared field in their order (a date as a
        ``datetime.date``), null when it is absent or not of its type (validation reports it: ``meta-type``);
        undeclared fields are left out (validation warns of them: ``meta-undeclared``)."""
        if type(meta) is not dict or not meta:
            return self._no_meta
        row: list[object] = []
        for name, kind in self.meta_fields:
            value = meta.get(name)
            if not meta_value_ok(kind, value):
                value = None
            elif kind == "date" and value is not None:
                value = meta_date(value)
            row.append(value)
        return tuple(row)

    # -- Arrow -----------------------------------------------------------------------------------
    def _tables(self) -> dict[tuple[str, str], pa.Table]:
        signatures = text_signatures([text for _, text in self._signing])  # the segment's at once
        for (keys, _), signature in zip(self._signing, signatures, strict=True):
            keys.signature = signature
        tables: dict[tuple[str, str], pa.Table] = {}
        for (config, split), cols in self._rows.items():
            if config == "tokens":
                continue
            if "entities" in cols:
                self._transpose(cols)
            tables[(config, split)] = _table(cols, self.schemas[config])
        for config, split in list(self._rows):
            if config == "documents":
                counts = self._out.stats.split(split)
                cols = self._rows[("documents", split)]
                relations = self._relations(split, cols, tables[("documents", split)])
                if relations is not None:
                    tables[("relations", split)] = relations
                tables[("tokens", split)] = self._tokens(cols, "tokens", counts)
                for view in self.views:
                    documents = self._view_documents(cols, view, counts.view(view.name))
                    tables[(f"documents-{view.name}", split)] = _table(documents, self.schemas["documents"])
                    tables[(f"tokens-{view.name}", split)] = self._tokens(documents, "tokens", counts.view(view.name))
        return tables

    def _transpose(self, cols: dict[str, list]) -> None:
        """The rows' span and relation tuples as the struct-list columns: ``entities`` becomes the offsets and the
        id, start, end, text and label (index) lists, ``relations`` the offsets and the id, head, tail and label
        (index) lists."""
        offsets, rows = cols["entities"]
        starts, ends, labels, ids, texts = map(list, zip(*rows, strict=True)) if rows else ([], [], [], [], [])
        cols["entities"] = [offsets, ids, starts, ends, texts, list(map(self.entity_ids.__getitem__, labels))]
        offsets, rows = cols["relations"]
        heads, tails, labels, ids = map(list, zip(*rows, strict=True)) if rows else ([], [], [], [])
        cols["relations"] = [offsets, ids, heads, tails, list(map(self.relation_ids.__getitem__, labels))]

    def _tokens(self, cols: dict[str, list], config: str, counts: SplitCounts | ViewCounts) -> pa.Table:
        """The tokens rows of documents rows ``cols``: their known-label spans are the documents' entity rows."""
        schema = self.schemas[config]
        doc_ids, texts = cols["id"], cols["text"]
        offsets, span_ids, starts, ends, _, labels = cols["entities"]
        names = self.ontology.entity_labels
        offsets_a = np.asarray(offsets, dtype=np.int64)
        starts_a, ends_a = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
        labels_a = np.asarray(labels, dtype=np.int64)
        sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        size_of_span = np.repeat(sizes, np.diff(offsets_a))
        in_range = (starts_a >= 0) & (starts_a < ends_a) & (ends_a <= size_of_span)
        if not in_range.all():  # validation refuses such spans, so these rows are never written: leave them out
            kept = np.flatnonzero(in_range)
            offsets_a = np.searchsorted(kept, offsets_a)
            starts_a, ends_a, labels_a = starts_a[kept], ends_a[kept], labels_a[kept]
            span_ids = [span_ids[k] for k in kept.tolist()]
        table = token_table(doc_ids, texts, offsets_a, starts_a, ends_a, labels_a, span_ids, self.tag_ids, schema,
                            utf8=cols["_utf8"], segmentation=self.segmentation)
        counts.tokens += int(table.token_counts.sum())
        for index in table.unencodable.tolist():
            counts.unencodable[names[labels_a[index]]] += 1
        for index in table.widened.tolist():
            counts.widened[names[labels_a[index]]] += 1
        return table.rows

    def _view_documents(self, cols: dict[str, list], view: ViewSpec, counts: ViewCounts) -> dict[str, list]:
        """The documents rows ``cols`` on a normalised view: the texts normalised, every entity moved to its view
        span; an entity the view deletes entirely is left out with the relations that use it.

        The texts are normalised a run of documents at a time (about a million code points: the maps cost 40
        bytes per code point), each run at once: the steps map each code point on its own, so the view of the
        concatenated texts is the concatenation of the views."""
        texts = cols["text"]
        offsets, span_ids, starts, ends, _, labels = cols["entities"]
        names = self.ontology.entity_labels
        view_texts: list[str] = []
        entities: list[list] = [[0], [], [], [], [], []]
        relations: list[list] = [[0], [], [], [], []]
        first = 0
        while first < len(texts):
            last, size = first, 0
            while last < len(texts) and (last == first or size + len(texts[last]) <= VIEW_RUN):
                size += len(texts[last])
                last += 1
            whole = normalise("".join(texts[first:last]), view.steps)
            base = 0
            for d in range(first, last):
                lo, hi = offsets[d], offsets[d + 1]
                view_base, view_end = int(whole.to_view[base]), int(whole.to_view[base + len(texts[d])])
                text = whole.text[view_base:view_end]
                view_texts.append(text)
                gone = set()
                if hi > lo:
                    doc_starts = (whole.to_view[np.asarray(starts[lo:hi]) + base] - view_base).tolist()
                    doc_ends = (whole.to_view[np.asarray(ends[lo:hi]) + base] - view_base).tolist()
                    for k, start, end in zip(range(lo, hi), doc_starts, doc_ends, strict=True):
                        if start == end:
                            counts.vanished[names[labels[k]]] += 1
                            gone.add(span_ids[k])
                            continue
                        entities[1].append(span_ids[k])
                        entities[2].append(start)
                        entities[3].append(end)
                        entities[4].append(text[start:end])
                        entities[5].append(labels[k])
                entities[0].append(len(entities[1]))
                _, r_ids, heads, tails, r_labels = cols["relations"]
                for k in range(cols["relations"][0][d], cols["relations"][0][d + 1]):
                    if not gone or (heads[k] not in gone and tails[k] not in gone):
                        relations[1].append(r_ids[k])
                        relations[2].append(heads[k])
                        relations[3].append(tails[k])
                        relations[4].append(r_labels[k])
                relations[0].append(len(relations[1]))
                base += len(texts[d])
            first = last
        return {**cols, "text": view_texts, "_utf8": [t.encode("utf-8") for t in view_texts], "entities": entities,
                "relations": relations}


def _no_empty_problem_lists(tasks: list[TaskKeys]) -> None:
    for keys in tasks:
        if not keys.after:
            keys.after = None


def _task_fields(data: dict) -> tuple[str, str, str, dict, dict]:
    """A task's title, source, language, dateline and article metadata, as
    :func:`~corpus_tools.labelstudio.export.task_to_document` reads them."""
    dateline = data.get("dateline")
    meta = data.get("meta")
    return (str(data.get("title") or ""), str(data.get("source") or ""), str(data.get("lang") or "ar"),
            dateline if isinstance(dateline, dict) else {}, meta if isinstance(meta, dict) else {})


def _struct_list(lists: list[list], type_: pa.ListType) -> pa.Array:
    offsets, *children = lists
    struct_type = type_.value_type
    fields = [struct_type.field(i) for i in range(struct_type.num_fields)]
    arrays = [pa.array(values, type=f.type) for values, f in zip(children, fields, strict=True)]
    values = pa.StructArray.from_arrays(arrays, fields=fields)
    return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)), values, type=type_)


def _utf8_strings(encoded: list[bytes]) -> pa.Array:
    """A string array from values already in UTF-8 (no second encoding)."""
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def _table(cols: dict[str, list], schema: pa.Schema) -> pa.Table:
    arrays = []
    for f in schema:
        values = cols[f.name]
        if f.name == "text" and "_utf8" in cols:
            arrays.append(_utf8_strings(cols["_utf8"]))
        elif pa.types.is_list(f.type) and pa.types.is_struct(f.type.value_type):
            arrays.append(_struct_list(values, f.type))
        elif pa.types.is_struct(f.type):  # rows as tuples of the fields' values
            fields = list(f.type)
            columns = zip(*values, strict=True) if values else [() for _ in fields]
            arrays.append(pa.StructArray.from_arrays(
                [pa.array(column, type=g.type) for column, g in zip(columns, fields, strict=True)], fields=fields))
        else:
            arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)

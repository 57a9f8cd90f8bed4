"""The semantic pass of ``validate``: checks a JSON Schema cannot express, as located problems.

:class:`SemanticChecker` is built once per ontology and checks one Label Studio task
(annotations and predictions alike) or one canonical document at a time.  It never raises on
malformed values: what the schema pass already reports (a string offset, a result that is not a
list) is skipped here.  Each annotation's result is first proved clean in one pass
(:meth:`SemanticChecker.clean_result`); only a result it is not sure of takes the full checks, which build paths
and messages, so a valid task costs a few dictionary lookups per span.

Offsets: ``value.start``/``value.end`` are code points; ``value.text`` is compared with
``text[start:end]``.  A difference that is only collapsed whitespace is a warning
(``span-text-whitespace-collapsed``, Label Studio LS#3078: the offsets are right and the text is
recomputed from them downstream); any other difference is an error, or ``span-utf16-offsets``
when the offsets match once read as UTF-16 units.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from corpus_tools import codes as C
from corpus_tools.artefacts import LS_FROM_NAME, LS_TO_NAME
from corpus_tools.offsets import (
    LEFT_EDGE,
    LEFT_WINDOW,
    NAME_TEXT,
    PREFIX_WINDOW,
    PROCLITIC_BEFORE,
    RIGHT_EDGE,
    as_offset,
    collapse_whitespace,
    digit_and_emoji,
    is_edge_forbidden,
    is_edge_punctuation,
    is_word_char,
    learn_edges,
    left_edge_prefix,
    right_edge_rest,
    trimmed,
    utf16_repair,
    word_end,
    word_start,
)
from corpus_tools.ontology import RESERVED_META, Ontology, RelationType, meta_type_words, meta_value_ok
from corpus_tools.report import Problem, make_problem
from corpus_tools.spans import relation_id
from corpus_tools.text import TATWEEL

# Path suffixes of one span's fields: Label Studio result items vs canonical document entities.
_LS_FIELDS = {"start": ".value.start", "end": ".value.end", "text": ".value.text", "value": ".value",
              "label": ".value.labels", "id": ".id"}
_START_END = itemgetter(0, 1)
_START = itemgetter(0)
_END = itemgetter(1)
_NO_END = sys.maxsize  # beyond every span end
_DOC_FIELDS = {"start": ".start", "end": ".end", "text": ".text", "value": "", "label": ".label", "id": ".id"}
_NO_IDS: frozenset[object] = frozenset()


def _first_region(result: list[Any], span_id: str) -> int:
    """Where ``result`` first has a region (a labels item with a value) of this id: the one that owns the id."""
    for k, item in enumerate(result):
        if (type(item) is dict and item.get("type") == "labels" and type(item.get("value")) is dict
                and type(item.get("id")) is str and item["id"] == span_id):
            return k
    raise ValueError(span_id)  # never: the id was seen in result


def _learn_edges_of(result: list[Any], text: str) -> None:
    """Put the keys of every region of ``result`` whose offsets fit ``text`` in the memos of the clean-result pass
    (:func:`~corpus_tools.offsets.learn_edges`)."""
    size = len(text)
    for item in result:
        value = item.get("value") if type(item) is dict and item.get("type") == "labels" else None
        if type(value) is dict:
            start, end = value.get("start"), value.get("end")
            if type(start) is int and type(end) is int and 0 <= start < end <= size:
                learn_edges(text, start, end)


def _show(ch: str) -> str:
    return f"U+{ord(ch):04X}"


# What the checks read of one annotation's result, as read_result reads it: its spans as (start, end, label, id,
# text) and its relations as (head, tail, label, id).
SpanReads = tuple[list[tuple], list[tuple]]


class _Where:
    """Location shared by every problem of one annotation (or document)."""

    __slots__ = ("out", "task_id", "annotation_id", "line", "file")

    def __init__(self, out: list[Problem], task_id: Any, annotation_id: Any = None, line: int | None = None,
                 file: str | None = None):
        self.out = out
        self.task_id = task_id
        self.annotation_id = annotation_id
        self.line = line
        self.file = file

    def add(self, code: str, message: str, path: str, **details: object) -> None:
        self.out.append(
            make_problem(code, message, file=self.file, task_id=self.task_id, annotation_id=self.annotation_id,
                         line=self.line, json_path=path, details=details)
        )


class SemanticChecker:
    """Semantic checks against one ontology; counts what it saw in ``counts``."""

    def __init__(self, ontology: Ontology) -> None:
        self.ontology = ontology
        self.entity_labels = frozenset(ontology.entity_labels)
        self.relations: dict[str, RelationType] = {r.label: r for r in ontology.relations}
        # (relation, head label, tail label) for every pair of entity labels a relation allows
        self._allowed = frozenset(
            (r.label, head, tail) for r in ontology.relations for head in self.entity_labels
            for tail in self.entity_labels if r.allows(head, tail)
        )
        self._symmetric = frozenset(r.label for r in ontology.relations if r.symmetric)
        self.overlap = ontology.overlap
        self.meta_types = dict(ontology.meta_fields)
        self.counts = {"tasks": 0, "annotations": 0, "predictions": 0, "prediction_ids": 0, "spans": 0,
                       "relations": 0}

    # ------------------------------------------------------------------ article metadata
    def check_meta(self, meta: object, path: str, where: _Where, *, reserved: bool = False) -> None:
        """An article's ``meta`` (at ``path``) against the ontology's declared fields: each declared value of its
        type (``meta-type``), each other field reported (``meta-undeclared``), except, with ``reserved``, the
        keys saying where a canonical document came from (``task_id``, ...)."""
        if meta is None:
            return
        if type(meta) is not dict:
            where.add(C.META_TYPE, f"meta is {type(meta).__name__}, not an object; write the article's metadata as"
                      " a JSON object of field: value.", path)
            return
        types = self.meta_types
        for key, value in meta.items():
            kind = types.get(key)
            field_path = f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"
            if kind is None:
                if not (reserved and key in RESERVED_META):
                    where.add(C.META_UNDECLARED, f"Meta field {key!r} is not declared in ontology"
                              f" {self.ontology.name} {self.ontology.version}, so the release leaves it out; declare"
                              " it under meta: with its type to keep it (reported once per file, first here).",
                              field_path, field=key)
            elif not meta_value_ok(kind, value):
                shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:59] + "…"
                where.add(C.META_TYPE, f"Meta field {key!r} is declared {kind} but holds {shown}; write"
                          f" {meta_type_words(kind)}, or null when it is unknown.", field_path, field=key,
                          type=kind)

    # ------------------------------------------------------------------ Label Studio tasks
    def check_task(self, task: Mapping[str, Any], root: str, out: list[Problem], *, file: str | None = None,
                   keep_reads: bool = False) -> dict[int, SpanReads]:
        """Every semantic check of one task whose JSON path is ``root`` (``$[3]`` in an export) of ``file``.

        Each result is first put to :meth:`clean_result`, which proves with few lookups that it has no problem at
        all; only a result it is not sure of takes :meth:`check_result`, which runs every check and locates every
        problem.  With ``keep_reads``, returns what the checks read of the task's clean annotations, by their index
        in ``annotations``: their spans and relations as :func:`~corpus_tools.labelstudio.export.read_result` gives
        them (so the build does not read the result again).
        """
        reads: dict[int, SpanReads] = {}
        counts = self.counts
        counts["tasks"] += 1
        task_id = task.get("id")
        data = task.get("data")
        text = data.get("text") if type(data) is dict else None
        where = _Where(out, task_id, file=file)  # one for the task; annotation_id is set for each annotation below
        if type(text) is not str or not text:
            where.add(
                C.TASK_MISSING_TEXT,
                f"{'The task' if task_id is None else f'Task {task_id}'} has no text to annotate (data.text is"
                f" {'empty' if text == '' else 'missing'});"
                " re-import the task with its article text in data.text.",
                f"{root}.data.text",
            )
            text = None
        if type(data) is dict and "meta" in data:
            self.check_meta(data["meta"], f"{root}.data.meta", where)
        for kind in ("annotations", "predictions"):
            items = task.get(kind)
            if type(items) is not list:
                continue
            for i, ann in enumerate(items):
                if type(ann) is not dict:
                    if kind == "predictions" and type(ann) is int:
                        counts["prediction_ids"] += 1
                    continue
                counts[kind] += 1
                where.annotation_id = ann.get("id")
                if ann.get("was_cancelled") is True:
                    what = "annotation" if kind == "annotations" else "prediction"
                    where.add(
                        C.ANNOTATION_CANCELLED,
                        f"The {what} was cancelled (skipped) by its annotator and is left out; delete it in Label"
                        " Studio or complete it if the task should count.",
                        f"{root}.{kind}[{i}].was_cancelled",
                    )
                    continue
                result = ann.get("result")
                if type(result) is not list:
                    continue
                if not result:
                    what = "annotation" if kind == "annotations" else "prediction"
                    where.add(
                        C.ANNOTATION_EMPTY,
                        f"The {what} has an empty result (no spans, no relations); annotate the task or delete the"
                        f" {what} if the article really mentions no entity.",
                        f"{root}.{kind}[{i}].result",
                    )
                    continue
                read = self.clean_result(result, text) if text is not None else None
                if read is None:  # not sure: every check, locating every problem
                    self.check_result(result, text, f"{root}.{kind}[{i}].result", where)
                    continue
                counts["spans"] += len(read[0])
                counts["relations"] += len(read[1])
                if keep_reads and kind == "annotations":
                    reads[i] = read
        return reads

    def check_result(self, result: list[Any], text: str | None, path: str, where: _Where) -> None:
        """Every check of the spans and relations of one annotation or prediction (``path`` is its ``.result``),
        reporting each problem."""
        counts = self.counts
        spans: list[tuple[int, int, object, object, int]] = []  # start, end, label, id, index
        span_labels: dict[object, str | None] = {}  # every region id seen: its label (None if not known)
        relations: list[int] = []  # indexes of relation items
        for j, item in enumerate(result):
            if type(item) is not dict:
                continue
            kind = item.get("type")
            if kind == "relation":
                relations.append(j)
            elif kind == "labels":
                value = item.get("value")
                if type(value) is dict:
                    counts["spans"] += 1
                    self._check_span_item(item, value, j, text, path, where, result, span_labels, spans)
        if spans:
            self._check_overlaps(spans, path, "[{}]", where)
        if relations:
            counts["relations"] += len(relations)
            inner = self._inner_ids(spans)
            seen: dict[tuple[object, object, str], int] = {}
            for j in relations:
                self._check_ls_relation(j, result[j], span_labels, inner, seen, path, where)

    def clean_result(self, result: list[Any], text: str) -> SpanReads | None:
        """What :meth:`check_task` keeps of a result that has no problem at all: its spans and relations as
        :func:`~corpus_tools.labelstudio.export.read_result` reads them; None when not sure (the full checks then
        decide and report).

        It accepts only what the full checks accept, rule for rule (tests/test_validate_clean.py): every region
        passes :meth:`_clean_regions`; no overlap the policy forbids (:meth:`_laminar`); every relation one known
        label between two outermost spans of types it allows, stored once (:meth:`_clean_relations`).
        """
        try:
            regions = self._clean_regions(result, text)
        except KeyError:  # a key missing from an item, or an edge the memos do not hold yet: learn those, try again
            _learn_edges_of(result, text)
            try:
                regions = self._clean_regions(result, text)
            except KeyError:
                return None
        if regions is None:
            return None
        spans, span_labels, relations = regions
        inner = self._laminar(spans)
        if inner is None and len(spans) > 1:
            ordered = sorted(spans, key=_END, reverse=True)
            ordered.sort(key=_START)  # by start, then end descending
            inner = self._laminar(ordered)
        if inner is None:  # duplicate spans, or overlapping ones the policy forbids
            if self.overlap != "any" or len({span[:3] for span in spans}) != len(spans):
                return None
            inner = self._inner_ids(spans)  # crossing spans, which the "any" policy allows
        read = self._clean_relations(relations, span_labels, inner) if relations else []
        if read is None:
            return None
        return spans, read

    def _clean_regions(self, result: list[Any], text: str) -> tuple[list[tuple], dict[str, str], list[dict]] | None:
        """The spans (start, end, label, id, text) of a result whose regions are all clean, their labels by id and
        its relation items; None when a region is not.  A clean region has one known label, offsets
        that fit, ``value.text`` equal to ``text[start:end]``, an id of its own, and a name text and edges that
        the memos of :mod:`~corpus_tools.offsets` accept; a key the memos do not hold raises KeyError (as does a
        key missing from an item)."""
        spans: list[tuple] = []
        span_labels: dict[str, str] = {}
        relations: list[dict] = []
        entity_labels, from_name_ok, to_name_ok = self.entity_labels, LS_FROM_NAME, LS_TO_NAME
        left_edge, right_edge, proclitic_before, name_text = LEFT_EDGE, RIGHT_EDGE, PROCLITIC_BEFORE, NAME_TEXT
        lw, pw = LEFT_WINDOW, PREFIX_WINDOW  # characters before a span start in the two memos' keys
        size = len(text)
        try:
            for item in result:
                if type(item) is not dict:
                    return None
                kind = item["type"]
                if kind == "labels":
                    value = item["value"]
                    if type(value) is not dict:
                        return None
                    start = value["start"]
                    end = value["end"]
                    span_id = item["id"]
                    labels = value["labels"]
                    if not (
                        type(start) is int
                        and type(end) is int
                        and 0 <= start < end <= size
                        and type(span_id) is str
                        and type(labels) is list
                        and len(labels) == 1
                        and (label := labels[0]) in entity_labels
                        and type(label) is str
                        and item["from_name"] == from_name_ok
                        and item["to_name"] == to_name_ok
                        and text[start:end] == (stored := value["text"])
                        and name_text[stored]  # no digit, no emoji
                        # no whitespace or Cf at an edge; the start at a word start or after a proclitic
                        and (
                            (left := left_edge[text[start - lw if start > lw else 0 : start + 1]])
                            or left is None
                            and proclitic_before[text[start - pw if start > pw else 0 : start]]
                        )
                        # the end at a word end
                        and right_edge[text[end - 1 : end + 1]]
                    ):
                        return None
                    span_labels[span_id] = label
                    spans.append((start, end, label, span_id, stored))
                elif kind == "relation":
                    relations.append(item)
        except TypeError:  # a value of another type: the full checks decide
            return None
        if len(span_labels) != len(spans):
            return None  # a region id used twice
        return spans, span_labels, relations

    def _clean_relations(self, relations: list[dict], span_labels: dict[str, str],
                         inner: frozenset[object] | set[object]) -> list[tuple] | None:
        """The relations (head, tail, label, id) of a clean result's spans when no relation item has a problem
        (see :meth:`clean_result`), else None."""
        seen: set[tuple[object, object, str]] = set()
        read: list[tuple] = []
        allowed, symmetric = self._allowed, self._symmetric
        try:
            for item in relations:
                from_id = item["from_id"]
                to_id = item["to_id"]
                labels = item["labels"]
                if not (type(labels) is list and len(labels) == 1 and type(from_id) is str and type(to_id) is str
                        and from_id != to_id):
                    return None
                label = labels[0]
                direction = item.get("direction", "right")
                head, tail = (to_id, from_id) if direction == "left" else (from_id, to_id)
                key = (head, tail, label)
                if not (
                    # a known relation whose ends are spans of types it allows (a KeyError: dangling)
                    (label, span_labels[head], span_labels[tail]) in allowed
                    and key not in seen
                    and head not in inner
                    and tail not in inner
                    # a symmetric relation is not stored twice; 'bi' only on a symmetric one
                    and ((tail, head, label) not in seen if label in symmetric else direction != "bi")
                ):
                    return None
                seen.add(key)
                read.append((head, tail, label, relation_id(head, label, tail)))
        except (KeyError, TypeError):
            return None
        return read

    def _check_span_item(
        self, item: dict, value: dict, j: int, text: str | None, path: str, where: _Where, result: list[Any],
        span_labels: dict[object, str | None], spans: list[tuple[int, int, object, object, int]],
    ) -> None:
        """Every check of one span region, reporting each problem."""
        item_path = f"{path}[{j}]"
        if item.get("from_name") != LS_FROM_NAME and "from_name" in item:
            where.add(
                C.RESULT_UNKNOWN_FROM_NAME,
                f"from_name {item.get('from_name')!r} is not a control of the labeling config; it must be"
                f" {LS_FROM_NAME!r} (re-create the project with `corpus-tools ls setup` or fix the config).",
                f"{item_path}.from_name",
            )
        if item.get("to_name") != LS_TO_NAME and "to_name" in item:
            where.add(
                C.RESULT_UNKNOWN_TO_NAME,
                f"to_name {item.get('to_name')!r} is not an object of the labeling config; it must be"
                f" {LS_TO_NAME!r} (re-create the project with `corpus-tools ls setup` or fix the config).",
                f"{item_path}.to_name",
            )
        span_id = item.get("id")
        if type(span_id) is not str:
            span_id = None  # the schema pass reports it
        elif span_id in span_labels:
            where.add(
                C.SPAN_DUPLICATE_ID,
                f"Region id {span_id!r} is already used by result[{_first_region(result, span_id)}]; give each"
                " region its own id.",
                f"{item_path}.id",
            )
        labels = value.get("labels")
        label = self._span_label(labels, item_path, where)
        if span_id is not None:
            span_labels.setdefault(span_id, label)
        offsets = self._check_offsets(text, value.get("start"), value.get("end"), value.get("text"), item_path,
                                      _LS_FIELDS, where, lenient=True)
        if offsets is not None:
            first = labels[0] if type(labels) is list and labels and type(labels[0]) is str else None
            spans.append((offsets[0], offsets[1], first, span_id, j))

    def _span_label(self, labels: object, item_path: str, where: _Where) -> str | None:
        """The span's single known label, reporting missing, several and unknown labels."""
        if labels is None or labels == []:
            where.add(
                C.SPAN_MISSING_LABEL,
                f"The span has no label; choose one of {', '.join(self.ontology.entity_labels)} or delete it.",
                f"{item_path}.value.labels",
            )
            return None
        if type(labels) is not list:
            return None
        if len(labels) > 1:
            where.add(
                C.SPAN_MULTIPLE_LABELS,
                f"The region carries {len(labels)} labels {labels!r}; keep one, and draw a second region for"
                " another type.",
                f"{item_path}.value.labels",
            )
        known = None
        for k, label in enumerate(labels):
            if type(label) is not str:
                continue  # the schema pass reports it
            if label in self.entity_labels:
                known = known or label
            else:
                where.add(
                    C.SPAN_UNKNOWN_LABEL,
                    f"Label {label!r} is not in ontology {self.ontology.name} {self.ontology.version}; use one of"
                    f" {', '.join(self.ontology.entity_labels)} (or add it to the ontology).",
                    f"{item_path}.value.labels[{k}]",
                )
        return known if type(labels[0]) is str and labels[0] == known else None

    # ------------------------------------------------------------------ offsets and text
    def _check_offsets(
        self,
        text: str | None,
        raw_start: object,
        raw_end: object,
        stored: object,
        item_path: str,
        fields: dict[str, str],
        where: _Where,
        *,
        lenient: bool,
    ) -> tuple[int, int] | None:
        """Check one span's offsets against the text; return usable offsets (repaired from UTF-16 if so)."""
        start, end = as_offset(raw_start), as_offset(raw_end)
        if text is None or start is None or end is None:
            return None
        size = len(text)
        stored_text = stored if type(stored) is str else None
        if end <= size and start <= end:
            segment = text[start:end]
            if stored_text is None or segment == stored_text:
                return self._check_segment(text, start, end, item_path, fields, where, stored_text is None)
        # The offsets do not fit as code points: are they UTF-16 units (JavaScript string indices)?
        repaired = utf16_repair(text, start, end, stored_text, lenient=lenient) if stored_text is not None else None
        if repaired is not None:
            where.add(
                C.SPAN_UTF16_OFFSETS,
                f"Offsets {start}-{end} count UTF-16 units (characters outside the BMP, such as emoji, count"
                f" twice); the code-point offsets are {repaired[0]}-{repaired[1]}. Re-export from a current Label"
                " Studio or run `corpus-tools validate --repair-utf16 --out FIXED`.",
                item_path + fields["value"],
                start=repaired[0],
                end=repaired[1],
                utf16_start=start,
                utf16_end=end,
            )
            return self._check_segment(text, repaired[0], repaired[1], item_path, fields, where, False)
        if start > size or end > size or start > end:
            field = "start" if start > size or (start > end and end <= size) else "end"
            problem = "its end is before its start" if start > end else f"the text has only {size} characters"
            where.add(
                C.SPAN_OUT_OF_RANGE,
                f"Span {start}-{end} does not fit the text: {problem}; fix the offsets (code points, end"
                " exclusive) or delete the span.",
                item_path + fields[field],
                text_length=size,
            )
            return None
        segment = text[start:end]
        if lenient and collapse_whitespace(segment) == collapse_whitespace(stored_text or ""):
            where.add(
                C.SPAN_TEXT_WHITESPACE_COLLAPSED,
                f"value.text {stored_text!r} differs from text[{start}:{end}] {segment!r} only by collapsed"
                " whitespace (Label Studio does this); the offsets are kept and the text is taken from them.",
                item_path + fields["text"],
            )
        else:
            where.add(
                C.SPAN_TEXT_MISMATCH,
                f"The stored span text {stored_text!r} is not text[{start}:{end}] {segment!r}; fix the offsets so"
                " they select the intended text (code points, end exclusive), or fix the stored text.",
                item_path + fields["text"],
                expected=segment,
            )
        return self._check_segment(text, start, end, item_path, fields, where, False)

    def _check_segment(
        self, text: str, start: int, end: int, item_path: str, fields: dict[str, str], where: _Where,
        text_missing: bool,
    ) -> tuple[int, int] | None:
        """Checks on a span whose offsets fit the text: empty, edges, word boundaries."""
        if start == end:
            where.add(
                C.SPAN_EMPTY,
                f"The span {start}-{end} covers no character; delete it or extend it over the mention.",
                item_path + fields["value"],
            )
            return None
        if text_missing and fields is _LS_FIELDS:
            where.add(
                C.SPAN_TEXT_MISSING,
                f"The span has no value.text, so its offsets cannot be cross-checked (text[{start}:{end}] is"
                f" {text[start:end]!r}); export again from Label Studio, which stores it.",
                item_path + fields["value"],
            )
        learn_edges(text, start, end)  # for the clean-result pass
        first, last = text[start], text[end - 1]
        bad_edge = False
        if is_edge_forbidden(first) or is_edge_forbidden(last):
            bad_edge = True
            fix_start, fix_end = trimmed(text, start, end)
            for edge, ch in (("start", first), ("end", last)):
                if not is_edge_forbidden(ch) or (edge == "end" and end - start == 1):
                    continue
                code = C.SPAN_EDGE_WHITESPACE if ch.isspace() else C.SPAN_EDGE_CONTROL
                kind = "whitespace" if ch.isspace() else "an invisible format character"
                where.add(
                    code,
                    f"The span {'starts' if edge == 'start' else 'ends'} with {kind} ({_show(ch)}); trim it to"
                    f" {fix_start}-{fix_end}.",
                    item_path + fields[edge],
                    start=fix_start,
                    end=fix_end,
                )
        if not bad_edge:
            bad_edge = self._check_edge_marks(text, start, end, item_path, fields, where)
        segment = text[start:end]
        digit, emoji = digit_and_emoji(segment)
        if digit is not None:
            where.add(
                C.SPAN_CONTAINS_DIGIT,
                f"The span {segment!r} holds the digit {segment[digit]!r} at {start + digit}; digits are never part"
                " of a name: leave them outside the span (or delete it if the mention is a number).",
                item_path + fields["value"],
                index=start + digit,
            )
        if emoji is not None:
            where.add(
                C.SPAN_CONTAINS_EMOJI,
                f"The span {segment!r} holds the emoji {_show(segment[emoji])} at {start + emoji}; emoji are never"
                " part of a name: leave it outside the span.",
                item_path + fields["value"],
                index=start + emoji,
            )
        if not bad_edge:
            prefix = left_edge_prefix(text, start)
            if prefix is not None:
                begin = word_start(text, start)
                where.add(
                    C.SPAN_LEFT_EDGE_INSIDE_WORD,
                    f"The span starts inside the word {text[begin:word_end(text, start)]!r}: {prefix!r} before it is"
                    f" not a proclitic (و ف ب ل ك, وب ول فب فل وك); move start to {begin} unless this is a clitic"
                    " the rules allow.",
                    item_path + fields["start"],
                    word_start=begin,
                )
            rest = right_edge_rest(text, end)
            if rest is not None:
                stop = end + len(rest)
                where.add(
                    C.SPAN_RIGHT_EDGE_INSIDE_WORD,
                    f"The span ends inside the word {text[word_start(text, end):stop]!r} ({rest!r} follows); end"
                    f" spans at a word end (move end to {stop}), and leave enclitic pronouns unannotated.",
                    item_path + fields["end"],
                    word_end=stop,
                )
        return start, end

    @staticmethod
    def _check_edge_marks(
        text: str, start: int, end: int, item_path: str, fields: dict[str, str], where: _Where
    ) -> bool:
        """Punctuation at either edge, a proclitic's tatweel at the start (whitespace and Cf already ruled out); True
        if found."""
        first, last = text[start], text[end - 1]
        found = False
        if first == TATWEEL and start > 0 and is_word_char(text[start - 1]) and left_edge_prefix(text, start) is None:
            fix = start
            while fix < end and text[fix] == TATWEEL:
                fix += 1
            where.add(
                C.SPAN_EDGE_TATWEEL,
                f"The span starts with a tatweel (U+0640); the tatweel after a proclitic stays outside with the"
                f" proclitic: move start to {fix}.",
                item_path + fields["start"],
                start=fix,
            )
            found = True
        for edge, ch in (("start", first), ("end", last)):
            if not is_edge_punctuation(ch) or (edge == "end" and end - start == 1):
                continue
            fix_start, fix_end = start, end
            while fix_start < fix_end and (is_edge_punctuation(text[fix_start]) or is_edge_forbidden(text[fix_start])):
                fix_start += 1
            while fix_end > fix_start and (is_edge_punctuation(text[fix_end - 1])
                                           or is_edge_forbidden(text[fix_end - 1])):
                fix_end -= 1
            where.add(
                C.SPAN_EDGE_PUNCTUATION,
                f"The span {'starts' if edge == 'start' else 'ends'} with the punctuation {ch!r} ({_show(ch)});"
                f" punctuation is never at a span edge: trim it to {fix_start}-{fix_end}.",
                item_path + fields[edge],
                start=fix_start,
                end=fix_end,
            )
            found = True
        return found

    # ------------------------------------------------------------------ overlap and duplicates
    def _check_overlaps(
        self, spans: list[tuple[int, int, object, object, int]], path: str, index_format: str, where: _Where
    ) -> None:
        """Duplicate spans, then overlaps against the ontology's policy (forbid | nested | any)."""
        if len(spans) < 2 or self._laminar(spans) is not None:
            return
        ordered = sorted(spans, key=_END, reverse=True)
        ordered.sort(key=_START)  # by start, then end descending, then index (both sorts are stable)
        if self._laminar(ordered) is not None:
            return
        spans.sort(key=_START_END)
        seen: dict[tuple[int, int, object], object] = {}
        unique = []
        for span in spans:
            key = span[:3]
            if key in seen:
                start, end, label, span_id, j = span
                where.add(
                    C.SPAN_DUPLICATE,
                    f"The span {start}-{end} {label!r} repeats region {seen[key]!r}; delete one of them.",
                    path + index_format.format(j),
                    duplicate_of=seen[key],
                )
            else:
                seen[key] = span[3]
                unique.append(span)
        policy = self.overlap
        if policy == "any" or len(unique) < 2:
            return
        if policy == "forbid":
            unique.sort(key=lambda s: (s[0], s[1], s[4]))
            widest = unique[0]
            for span in unique[1:]:
                if span[0] < widest[1]:
                    self._overlap(span, widest, "overlaps", path, index_format, where)
                if span[1] > widest[1]:
                    widest = span
            return
        unique.sort(key=lambda s: (s[0], -s[1], s[4]))
        stack: list[tuple[int, int, object, object, int]] = []
        for span in unique:
            while stack and stack[-1][1] <= span[0]:
                stack.pop()
            if stack and stack[-1][1] < span[1]:
                self._overlap(span, stack[-1], "crosses", path, index_format, where)
                continue
            stack.append(span)

    def _laminar(self, spans: list[tuple]) -> frozenset[object] | set[object] | None:
        """A quick yes: the spans (tuples of start, end, label, id, ...) come in (start, -end) order with no two alike
        and none crossing another (nor inside another under ``forbid``), so there is no duplicate and no overlap to
        report; returns then the ids of the spans lying inside another (what :meth:`_inner_ids` gives when no id
        is used twice).  None means "not sure": :meth:`_check_overlaps` then sorts and reports."""
        if self.overlap == "forbid":
            previous_end = 0
            for span in spans:
                if span[0] < previous_end:
                    return None  # out of order, or overlapping
                previous_end = span[1]
            return _NO_IDS
        inner: set[object] = set()
        previous_start, previous_end = -1, -1
        top = _NO_END  # end of the innermost open span (none: _NO_END)
        outer: list[int] = []  # ends of the open spans around it, outermost first
        for span in spans:
            start, end = span[0], span[1]
            if start <= previous_start and (start < previous_start or end == previous_end):
                return None  # out of order, or the same offsets twice (a duplicate?)
            if top <= start:  # the innermost open span ended: back to the first enclosing one still open
                top = _NO_END
                while outer:
                    top = outer.pop()
                    if top > start:
                        break
                    top = _NO_END
            if top != _NO_END:
                if top < end:
                    return None  # crosses the span around it (or comes out of order)
                outer.append(top)
                inner.add(span[3])
            top = end
            previous_start, previous_end = start, end
        return inner or _NO_IDS

    def _overlap(self, span, other, verb: str, path: str, index_format: str, where: _Where) -> None:
        policy = self.overlap
        where.add(
            C.SPAN_OVERLAP,
            f"The span {span[0]}-{span[1]} {span[2]!r} {verb} span {other[0]}-{other[1]} {other[2]!r} (region"
            f" {other[3]!r}); the ontology's overlap policy is {policy!r}"
            + (" (spans may nest but not cross)" if policy == "nested" else " (no two spans may overlap)")
            + "; fix the boundaries or delete one span.",
            path + index_format.format(span[4]),
            other=other[3],
        )

    # ------------------------------------------------------------------ relations
    def _inner_ids(self, spans: list[tuple[int, int, object, object, object]]) -> frozenset[object] | set[object]:
        """The ids of the spans lying inside another (longer) span, which no relation may use; none under the
        ``forbid`` policy (nesting is then a span-overlap)."""
        if len(spans) < 2 or self.overlap == "forbid":
            return _NO_IDS
        previous_end = 0
        for start, end, _label, _id, _j in spans:  # a quick no: in order and disjoint
            if start < previous_end:
                break
            previous_end = end
        else:
            return _NO_IDS
        ordered = sorted(spans, key=_END, reverse=True)
        ordered.sort(key=_START)  # by start, then end descending
        inner: set[object] = set()
        outer: set[object] = set()  # an id that two spans share (span-duplicate-id) is inner only if both are
        max_start, max_end = -1, -1  # the first span reaching the furthest end so far
        for start, end, _label, span_id, _j in ordered:
            if end < max_end or (end == max_end and start != max_start):
                inner.add(span_id)
            else:
                outer.add(span_id)
                if end > max_end:
                    max_start, max_end = start, end
        inner -= outer
        inner.discard(None)
        return inner or _NO_IDS

    def _check_ls_relation(
        self, j: int, item: dict, span_labels: dict[object, str | None], inner: frozenset[object] | set[object],
        seen: dict[tuple[object, object, str], int], path: str, where: _Where,
    ) -> None:
        """Every check of one relation item, reporting each problem."""
        item_path = f"{path}[{j}]"
        from_id, to_id = item.get("from_id"), item.get("to_id")
        ends_ok = True
        for end_name, end_id in (("from_id", from_id), ("to_id", to_id)):
            if type(end_id) is not str:
                ends_ok = False  # the schema pass reports it
            elif end_id not in span_labels:
                ends_ok = False
                where.add(
                    C.RELATION_DANGLING,
                    f"{end_name} {end_id!r} names no span of this annotation; link an existing region or"
                    " delete the relation.",
                    f"{item_path}.{end_name}",
                )
        if ends_ok and from_id == to_id:
            where.add(
                C.RELATION_SELF,
                f"The relation links region {from_id!r} to itself; link two different spans or delete it.",
                item_path,
            )
            ends_ok = False
        labels = item.get("labels")
        if labels is None or labels == []:
            where.add(
                C.RELATION_MISSING_LABEL,
                "The relation has no label (chosen in Label Studio's relation panel); pick one of the"
                " ontology's relation labels or delete the relation.",
                item_path,
            )
            return
        if type(labels) is not list:
            return
        if len(labels) > 1:
            where.add(
                C.RELATION_MULTIPLE_LABELS,
                f"The relation carries {len(labels)} labels {labels!r}; keep one, and add another relation for"
                " a second type.",
                f"{item_path}.labels",
            )
        rel = None
        for k, label in enumerate(labels):
            if type(label) is not str:
                continue  # the schema pass reports it
            if label in self.relations:
                rel = rel or self.relations[label]
            else:
                where.add(
                    C.RELATION_UNKNOWN_LABEL,
                    f"Relation label {label!r} is not in ontology {self.ontology.name}"
                    f" {self.ontology.version}; use one of {', '.join(self.ontology.relation_labels)}.",
                    f"{item_path}.labels[{k}]",
                )
        if rel is None or rel.label != labels[0] or not ends_ok:
            return
        direction = item.get("direction", "right")
        if direction == "bi" and not rel.symmetric:
            where.add(
                C.RELATION_SYMMETRIC_DIRECTION,
                f"{rel.label!r} is a directed relation (head {'/'.join(rel.head)} -> tail"
                f" {'/'.join(rel.tail)}) but its direction is 'bi'; set the direction to 'right' (from -> to)"
                " or 'left'.",
                f"{item_path}.direction",
            )
            return
        head, tail = (to_id, from_id) if direction == "left" else (from_id, to_id)
        self._check_relation(head, tail, rel, span_labels, inner, seen, j, item_path, where)

    def _check_relation(
        self, head: object, tail: object, rel: RelationType, span_labels: dict[object, str | None],
        inner: frozenset[object] | set[object], seen: dict[tuple[object, object, str], int], j: int,
        item_path: str, where: _Where,
    ) -> None:
        """Inner-span ends, domain, range and duplicates of one relation whose ends exist (head/tail resolved)."""
        for end_name, end_id in (("head", head), ("tail", tail)):
            if end_id in inner:
                where.add(
                    C.RELATION_INNER_SPAN,
                    f"The relation's {end_name} {end_id!r} is a span nested inside another span; relations connect"
                    " outermost spans only: link the outer span (or delete the relation, the nesting already"
                    " records that the inner name belongs to the outer one).",
                    item_path,
                    span=end_id,
                )
        head_label, tail_label = span_labels.get(head), span_labels.get(tail)
        if head_label is not None and tail_label is not None and not rel.allows(head_label, tail_label):
            # A symmetric relation that fits in neither direction is blamed on its head when the head
            # type is wrong, else on its tail; a directed one on each wrong end.
            bad_head = head_label not in rel.head
            bad_tail = tail_label not in rel.tail and (not rel.symmetric or not bad_head)
            if bad_head:
                where.add(
                    C.RELATION_DOMAIN,
                    f"{rel.label!r} needs a head (Arg-1) of type {'/'.join(rel.head)}, but region {head!r} is"
                    f" {head_label}; swap the direction, pick another relation or fix the span's label.",
                    item_path,
                    head_label=head_label,
                )
            if bad_tail:
                where.add(
                    C.RELATION_RANGE,
                    f"{rel.label!r} needs a tail (Arg-2) of type {'/'.join(rel.tail)}, but region {tail!r} is"
                    f" {tail_label}; swap the direction, pick another relation or fix the span's label.",
                    item_path,
                    tail_label=tail_label,
                )
        key = (head, tail, rel.label)
        if key in seen:
            where.add(
                C.RELATION_DUPLICATE,
                f"This {rel.label!r} relation from {head!r} to {tail!r} repeats item [{seen[key]}]; delete one.",
                item_path,
                duplicate_of=seen[key],
            )
            return
        if rel.symmetric and (tail, head, rel.label) in seen:
            where.add(
                C.RELATION_SYMMETRIC_DIRECTION,
                f"{rel.label!r} is symmetric and is already stored in the other direction at"
                f" [{seen[(tail, head, rel.label)]}]; keep one direction only.",
                item_path,
                duplicate_of=seen[(tail, head, rel.label)],
            )
            return
        seen[key] = j

    # ------------------------------------------------------------------ canonical documents
    def check_document(self, doc: Mapping[str, Any], out: list[Problem], *, root: str = "$",
                       line: int | None = None, file: str | None = None, task_id: Any = None) -> None:
        """Semantic checks of one canonical document (spans, relations), located by file, line and path.

        ``task_id`` defaults to the document's ``meta.task_id``.
        """
        meta = doc.get("meta")
        if task_id is None and type(meta) is dict:
            task_id = meta.get("task_id")
        annotation_id = meta.get("annotation_id") if type(meta) is dict else None
        where = _Where(out, task_id, annotation_id, line, file)
        if type(meta) is dict:  # not an object: a document-schema error
            self.check_meta(meta, f"{root}.meta", where, reserved=True)
        text = doc.get("text")
        if type(text) is not str:
            return
        entities = doc.get("entities")
        spans: list[tuple[int, int, object, object, int]] = []
        span_labels: dict[object, str | None] = {}
        if type(entities) is list:
            for k, entity in enumerate(entities):
                if type(entity) is not dict:
                    continue
                self.counts["spans"] += 1
                item_path = f"{root}.entities[{k}]"
                span_id = entity.get("id")
                if type(span_id) is not str:
                    span_id = None
                elif span_id in span_labels:
                    where.add(
                        C.SPAN_DUPLICATE_ID,
                        f"Span id {span_id!r} is already used by another entity; give each span its own id.",
                        f"{item_path}.id",
                    )
                label = entity.get("label")
                if type(label) is str and label not in self.entity_labels:
                    where.add(
                        C.SPAN_UNKNOWN_LABEL,
                        f"Label {label!r} is not in ontology {self.ontology.name} {self.ontology.version}; use one"
                        f" of {', '.join(self.ontology.entity_labels)}.",
                        f"{item_path}.label",
                    )
                if span_id is not None:
                    span_labels.setdefault(span_id, label if type(label) is str and label in self.entity_labels
                                           else None)
                offsets = self._check_offsets(text, entity.get("start"), entity.get("end"), entity.get("text"),
                                              item_path, _DOC_FIELDS, where, lenient=False)
                if offsets is not None:
                    spans.append((offsets[0], offsets[1], label if type(label) is str else None, span_id, k))
        if spans:
            self._check_overlaps(spans, f"{root}.entities", "[{}]", where)
        relations = doc.get("relations")
        if type(relations) is not list:
            return
        seen: dict[tuple[object, object, str], int] = {}
        inner = self._inner_ids(spans)
        for k, relation in enumerate(relations):
            if type(relation) is not dict:
                continue
            self.counts["relations"] += 1
            item_path = f"{root}.relations[{k}]"
            head, tail, label = relation.get("head"), relation.get("tail"), relation.get("label")
            ends_ok = True
            for end_name, end_id in (("head", head), ("tail", tail)):
                if type(end_id) is not str:
                    ends_ok = False
                elif end_id not in span_labels:
                    ends_ok = False
                    where.add(
                        C.RELATION_DANGLING,
                        f"{end_name} {end_id!r} names no span of this document; use an existing span id or delete"
                        " the relation.",
                        f"{item_path}.{end_name}",
                    )
            if ends_ok and head == tail:
                where.add(C.RELATION_SELF, f"The relation links span {head!r} to itself; delete it.", item_path)
                ends_ok = False
            rel = self.relations.get(label) if type(label) is str else None
            if type(label) is str and rel is None:
                where.add(
                    C.RELATION_UNKNOWN_LABEL,
                    f"Relation label {label!r} is not in ontology {self.ontology.name} {self.ontology.version};"
                    f" use one of {', '.join(self.ontology.relation_labels)}.",
                    f"{item_path}.label",
                )
            if rel is not None and ends_ok:
                self._check_relation(head, tail, rel, span_labels, inner, seen, k, item_path, where)

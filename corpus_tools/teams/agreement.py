"""Agreement between the annotators of a Label Studio export, as additive counts that merge across segments.

What is compared (docs/teams.md, "Agreement"): per task, the latest non-cancelled annotation of each distinct
annotator (:func:`latest_per_annotator`); predictions are never annotators.  Every pair of annotators of a task
is compared on

* spans: exact match (same start, end and label) and overlap match (same label, overlapping ranges, matched
  one-to-one, largest overlap first); precision and recall of the second annotator of the pair against the
  first, F1 (symmetric) per label, micro and macro;
* relations: same label, and head and tail exact matches of each other's spans;
* token tags: the BIO tags of the release's ``tokens`` config (:func:`corpus_tools.tokens.token_tags`, which tags
  as :func:`corpus_tools.spans.spans_to_bio` does: spans widened to token edges, the flat layer), as per-pair
  confusion counts (Cohen's kappa) and one coincidence count over all annotators (Krippendorff's alpha, nominal).

:class:`AgreementReport` holds only counts, so the build computes it per segment in worker processes and
merges the parts in input order (:meth:`AgreementReport.merge`); the figures are derived from the counts.  The
tokens of the tasks it is given are tagged many tasks at once (one bulk call for a queue of tasks, counted before
any token count is read and before a part is pickled): their counts are those of one task at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from fractions import Fraction
from itertools import combinations
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from corpus_tools.errors import InputError
from corpus_tools.labelstudio.export import annotator_of, read_result, task_text
from corpus_tools.ontology import Ontology
from corpus_tools.report import Report
from corpus_tools.spans import DEFAULT_SEGMENTATION, check_segmentation
from corpus_tools.tokens import TagIds, token_tags

__all__ = ["AnnotatorAnnotation", "AgreementReport", "NameOf", "agree_export", "latest_per_annotator",
           "task_annotations", "cohen_kappa", "krippendorff_alpha"]

NameOf = Callable[[str | None], str | None]
SpanKey = tuple[int, int, str]  # start, end, label
RelationKey = tuple[SpanKey, SpanKey, str]  # head span, tail span, label
LOWEST_TASKS = 10
_QUEUE_LIMIT = 1 << 20  # queued code points (a text once per annotator) whose tokens are counted at once
_CHUNK_TOKENS = 1 << 20  # token pairs compared at once


def annotator_label(name_of: NameOf, value: str | None) -> str | None:
    """The name an annotator is shown by (a pseudonym for an e-mail address): the one place it is chosen."""
    return name_of(value)


@dataclass(frozen=True)
class AnnotatorAnnotation:
    """The annotation one annotator gave a task, reduced to what agreement compares."""

    annotator: str
    spans: tuple[SpanKey, ...]
    relations: tuple[RelationKey, ...] = ()
    annotation_id: object = None  # the Label Studio annotation it was read from


_NO_TIME = datetime.min.replace(tzinfo=UTC)


def _instant(stamp: object) -> datetime:
    """An ISO 8601 timestamp as an aware instant (``Z``, ``+00:00`` and other offsets compare by the moment they
    name, not as strings; a timestamp without an offset is UTC, as Label Studio writes them); anything else sorts
    first."""
    if type(stamp) is not str:
        return _NO_TIME
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return _NO_TIME
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _recency(item: Mapping, position: int) -> tuple:
    stamp = item.get("updated_at") or item.get("created_at")
    item_id = item.get("id")
    return (_instant(stamp), item_id if type(item_id) is int else -1, position)


ADJUDICATION_ORIGIN = "adjudication"
"""The ``origin`` of every result item of a ground truth that ``corpus-tools adjudicate`` wrote: such an
annotation is the gold of its task, never one annotator's judgement, so agreement leaves it out."""


def is_adjudicated(item: Mapping) -> bool:
    """Whether an annotation is a ground truth written by ``adjudicate`` (every result item of that origin)."""
    result = item.get("result")
    return (bool(item.get("ground_truth")) and isinstance(result, list) and bool(result)
            and all(isinstance(r, Mapping) and r.get("origin") == ADJUDICATION_ORIGIN for r in result))


def gold_annotation(items: Iterable[Mapping]) -> Mapping | None:
    """The task's ground truth: its one non-cancelled annotation marked ground truth (None for none or several)."""
    marked = [item for item in items if isinstance(item, Mapping) and item.get("ground_truth")
              and not item.get("was_cancelled")]
    return marked[0] if len(marked) == 1 else None


def annotator_key(item: Mapping) -> tuple[str | None, str]:
    """Who made an annotation: the e-mail address or id Label Studio gives (None when none), and the key that
    tells annotators apart (that value, else ``annotation-ID``: an annotation without an author is its own)."""
    raw = annotator_of(item.get("completed_by"))
    return raw, raw if raw is not None else f"annotation-{item.get('id')}"


def latest_annotations(items: Iterable[Mapping]) -> dict[str, Mapping]:
    """The latest non-cancelled annotation of each distinct annotator, by :func:`annotator_key`: the one place
    the team's annotations of a task are chosen (agreement and adjudication).  A ground truth that
    ``adjudicate`` wrote (:func:`is_adjudicated`) is nobody's annotation.  The latest has the greatest
    ``updated_at`` (else ``created_at``), then the greatest id, then comes later in the list."""
    latest: dict[str, tuple[tuple, Mapping]] = {}
    for position, item in enumerate(items):
        if not isinstance(item, Mapping) or item.get("was_cancelled") or is_adjudicated(item):
            continue
        key = annotator_key(item)[1]
        recency = _recency(item, position)
        if key not in latest or latest[key][0] < recency:
            latest[key] = (recency, item)
    return {key: item for key, (_, item) in latest.items()}


def latest_per_annotator(items: Iterable[tuple[Mapping, Sequence[tuple], Sequence[tuple]]], name_of: NameOf, *,
                         annotators: Collection[str] | None = None) -> list[AnnotatorAnnotation]:
    """The latest non-cancelled annotation of each distinct annotator of a task (:func:`latest_annotations`),
    sorted by annotator name.

    ``items``: ``(annotation, spans, relations)`` with spans and relations as
    :func:`~corpus_tools.labelstudio.export.read_result` gives them.  ``name_of`` names an annotator from its
    e-mail address or id; ``annotators`` keeps only those names.
    """
    items = list(items)
    read = {id(item): (spans, relations) for item, spans, relations in items}
    chosen = latest_annotations(item for item, _, _ in items)
    out = []
    for key, item in chosen.items():
        raw = annotator_key(item)[0]
        name = (annotator_label(name_of, raw) if raw is not None else None) or key
        if annotators is not None and name not in annotators:
            continue
        spans, relations = read[id(item)]
        out.append(_reduced(name, spans, relations, item.get("id")))
    return sorted(out, key=lambda a: a.annotator)


def _reduced(name: str, spans: Sequence[tuple], relations: Sequence[tuple], annotation_id: object
             ) -> AnnotatorAnnotation:
    """One annotation as agreement compares it: spans as (start, end, label), relations by their spans."""
    by_id = {s[3]: (s[0], s[1], s[2]) for s in spans}
    rels = tuple((by_id[r[0]], by_id[r[1]], r[2]) for r in relations if r[0] in by_id and r[1] in by_id)
    return AnnotatorAnnotation(name, tuple((s[0], s[1], s[2]) for s in spans), rels, annotation_id)


def task_gold(task: Mapping) -> AnnotatorAnnotation | None:
    """The task's ground truth (:func:`gold_annotation`) reduced as annotations are, named ``gold``."""
    gold = gold_annotation(task.get("annotations") or [])
    if gold is None:
        return None
    text = task_text(task)
    spans, relations = read_result(gold.get("result") or [], text if type(text) is str else "")
    return _reduced("gold", spans, relations, gold.get("id"))


def task_annotations(task: Mapping, name_of: NameOf, *,
                     annotators: Collection[str] | None = None) -> list[AnnotatorAnnotation]:
    """:func:`latest_per_annotator` of one Label Studio export task."""
    text = task_text(task)
    text = text if type(text) is str else ""
    items = []
    for item in task.get("annotations") or []:
        if isinstance(item, Mapping):
            spans, relations = read_result(item.get("result") or [], text)
            items.append((item, spans, relations))
    return latest_per_annotator(items, name_of, annotators=annotators)


# -- the figures, from counts ----------------------------------------------------------------------------------
def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def cohen_kappa(confusion: Mapping[tuple[str, str], int]) -> float | None:
    """Cohen's kappa of a confusion count ``(value of A, value of B) -> items``; None when chance agreement is 1."""
    n = sum(confusion.values())
    if not n:
        return None
    a: Counter[str] = Counter()
    b: Counter[str] = Counter()
    agreed = 0
    for (x, y), count in confusion.items():
        a[x] += count
        b[y] += count
        agreed += count if x == y else 0
    chance = sum(a[v] * b[v] for v in a)  # n * n times the chance agreement
    if chance == n * n:
        return None
    return (n * agreed - chance) / (n * n - chance)


def krippendorff_alpha(coincidence: Mapping[tuple[int, str, str], int]) -> float | None:
    """Krippendorff's alpha (nominal) of coincidence counts ``(m, c, k) -> ordered value pairs from different
    coders within units of m values``: o_ck = sum over m of count / (m - 1), n_c = sum_k o_ck, and
    alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k.  None when every value is the same."""
    o: dict[tuple[str, str], Fraction] = {}  # exact, so that merged parts give the very figure of the whole
    for (m, c, k), count in coincidence.items():
        o[c, k] = o.get((c, k), Fraction(0)) + Fraction(count, m - 1)
    n_c: dict[str, Fraction] = {}
    for (c, _), value in o.items():
        n_c[c] = n_c.get(c, Fraction(0)) + value
    n = sum(n_c.values(), Fraction(0))
    observed = sum((value for (c, k), value in o.items() if c != k), Fraction(0))
    expected = n * n - sum(v * v for v in n_c.values())  # sum over c != k of n_c n_k
    if not expected:
        return None
    return float(1 - (n - 1) * observed / expected)


def _label(tag: str) -> str:
    return tag[2:] if tag != "O" else ""


def _binary(label: str, value: str) -> str:
    return "1" if _label(value) == label else "0"


def _prf(matched: int, reference: int, compared: int) -> dict[str, float | None]:
    return {"precision": _ratio(matched, compared), "recall": _ratio(matched, reference),
            "f1": _ratio(2 * matched, reference + compared)}


def _task_order(task_id: object) -> tuple:
    return (0, task_id, "") if type(task_id) is int else (1, 0, str(task_id))


@dataclass
class MatchCounts:
    """Per label: items of the first annotator of each pair, of the second, and those matched."""

    reference: Counter[str] = field(default_factory=Counter)
    compared: Counter[str] = field(default_factory=Counter)
    matched: Counter[str] = field(default_factory=Counter)

    def merge(self, other: MatchCounts) -> None:
        self.reference.update(other.reference)
        self.compared.update(other.compared)
        self.matched.update(other.matched)

    def labels(self) -> list[str]:
        return sorted(set(self.reference) | set(self.compared))

    def f1(self, label: str | None = None) -> float | None:
        if label is None:
            return _ratio(2 * sum(self.matched.values()), sum(self.reference.values()) + sum(self.compared.values()))
        return _ratio(2 * self.matched[label], self.reference[label] + self.compared[label])

    def to_dict(self) -> dict[str, object]:
        per_label = {label: {**_prf(self.matched[label], self.reference[label], self.compared[label]),
                             "matched": self.matched[label], "reference": self.reference[label],
                             "compared": self.compared[label]} for label in self.labels()}
        micro = _prf(sum(self.matched.values()), sum(self.reference.values()), sum(self.compared.values()))
        macro = {key: (sum(figures[key] or 0.0 for figures in per_label.values()) / len(per_label)
                       if per_label else None) for key in ("precision", "recall", "f1")}
        return {"micro": micro, "macro": macro, "per_label": per_label}


class _Marks(NamedTuple):
    """What the pairs of a task compare of one annotation, gathered once for all its pairs."""

    labels: dict[str, int]  # spans per label
    by_offsets: dict[tuple[int, int], list[str]]  # the labels of the spans at each (start, end)
    relation_labels: dict[str, int]  # relations per label
    relations: dict[RelationKey, int]  # how many times each relation

    @classmethod
    def of(cls, annotation: AnnotatorAnnotation) -> _Marks:
        labels: dict[str, int] = {}
        by_offsets: dict[tuple[int, int], list[str]] = {}
        for start, end, label in annotation.spans:
            labels[label] = labels.get(label, 0) + 1
            at = by_offsets.get((start, end))
            if at is None:
                by_offsets[start, end] = [label]
            else:
                at.append(label)
        relation_labels: dict[str, int] = {}
        relations: dict[RelationKey, int] = {}
        for relation in annotation.relations:
            relation_labels[relation[2]] = relation_labels.get(relation[2], 0) + 1
            relations[relation] = relations.get(relation, 0) + 1
        return cls(labels, by_offsets, relation_labels, relations)


def _add(counter: Counter, counts: Mapping[object, int]) -> None:
    """``counter.update(counts)`` for a mapping of positive counts."""
    get = counter.get
    for key, count in counts.items():
        counter[key] = get(key, 0) + count


def _same_offsets(a: _Marks, b: _Marks) -> Iterator[tuple[str, str]]:
    """``(label in a, label in b)`` for the spans of two annotations with the same start and end, one-to-one
    (equal labels paired first, the rest in label order): the pairs of equal labels are the exact matches."""
    by_b = b.by_offsets
    for offsets, la in a.by_offsets.items():
        lb = by_b.get(offsets)
        if lb is None:
            continue
        if len(la) == 1 == len(lb):  # one span each (the usual case): paired whatever their labels
            yield la[0], lb[0]
            continue
        ca, cb = Counter(la), Counter(lb)
        same = ca & cb
        for label, count in same.items():
            for _ in range(count):
                yield label, label
        yield from zip(sorted((ca - same).elements()), sorted((cb - same).elements()), strict=False)


def _overlap_matches(a: Sequence[SpanKey], b: Sequence[SpanKey]) -> Iterator[str]:
    """The labels of the one-to-one overlap matches of two span lists: same label, overlapping ranges, the pairs
    of largest overlap first (ties: earlier spans of ``a``, then of ``b``)."""
    by_label: dict[str, list[tuple[int, int, int]]] = {}  # spans of different labels are never compared
    for j, (sb, eb, lb) in enumerate(b):
        same = by_label.get(lb)
        if same is None:
            by_label[lb] = [(sb, eb, j)]
        else:
            same.append((sb, eb, j))
    candidates = []
    for i, (sa, ea, la) in enumerate(a):
        for sb, eb, j in by_label.get(la, ()):
            overlap = (ea if ea < eb else eb) - (sa if sa > sb else sb)
            if overlap > 0:
                candidates.append((-overlap, sa, ea, sb, eb, i, j))
    candidates.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    for candidate in candidates:
        i, j = candidate[5], candidate[6]
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            yield a[i][2]


def _tag_ids(texts: Sequence[str], span_lists: Sequence[Sequence[SpanKey]], segmentation: str
             ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The BIO tag ids of the tokens of each text tagged with its spans, as the tokens config tags them
    (:func:`corpus_tools.tokens.token_tags`, every text at once: one array, text after text), the tokens per
    text, and the tag names by id (``O``, then ``B-`` and ``I-`` of each label in name order)."""
    # spans outside their text (which validation reports) have no tokens to tag
    starts: list[int] = []
    ends: list[int] = []
    labels: list[str] = []
    offsets = [0]
    for text, spans in zip(texts, span_lists, strict=True):
        length = len(text)
        for start, end, label in spans:
            if type(start) is int and type(end) is int and 0 <= start < end <= length:
                starts.append(start)
                ends.append(end)
                labels.append(f"{label}")
        offsets.append(len(starts))
    names = sorted(set(labels))
    index = {name: k for k, name in enumerate(names)}
    rank = np.arange(len(names), dtype=np.int64)
    label_ids = np.array([index[label] for label in labels], dtype=np.int64)
    tags, counts = token_tags(texts, np.array(offsets, dtype=np.int64), np.array(starts, dtype=np.int64),
                              np.array(ends, dtype=np.int64), label_ids,
                              TagIds(b=2 * rank + 1, i=2 * rank + 2, o=0, name_rank=rank), segmentation=segmentation)
    return tags, counts, ["O", *(f"{prefix}-{name}" for name in names for prefix in "BI")]


def _chunks(runs: list[tuple[int, int, int]], limit: int) -> Iterator[list[tuple[int, int, int]]]:
    """Runs ``(first token of a, first token of b, tokens)`` in chunks of about ``limit`` tokens (at least one)."""
    chunk: list[tuple[int, int, int]] = []
    size = 0
    for run in runs:
        if chunk and size + run[2] > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(run)
        size += run[2]
    if chunk:
        yield chunk


@dataclass
class AgreementReport:
    """Agreement counts of the tasks added so far (mergeable); the figures are derived from them."""

    segmentation: str = DEFAULT_SEGMENTATION
    lowest_count: int = LOWEST_TASKS
    tasks: int = 0
    compared_tasks: int = 0  # tasks with two annotators or more
    pairs: int = 0  # (task, annotator pair) comparisons
    annotators: Counter[str] = field(default_factory=Counter)  # compared tasks per annotator
    exact: MatchCounts = field(default_factory=MatchCounts)
    overlap: MatchCounts = field(default_factory=MatchCounts)
    relations: MatchCounts = field(default_factory=MatchCounts)
    label_confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    pair_tasks: Counter[tuple[str, str]] = field(default_factory=Counter)
    pair_spans: Counter[tuple[str, str]] = field(default_factory=Counter)  # spans of both annotators
    pair_matched: Counter[tuple[str, str]] = field(default_factory=Counter)  # 2 x exact matches
    # the token counts: read through the properties of the same name, which count the queued tasks first
    _token_confusion: dict[tuple[str, str], Counter[tuple[str, str]]] = field(default_factory=dict, init=False)
    _coincidence: Counter[tuple[int, str, str]] = field(default_factory=Counter, init=False)
    lowest: list[tuple[float, tuple, object]] = field(default_factory=list)  # (span F1, order, task id)
    gold_tasks: Counter[str] = field(default_factory=Counter)  # per annotator: tasks compared with the gold
    gold_spans: dict[str, MatchCounts] = field(default_factory=dict)  # per annotator, against the gold (exact)
    gold_relations: dict[str, MatchCounts] = field(default_factory=dict)
    # compared tasks whose tokens are not counted yet (text, each annotation's spans, annotators), and their size
    _queued: list[tuple[str, tuple[tuple[SpanKey, ...], ...], tuple[str, ...]]] = field(
        default_factory=list, init=False, repr=False, compare=False)
    _queued_size: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_segmentation(self.segmentation)

    @property
    def token_confusion(self) -> dict[tuple[str, str], Counter[tuple[str, str]]]:
        """Per annotator pair: ``(tag of the first, tag of the second) -> tokens``."""
        self._count_tokens()
        return self._token_confusion

    @property
    def coincidence(self) -> Counter[tuple[int, str, str]]:
        """``(annotators of the task, tag, tag) -> ordered tag pairs of different annotators on one token``."""
        self._count_tokens()
        return self._coincidence

    def __eq__(self, other: object) -> bool:
        """Equal counts (the queued tokens of both counted first)."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        self._count_tokens()
        other._count_tokens()
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self) if f.compare)

    def __getstate__(self) -> dict[str, object]:
        """Pickled (from a worker process) with every token counted: the queue never travels."""
        self._count_tokens()
        return self.__dict__

    # -- counting -------------------------------------------------------------------------------------------
    def add_task(self, task_id: object, text: str, annotations: Sequence[AnnotatorAnnotation]) -> None:
        """Count one task: ``annotations`` as :func:`latest_per_annotator` gives them (one per annotator).

        Its spans and relations are counted now; its tokens are queued and counted with those of other tasks
        (one :func:`corpus_tools.tokens.token_tags` call for many tasks) before any token count is read."""
        self.tasks += 1
        if len(annotations) < 2:
            return
        self.compared_tasks += 1
        annotations = sorted(annotations, key=attrgetter("annotator"))
        self._queued.append((text, tuple(a.spans for a in annotations), tuple(a.annotator for a in annotations)))
        self._queued_size += (len(text) + 1) * len(annotations) + sum(len(a.spans) for a in annotations)
        if self._queued_size >= _QUEUE_LIMIT:
            self._count_tokens()
        exact, overlap, relations = self.exact, self.overlap, self.relations
        label_confusion, exact_matched = self.label_confusion, exact.matched
        marks = [_Marks.of(a) for a in annotations]
        matched = total = 0
        for (a, ma), (b, mb) in combinations(zip(annotations, marks, strict=True), 2):
            pair = (a.annotator, b.annotator)
            self.pairs += 1
            self.pair_tasks[pair] += 1
            for counts in (exact, overlap):
                _add(counts.reference, ma.labels)
                _add(counts.compared, mb.labels)
            both = 0
            for x, y in _same_offsets(ma, mb):
                label_confusion[x, y] = label_confusion.get((x, y), 0) + 1
                if x == y:
                    exact_matched[x] = exact_matched.get(x, 0) + 1
                    both += 1
            overlap.matched.update(_overlap_matches(a.spans, b.spans))
            _add(relations.reference, ma.relation_labels)
            _add(relations.compared, mb.relation_labels)
            for relation, count in ma.relations.items():
                other = mb.relations.get(relation)
                if other:
                    relations.matched[relation[2]] += min(count, other)
            spans = len(a.spans) + len(b.spans)
            self.pair_matched[pair] += 2 * both
            self.pair_spans[pair] += spans
            matched += 2 * both
            total += spans
        for annotation in annotations:
            self.annotators[annotation.annotator] += 1
        if total:
            self.lowest.append((matched / total, _task_order(task_id), task_id))
            self._trim()

    def add_gold(self, gold: AnnotatorAnnotation, annotations: Sequence[AnnotatorAnnotation]) -> None:
        """Count each annotator of a task against its ground truth (exact spans, relations); the annotation that
        is itself the ground truth (an expert marked it) is not compared with itself."""
        for annotation in annotations:
            if annotation.annotation_id is not None and annotation.annotation_id == gold.annotation_id:
                continue
            name = annotation.annotator
            self.gold_tasks[name] += 1
            spans = self.gold_spans.setdefault(name, MatchCounts())
            spans.reference.update(s[2] for s in gold.spans)
            spans.compared.update(s[2] for s in annotation.spans)
            spans.matched.update(s[2] for s in (Counter(gold.spans) & Counter(annotation.spans)).elements())
            relations = self.gold_relations.setdefault(name, MatchCounts())
            relations.reference.update(r[2] for r in gold.relations)
            relations.compared.update(r[2] for r in annotation.relations)
            relations.matched.update(r[2] for r in (Counter(gold.relations)
                                                    & Counter(annotation.relations)).elements())

    def _count_tokens(self) -> None:
        """Count the tokens of the queued tasks: every annotation's tags at once (:func:`_tag_ids`), then the tags of
        each pair side by side, a chunk of pairs of the same annotators and task size at a time, with one
        ``np.unique`` over ``first tag * tags + second tag``.  The coincidences of a task are those of its pairs
        in both orders (two different annotators of one token)."""
        queued = self._queued
        if not queued:
            return
        self._queued, self._queued_size = [], 0
        tags, counts, names = _tag_ids([text for text, span_lists, _ in queued for _ in span_lists],
                                       [spans for _, span_lists, _ in queued for spans in span_lists],
                                       self.segmentation)
        starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        first, tokens = starts.tolist(), counts.tolist()
        runs: dict[tuple[tuple[str, str], int], list[tuple[int, int, int]]] = {}  # (pair, m) -> (a, b, tokens)
        doc = 0
        for _, _, annotators in queued:
            m = len(annotators)
            for i, j in combinations(range(m), 2):
                pair = (annotators[i], annotators[j])
                self._token_confusion.setdefault(pair, Counter())
                if tokens[doc]:
                    runs.setdefault((pair, m), []).append((first[doc + i], first[doc + j], tokens[doc]))
            doc += m
        width = len(names)
        coincidence = self._coincidence
        for (pair, m), pair_runs in runs.items():
            confusion = self._token_confusion[pair]
            for chunk in _chunks(pair_runs, _CHUNK_TOKENS):
                a_first, b_first, lengths = (np.array(column, dtype=np.int64) for column in zip(*chunk, strict=True))
                within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths,
                                                                                  lengths)
                codes = (tags[np.repeat(a_first, lengths) + within] * width
                         + tags[np.repeat(b_first, lengths) + within])
                values, units = np.unique(codes, return_counts=True)
                for value, count in zip(values.tolist(), units.tolist(), strict=True):
                    x, y = names[value // width], names[value % width]
                    confusion[x, y] += count
                    coincidence[m, x, y] += count
                    coincidence[m, y, x] += count

    def _trim(self) -> None:
        self.lowest.sort(key=lambda row: row[:2])
        del self.lowest[self.lowest_count:]

    def merge(self, other: AgreementReport) -> None:
        """Add the counts of another part of the same input (a later segment) to these."""
        self.tasks += other.tasks
        self.compared_tasks += other.compared_tasks
        self.pairs += other.pairs
        self.annotators.update(other.annotators)
        self.exact.merge(other.exact)
        self.overlap.merge(other.overlap)
        self.relations.merge(other.relations)
        self.label_confusion.update(other.label_confusion)
        self.pair_tasks.update(other.pair_tasks)
        self.pair_spans.update(other.pair_spans)
        self.pair_matched.update(other.pair_matched)
        for pair, confusion in other.token_confusion.items():
            self.token_confusion.setdefault(pair, Counter()).update(confusion)
        self.coincidence.update(other.coincidence)
        self.lowest.extend(other.lowest)
        self._trim()
        self.gold_tasks.update(other.gold_tasks)
        for mine, theirs in ((self.gold_spans, other.gold_spans), (self.gold_relations, other.gold_relations)):
            for name, counts in theirs.items():
                mine.setdefault(name, MatchCounts()).merge(counts)

    # -- figures --------------------------------------------------------------------------------------------
    def pooled_confusion(self) -> Counter[tuple[str, str]]:
        pooled: Counter[tuple[str, str]] = Counter()
        for confusion in self.token_confusion.values():
            pooled.update(confusion)
        return pooled

    def kappa(self, label: str | None = None) -> float | None:
        """Cohen's kappa on the tokens of every pair (their confusion counts summed); for ``label``, on
        tokens of that label (B or I) or not."""
        pooled = self.pooled_confusion()
        if label is not None:
            binary: Counter[tuple[str, str]] = Counter()
            for (x, y), count in pooled.items():
                binary[_binary(label, x), _binary(label, y)] += count
            pooled = binary
        return cohen_kappa(pooled)

    def alpha(self, label: str | None = None) -> float | None:
        """Krippendorff's alpha (nominal) on the tags of every token of the compared tasks; for ``label``, on
        tokens of that label (B or I) or not."""
        if label is None:
            return krippendorff_alpha(self.coincidence)
        binary: Counter[tuple[int, str, str]] = Counter()
        for (m, c, k), count in self.coincidence.items():
            binary[m, _binary(label, c), _binary(label, k)] += count
        return krippendorff_alpha(binary)

    def tokens(self) -> int:
        """Units of alpha: the tokens of the compared tasks."""
        pairs: Counter[int] = Counter()  # ordered pairs of values per unit size: m (m - 1) per unit
        for (m, _, _), count in self.coincidence.items():
            pairs[m] += count
        return sum(count // (m * (m - 1)) for m, count in pairs.items())

    def labels(self) -> list[str]:
        tagged = {_label(tag) for pair in self.pooled_confusion() for tag in pair}
        return sorted((set(self.exact.labels()) | tagged) - {""})

    def labels_below(self, threshold: float) -> list[tuple[str, float]]:
        """The labels whose exact-match span F1 is below ``threshold``, with it."""
        out = []
        for label in self.exact.labels():
            f1 = self.exact.f1(label)
            if f1 is not None and f1 < threshold:
                out.append((label, f1))
        return out

    def to_dict(self) -> dict[str, object]:
        labels = self.labels()
        pairs = []
        for pair in sorted(self.pair_tasks):
            confusion = self.token_confusion.get(pair, Counter())
            pairs.append({"annotators": list(pair), "tasks": self.pair_tasks[pair],
                          "tokens": sum(confusion.values()), "kappa": cohen_kappa(confusion),
                          "span_f1_exact": _ratio(self.pair_matched[pair], self.pair_spans[pair])})
        return {
            "tasks": self.tasks,
            "compared_tasks": self.compared_tasks,
            "tasks_with_fewer_than_two_annotators": self.tasks - self.compared_tasks,
            "pairs": self.pairs,
            "annotators": dict(sorted(self.annotators.items())),
            "spans": {"exact": self.exact.to_dict(), "overlap": self.overlap.to_dict()},
            "relations": self.relations.to_dict(),
            "tokens": {
                "tagging": "BIO", "segmentation": self.segmentation, "tokens": self.tokens(),
                "kappa": self.kappa(), "alpha": self.alpha(),
                "per_label": {label: {"kappa": self.kappa(label), "alpha": self.alpha(label)} for label in labels},
            },
            "annotator_pairs": pairs,
            "label_confusion": [{"first": a, "second": b, "spans": n}
                                for (a, b), n in sorted(self.label_confusion.items())],
            "lowest_tasks": [{"task_id": task_id, "span_f1_exact": score} for score, _, task_id in self.lowest],
            "against_gold": {name: {"tasks": self.gold_tasks[name], "spans": self.gold_spans[name].to_dict()["micro"],
                                    "relations": self.gold_relations[name].to_dict()["micro"]}
                             for name in sorted(self.gold_tasks)},
        }

    # -- Markdown -------------------------------------------------------------------------------------------
    def card_lines(self, entity_labels: Sequence[str] = (), relation_labels: Sequence[str] = ()) -> list[str]:
        """The card's "Inter-annotator agreement" paragraph and tables (labels in the ontology's order first)."""
        if not self.pairs:
            return ["Inter-annotator agreement: not available (no task has two annotators;"
                    f" {self.tasks} tasks have fewer).", ""]
        entity = _ordered(entity_labels, self.labels())
        relation = _ordered(relation_labels, self.relations.labels())
        out = [
            f"Inter-annotator agreement on {self.compared_tasks} tasks with two annotators or more"
            f" ({self.pairs} annotator pairs, {len(self.annotators)} annotators, {self.tokens()} tokens;"
            f" {self.tasks - self.compared_tasks} tasks have fewer than two annotators): span F1 (exact)"
            f" {_pct(self.exact.f1(), '%')}, span F1 (overlap) {_pct(self.overlap.f1(), '%')}, token Cohen's kappa"
            f" {_num(self.kappa())}, Krippendorff's alpha {_num(self.alpha())}, relation F1"
            f" {_pct(self.relations.f1(), '%')}. Definitions: docs/teams.md (Agreement).",
            "",
            _table(["Label", "Span F1 exact %", "Span F1 overlap %", "Token kappa", "Token alpha"],
                   [[f"`{label}`", _pct(self.exact.f1(label)), _pct(self.overlap.f1(label)),
                     _num(self.kappa(label)), _num(self.alpha(label))] for label in entity]),
            "",
        ]
        if relation:
            out += [_table(["Relation", "F1 %"], [[f"`{label}`", _pct(self.relations.f1(label))]
                                                   for label in relation]), ""]
        return out

    def to_markdown(self) -> str:
        """The report of ``corpus-tools agree``: the card's figures, then per pair, label confusion, lowest tasks."""
        out = ["# Inter-annotator agreement", "", *self.card_lines()]
        if self.pairs:
            data = self.to_dict()
            out += ["## Annotator pairs", "",
                    _table(["First", "Second", "Tasks", "Tokens", "Token kappa", "Span F1 exact %"],
                           [[*p["annotators"], str(p["tasks"]), str(p["tokens"]), _num(p["kappa"]),
                             _pct(p["span_f1_exact"])] for p in data["annotator_pairs"]]), ""]
            if self.label_confusion:
                out += ["## Labels of spans with the same offsets", "",
                        _table(["First", "Second", "Spans"], [[f"`{a}`", f"`{b}`", str(n)] for (a, b), n
                                                              in sorted(self.label_confusion.items())]), ""]
            if self.lowest:
                out += ["## Tasks with the lowest span F1 (exact)", "",
                        _table(["Task id", "Span F1 exact %"], [[str(task_id), _pct(score)] for score, _, task_id
                                                                in self.lowest]), ""]
        if self.gold_tasks:
            rows = []
            for name in sorted(self.gold_tasks):
                spans, relations = self.gold_spans[name], self.gold_relations[name]
                figures = _prf(sum(spans.matched.values()), sum(spans.reference.values()),
                               sum(spans.compared.values()))
                rows.append([name, str(self.gold_tasks[name]), _pct(figures["precision"]), _pct(figures["recall"]),
                             _pct(figures["f1"]), _pct(relations.f1())])
            out += ["## Each annotator against the ground truth", "",
                    _table(["Annotator", "Tasks", "Span precision %", "Span recall %", "Span F1 %", "Relation F1 %"],
                           rows), ""]
        return "\n".join(out)


def _ordered(first: Sequence[str], present: Iterable[str]) -> list[str]:
    present = set(present)
    return [label for label in first if label in present] + sorted(present - set(first))


def _pct(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{100 * value:.1f}{unit}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def agree_export(path: str | Path, *, name_of: NameOf, ontology: Ontology | None = None,
                 annotators: Collection[str] | None = None, segmentation: str = DEFAULT_SEGMENTATION,
                 lowest: int = LOWEST_TASKS) -> tuple[AgreementReport, Report]:
    """The agreement of a Label Studio JSON export, read as validate reads it, and the validation report.

    ``name_of`` names annotators (a pseudonym for an e-mail address); ``annotators`` keeps only those names.
    Raises :class:`~corpus_tools.errors.InputError` when the file cannot be read or is document JSONL (which
    has one annotation per document).
    """
    from corpus_tools.validate.driver import iter_validated

    report = Report()
    agreement = AgreementReport(segmentation=segmentation, lowest_count=lowest)
    keep = set(annotators) if annotators is not None else None
    for kind, _, item in iter_validated(path, report, ontology=ontology):
        if kind != "export":
            raise InputError(f"{path}: agree reads a Label Studio JSON export (an array of tasks), not document"
                             " JSONL")
        if isinstance(item, Mapping):
            text = task_text(item)
            annotations = task_annotations(item, name_of, annotators=keep)
            agreement.add_task(item.get("id"), text if type(text) is str else "", annotations)
            gold = task_gold(item)
            if gold is not None:
                agreement.add_gold(gold, annotations)
    return agreement, report

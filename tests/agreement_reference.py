"""Agreement counted plainly, one task and one annotator pair at a time, kept as the reference that
:class:`corpus_tools.teams.agreement.AgreementReport` is tested against (``tests/test_agreement.py``).

Every count is written from its definition in docs/teams.md: tags from :func:`corpus_tools.spans.spans_to_bio`
of each annotation on its own, a confusion count per pair as the tags side by side, coincidences as every
ordered pair of different annotators of each token, exact matches as multisets of ``(start, end, label)``,
overlap matches by greedy one-to-one matching over every pair of spans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import combinations

from corpus_tools.spans import Span, spans_to_bio
from corpus_tools.teams.agreement import AgreementReport, AnnotatorAnnotation


def reference_tags(text: str, annotation: AnnotatorAnnotation, segmentation: str) -> list[str]:
    """The BIO tags of one annotation's spans inside the text (spans outside it are not tagged)."""
    spans = [Span(start, end, f"{label}") for start, end, label in annotation.spans
             if type(start) is int and type(end) is int and 0 <= start < end <= len(text)]
    return spans_to_bio(text, spans, segmentation).tags


def reference_overlap_matches(a: Sequence[tuple], b: Sequence[tuple]) -> list[str]:
    """Same label, overlapping ranges, one-to-one: the pairs of largest overlap first (ties by the spans' start and
    end in ``a``, in ``b``, then their positions)."""
    candidates = sorted((-(min(ea, eb) - max(sa, sb)), sa, ea, sb, eb, i, j)
                        for i, (sa, ea, la) in enumerate(a) for j, (sb, eb, lb) in enumerate(b)
                        if la == lb and min(ea, eb) > max(sa, sb))
    used_a, used_b, labels = set(), set(), []
    for *_, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            labels.append(a[i][2])
    return labels


def reference_label_confusion(a: Sequence[tuple], b: Sequence[tuple]) -> Counter:
    """Spans of both annotations at the same offsets: equal labels paired first, the rest in label order."""
    out: Counter = Counter()
    for offsets in {(s, e) for s, e, _ in a} & {(s, e) for s, e, _ in b}:
        la = Counter(label for s, e, label in a if (s, e) == offsets)
        lb = Counter(label for s, e, label in b if (s, e) == offsets)
        same = la & lb
        out.update({(label, label): count for label, count in same.items()})
        out.update(zip(sorted((la - same).elements()), sorted((lb - same).elements()), strict=False))
    return out


def reference_report(tasks: Sequence[tuple[object, str, Sequence[AnnotatorAnnotation]]], *,
                     segmentation: str = "none", lowest_count: int = 10) -> AgreementReport:
    """An :class:`AgreementReport` whose counts were written by this module, for ``(task id, text, annotations)``."""
    report = AgreementReport(segmentation=segmentation, lowest_count=lowest_count)
    lowest = []
    for task_id, text, given in tasks:
        report.tasks += 1
        if len(given) < 2:
            continue
        report.compared_tasks += 1
        annotations = sorted(given, key=lambda a: a.annotator)
        m = len(annotations)
        tags = [reference_tags(text, a, segmentation) for a in annotations]
        for token in range(len(tags[0])):
            for i, j in ((i, j) for i in range(m) for j in range(m) if i != j):
                report.coincidence[m, tags[i][token], tags[j][token]] += 1
        matched = total = 0
        for i, j in combinations(range(m), 2):
            a, b = annotations[i], annotations[j]
            pair = (a.annotator, b.annotator)
            report.pairs += 1
            report.pair_tasks[pair] += 1
            report.token_confusion.setdefault(pair, Counter()).update(zip(tags[i], tags[j], strict=True))
            for counts in (report.exact, report.overlap):
                counts.reference.update(s[2] for s in a.spans)
                counts.compared.update(s[2] for s in b.spans)
            both = Counter(a.spans) & Counter(b.spans)
            report.exact.matched.update(s[2] for s in both.elements())
            report.overlap.matched.update(reference_overlap_matches(a.spans, b.spans))
            report.label_confusion.update(reference_label_confusion(a.spans, b.spans))
            report.relations.reference.update(r[2] for r in a.relations)
            report.relations.compared.update(r[2] for r in b.relations)
            report.relations.matched.update(r[2] for r in (Counter(a.relations) & Counter(b.relations)).elements())
            report.pair_matched[pair] += 2 * sum(both.values())
            report.pair_spans[pair] += len(a.spans) + len(b.spans)
            matched += 2 * sum(both.values())
            total += len(a.spans) + len(b.spans)
        report.annotators.update(a.annotator for a in annotations)
        if total:
            order = (0, task_id, "") if type(task_id) is int else (1, 0, str(task_id))
            lowest.append((matched / total, order, task_id))
    report.lowest = sorted(lowest, key=lambda row: row[:2])[:lowest_count]
    return report

"""Adjudication: one gold annotation per task from the annotations of a team.

The annotators of a task are the people who annotated it: for each distinct person (``completed_by``), their
latest non-cancelled annotation (by ``updated_at``, then ``created_at``, then id), so a person who annotated a
task twice counts once.  Predictions are never annotators.  A span is ``(start, end, label)``; a relation is
``(head span, label, tail span)`` with both argument spans compared by ``(start, end, label)`` (region ids
differ between annotators; relations whose span ids resolve to no span of their annotation are ignored, the
validator reports them).

Policies:

* ``majority``: a span or relation is gold when a strict majority of the task's annotators (more than half)
  has it exactly.  It is *in dispute* when at least one annotator has it and no strict majority does: a
  majority fills in what a minority missed, but never drops what someone marked.  The task is **agreed** when
  nothing is in dispute (its gold is then every majority span and relation), else a **conflict**.  A clitic
  boundary (``وبغداد`` against ``بغداد``) or a label disagreement at the same offsets is therefore a conflict
  unless a strict majority holds one version and nobody holds the other.
* ``prefer:ANNOTATOR``: when ANNOTATOR (an e-mail, or a user id when the export carries ids only) is one of
  the task's annotators, their annotation is the gold; otherwise ``majority``.

A task with a non-cancelled annotation marked ground truth is never touched (``ground-truth``); a task with
no annotator is ``unannotated``.

:func:`adjudicate_task` is the pure core; :func:`adjudicate_export` reads a Label Studio export and
:func:`write_gold` writes the agreed tasks' gold documents (canonical document JSONL, what ``build --gold``
takes); :func:`adjudicate_project` does the same on a Label Studio project and saves each agreed gold as a
ground-truth annotation by the key's user, the named adjudicator.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from corpus_tools.errors import InputError, InvalidDataError, OutputError
from corpus_tools.files import AtomicFile, same_file, write_failure
from corpus_tools.labelstudio.client import LabelStudioClient, ProjectInfo
from corpus_tools.labelstudio.export import (
    read_result,
    relation_id,
    task_document_id,
    task_text,
    task_to_document,
)
from corpus_tools.labelstudio.importer import project_lock
from corpus_tools.labelstudio.snapshot import export_project
from corpus_tools.labelstudio.tasks import document_to_result
from corpus_tools.ontology import Ontology
from corpus_tools.spans import Document, Relation, Span
from corpus_tools.strictjson import LoneSurrogateEscape, StrictReader, TooDeep
from corpus_tools.teams.agreement import ADJUDICATION_ORIGIN, latest_annotations

MAJORITY = "majority"
PREFER = "prefer:"
Status = Literal["agreed", "conflict", "ground-truth", "unannotated"]
STATUSES: tuple[Status, ...] = ("agreed", "conflict", "ground-truth", "unannotated")
SpanKey = tuple[int, int, str]
RelationKey = tuple[SpanKey, str, SpanKey]


@dataclass(frozen=True)
class Policy:
    """How a task's gold is chosen: ``majority``, or ``prefer:ANNOTATOR`` (``prefer`` holds the annotator)."""

    prefer: str | None = None

    @classmethod
    def parse(cls, text: str) -> Policy:
        """``majority`` or ``prefer:ANNOTATOR``; ValueError otherwise."""
        text = text.strip()
        if text == MAJORITY:
            return cls()
        if text.startswith(PREFER) and text[len(PREFER):].strip():
            return cls(prefer=text[len(PREFER):].strip())
        raise ValueError(f"a policy is {MAJORITY!r} or 'prefer:ANNOTATOR' (an e-mail or user id), got {text!r}")

    def __str__(self) -> str:
        return MAJORITY if self.prefer is None else PREFER + self.prefer


@dataclass
class Version:
    """One annotator's version of a task: their latest non-cancelled annotation."""

    annotator: str
    annotation_id: int | None
    spans: dict[SpanKey, tuple]  # (start, end, label) -> (start, end, label, id, text) as read_result gives
    relations: dict[RelationKey, tuple]  # -> (head id, tail id, label, relation id)


@dataclass(frozen=True)
class Conflict:
    """A region of a task in dispute: each annotator's spans (or relations) there, by annotator."""

    kind: Literal["span", "relation"]
    start: int
    end: int
    text: str
    annotators: dict[str, list[dict[str, object]]]

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "start": self.start, "end": self.end, "text": self.text,
                "annotators": self.annotators}


@dataclass
class Decision:
    """What adjudication made of one task.

    ``gold`` is the canonical gold document when the task is agreed; ``records`` says how each gold span and
    relation was decided (``unanimous 3/3``, ``majority 2/3``, ``prefer:X``); ``conflicts`` lists what is in
    dispute.  ``url`` is the task's page in Label Studio (project runs only)."""

    task_id: int
    article_id: str
    status: Status
    policy: str
    annotators: list[str] = field(default_factory=list)
    gold: Document | None = None
    records: list[dict[str, object]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    url: str | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "task_id": self.task_id, "article_id": self.article_id, "status": self.status, "policy": self.policy,
            "annotators": self.annotators, "records": self.records,
            "conflicts": [c.to_dict() for c in self.conflicts],
            "gold": self.gold.to_dict() if self.gold is not None else None,
        }
        if self.url is not None:
            out["url"] = self.url
        return out


@dataclass
class Adjudication:
    """The decisions of one run; ``written`` holds the ground-truth annotations a project run created (or, with
    ``dry_run``, would create) as ``{task_id, article_id, annotation_id}``."""

    policy: str
    source: str
    decisions: list[Decision]
    adjudicator: str | None = None
    dry_run: bool = False
    written: list[dict[str, object]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # agreed, but a ground truth appeared before the write

    def counts(self) -> dict[str, int]:
        counted = Counter(d.status for d in self.decisions)
        return {status: counted.get(status, 0) for status in STATUSES}

    @property
    def conflicts(self) -> list[Decision]:
        return [d for d in self.decisions if d.status == "conflict"]

    @property
    def agreed(self) -> list[Decision]:
        return [d for d in self.decisions if d.status == "agreed"]

    def to_dict(self) -> dict[str, object]:
        return {"policy": self.policy, "source": self.source, "adjudicator": self.adjudicator,
                "dry_run": self.dry_run, "counts": self.counts(), "written": self.written,
                "skipped": self.skipped, "decisions": [d.to_dict() for d in self.decisions]}


# ---------------------------------------------------------------------------- the pure core


def has_ground_truth(annotations: Iterable[object]) -> bool:
    """Whether a non-cancelled one of a task's annotations is marked ground truth."""
    return any(isinstance(a, Mapping) and a.get("ground_truth") and not a.get("was_cancelled")
               for a in annotations)


def task_versions(task: Mapping[str, object]) -> list[Version]:
    """Each distinct annotator's latest non-cancelled annotation of the task, by annotator name."""
    latest = latest_annotations(task.get("annotations") or [])
    text = task_text(task)
    versions = []
    for who in sorted(latest):
        annotation = latest[who]
        spans, relations = read_result(annotation.get("result") or [], text)
        by_key = {(s[0], s[1], s[2]): s for s in spans}
        by_id = {s[3]: (s[0], s[1], s[2]) for s in spans}
        rels = {(by_id[h], label, by_id[t]): (h, t, label, rid) for h, t, label, rid in relations
                if h in by_id and t in by_id}
        ann_id = annotation.get("id")
        versions.append(Version(who, ann_id if isinstance(ann_id, int) else None, by_key, rels))
    return versions


def _how(count: int, total: int) -> str:
    return f"{'unanimous' if count == total else 'majority'} {count}/{total}"


def _span_dict(key: SpanKey, text: str) -> dict[str, object]:
    start, end, label = key
    return {"start": start, "end": end, "label": label, "text": text[start:end]}


def _relation_dict(key: RelationKey, text: str) -> dict[str, object]:
    head, label, tail = key
    return {"label": label, "head": _span_dict(head, text), "tail": _span_dict(tail, text)}


def _gold_span_id(key: SpanKey) -> str:
    return f"g{key[0]}-{key[1]}-{key[2]}"


def _span_conflicts(disputed: list[SpanKey], versions: list[Version], text: str) -> list[Conflict]:
    """Disputed spans grouped into regions of overlapping spans, with every annotator's spans there."""
    regions: list[list[int]] = []
    for start, end, _ in sorted(disputed):
        if regions and start < regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], end)
        else:
            regions.append([start, end])
    conflicts = []
    for start, end in regions:
        annotators = {v.annotator: [_span_dict(k, text) for k in sorted(v.spans) if k[0] < end and start < k[1]]
                      for v in versions}
        conflicts.append(Conflict("span", start, end, text[start:end], annotators))
    return conflicts


def _relation_conflicts(disputed: list[RelationKey], versions: list[Version], text: str) -> list[Conflict]:
    """Disputed relations grouped by shared argument spans, with each annotator's disputed relations there."""
    groups: list[tuple[set[SpanKey], list[RelationKey]]] = []
    for key in sorted(disputed):
        args = {key[0], key[2]}
        joined = [g for g in groups if g[0] & args]
        merged = (args.union(*(g[0] for g in joined)), [k for g in joined for k in g[1]] + [key])
        groups = [g for g in groups if not g[0] & args] + [merged]
    conflicts = []
    for args, keys in groups:
        start, end = min(a[0] for a in args), max(a[1] for a in args)
        annotators = {v.annotator: [_relation_dict(k, text) for k in sorted(keys) if k in v.relations]
                      for v in versions}
        conflicts.append(Conflict("relation", start, end, text[start:end], annotators))
    return sorted(conflicts, key=lambda c: (c.start, c.end))


def _preferred(task: Mapping[str, object], version: Version, policy: Policy, decision: Decision) -> Decision:
    text = task_text(task)
    how = str(policy)
    ids = {k: s[3] or _gold_span_id(k) for k, s in version.spans.items()}  # one id per span, never empty
    spans = [Span(start=k[0], end=k[1], label=k[2], id=ids[k], text=text[k[0]:k[1]]) for k in sorted(version.spans)]
    relations = [Relation(head=ids[head], tail=ids[tail], label=label, id=relation_id(ids[head], label, ids[tail]))
                 for head, label, tail in sorted(version.relations)]
    decision.records = ([_span_dict(k, text) | {"kind": "span", "decided": how} for k in sorted(version.spans)]
                        + [_relation_dict(k, text) | {"kind": "relation", "decided": how}
                           for k in sorted(version.relations)])
    decision.status = "agreed"
    decision.gold = _gold_document(task, spans, relations, decision, version.annotation_id)
    return decision


def _gold_document(task: Mapping[str, object], spans: list[Span], relations: list[Relation], decision: Decision,
                   annotation_id: int | None = None) -> Document:
    doc = task_to_document(task)
    doc.entities, doc.relations = spans, relations
    doc.meta |= {"task_id": decision.task_id,  # after the article's metadata (task_to_document)
                 "adjudication": {"policy": decision.policy, "annotators": list(decision.annotators),
                                  "decisions": list(decision.records)}}
    if annotation_id is not None:
        doc.meta["annotation_id"] = annotation_id
    return doc


def adjudicate_task(task: Mapping[str, object], policy: Policy) -> Decision:
    """The decision for one Label Studio export task (see the module docstring for the rules)."""
    task_id = task.get("id")
    decision = Decision(task_id=task_id if isinstance(task_id, int) else 0, article_id=task_document_id(task),
                        status="unannotated", policy=str(policy))
    if has_ground_truth(task.get("annotations") or []):
        decision.status = "ground-truth"
        return decision
    versions = task_versions(task)
    decision.annotators = [v.annotator for v in versions]
    if not versions:
        return decision
    if policy.prefer is not None:
        chosen = next((v for v in versions if v.annotator == policy.prefer), None)
        if chosen is not None:
            return _preferred(task, chosen, policy, decision)
    text = task_text(task)
    total = len(versions)
    span_votes = Counter(k for v in versions for k in v.spans)
    relation_votes = Counter(k for v in versions for k in v.relations)
    gold_spans = sorted(k for k, n in span_votes.items() if 2 * n > total)
    gold_relations = sorted(k for k, n in relation_votes.items() if 2 * n > total)
    decision.records = ([_span_dict(k, text) | {"kind": "span", "decided": _how(span_votes[k], total)}
                         for k in gold_spans]
                        + [_relation_dict(k, text) | {"kind": "relation", "decided": _how(relation_votes[k], total)}
                           for k in gold_relations])
    decision.conflicts = (
        _span_conflicts([k for k, n in span_votes.items() if 2 * n <= total], versions, text)
        + _relation_conflicts([k for k, n in relation_votes.items() if 2 * n <= total], versions, text))
    if decision.conflicts:
        decision.status = "conflict"
        return decision
    decision.status = "agreed"
    spans = [Span(start=k[0], end=k[1], label=k[2], id=_gold_span_id(k), text=text[k[0]:k[1]]) for k in gold_spans]
    relations = []
    for head, label, tail in gold_relations:
        head_id, tail_id = _gold_span_id(head), _gold_span_id(tail)
        relations.append(Relation(head=head_id, tail=tail_id, label=label, id=relation_id(head_id, label, tail_id)))
    decision.gold = _gold_document(task, spans, relations, decision)
    return decision


def adjudicate_tasks(tasks: Iterable[Mapping[str, object]], policy: Policy) -> list[Decision]:
    return [adjudicate_task(task, policy) for task in tasks]


# ---------------------------------------------------------------------------- files


def _checked_export(path: Path, ontology: Ontology | None) -> None:
    """Refuse what is not a valid Label Studio JSON export: InputError when it is not one (or cannot be read),
    InvalidDataError with the validator's report when it has errors."""
    from corpus_tools.validate.driver import validate_export
    from corpus_tools.validate.reading import sniff

    try:
        kind = sniff(path).kind
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if kind != "export":
        raise InputError(f"{path} is not a Label Studio JSON export (a JSON array of tasks); adjudication reads"
                         " every annotator's annotations from one")
    report = validate_export(path, ontology=ontology)
    if not report.valid:
        raise InvalidDataError(f"{path} failed validation with {report.error_count} errors; fix them (see"
                               " `corpus-tools validate`) before adjudicating", report)


def iter_export_tasks(path: Path) -> Iterator[dict]:
    """The tasks of a Label Studio JSON export, read as a stream."""
    import ijson

    try:
        with open(path, "rb") as fh:
            yield from ijson.items(StrictReader(fh), "item", use_float=True)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ijson.JSONError, TooDeep, LoneSurrogateEscape, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a Label Studio JSON export ({exc})") from exc


def adjudicate_export(path: Path, policy: Policy, *, ontology: Ontology | None = None) -> Adjudication:
    """The decisions for every task of a Label Studio JSON export, which must pass validation first
    (:class:`InvalidDataError` with the report when it does not)."""
    path = Path(path)
    _checked_export(path, ontology)
    return Adjudication(policy=str(policy), source=str(path),
                        decisions=adjudicate_tasks(iter_export_tasks(path), policy))


def write_gold(adjudication: Adjudication, out: Path) -> int:
    """Write the agreed tasks' gold documents as canonical document JSONL, atomically; returns how many."""
    out = Path(out)
    if same_file(adjudication.source, out):  # the export, however spelled: writing would replace it
        raise InputError(f"--out {out} is the export {adjudication.source}; write the gold documents to another file")
    written = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with AtomicFile(out) as fh:
            for decision in adjudication.agreed:
                assert decision.gold is not None
                fh.write(json.dumps(decision.gold.to_dict(), ensure_ascii=False) + "\n")
                written += 1
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {write_failure(out, exc)}") from exc
    return written


# ---------------------------------------------------------------------------- Label Studio


def task_url(base_url: str, project_id: int, task_id: int) -> str:
    """The page of one task in the project's data manager, where every annotator's version shows."""
    return f"{base_url.rstrip('/')}/projects/{project_id}/data?task={task_id}"


def adjudicate_project(client: LabelStudioClient, project: ProjectInfo, policy: Policy, *,
                       ontology: Ontology | None = None, dry_run: bool = False) -> Adjudication:
    """Adjudicate every task of a project and save each agreed gold as a ground-truth annotation.

    The project is exported (a full snapshot), validated (errors raise :class:`InvalidDataError`) and
    adjudicated; each agreed task gets one annotation with the gold result and ``ground_truth`` set, by the key's
    user (the named adjudicator).  A task that has a ground truth (set by an expert, or by an earlier run) is
    never touched, and each task's annotations are read again just before the write, so a ground truth set
    meanwhile is kept: a second run changes nothing.  ``dry_run`` writes nothing and lists what would be
    written (``annotation_id`` None).  Conflicts carry their task's URL.
    """
    adjudicator = str(client.whoami()["email"])
    with project_lock(client, project), tempfile.TemporaryDirectory(prefix="corpus-tools-adjudicate-") as tmp:
        export = Path(tmp) / "export.json"
        export_project(client, project.id, export)
        adjudication = adjudicate_export(export, policy, ontology=ontology)
        adjudication.source = f"{client.url}/projects/{project.id}"
        adjudication.adjudicator = adjudicator
        adjudication.dry_run = dry_run
        for decision in adjudication.decisions:
            decision.url = task_url(client.url, project.id, decision.task_id)
        for decision in adjudication.agreed:
            assert decision.gold is not None
            planned: dict[str, object] = {"task_id": decision.task_id, "article_id": decision.article_id,
                                          "annotation_id": None}
            if not dry_run:
                if has_ground_truth(client.task_annotations(decision.task_id)):
                    adjudication.skipped.append(decision.task_id)
                    continue
                gold = decision.gold
                result = [{**item, "origin": ADJUDICATION_ORIGIN}  # gold, not one more annotator's version
                          for item in document_to_result(gold.entities, gold.relations, gold.text)]
                planned["annotation_id"] = client.create_annotation(decision.task_id, result, ground_truth=True)
            adjudication.written.append(planned)
    return adjudication

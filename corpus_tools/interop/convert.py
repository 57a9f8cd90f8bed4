"""``convert``: read a corpus in one format, map its labels, write it in another, atomically; one Report.

:func:`convert` streams: the reader yields documents one at a time, the label map and the ontology check apply to
each as it passes, and the writer writes it at once into a temporary beside ``out``.  Only when the whole run ends
without an error (reader, label check and writer alike) is the temporary renamed onto ``out``; otherwise it is
removed and ``out`` is left as it was.

* Without a label map or an ontology, labels pass through as they are: every entity of the source is in the output.
* With a label map (:mod:`corpus_tools.interop.labelmap`) or an ontology (a label map alone checks against the
  default ontology), labels the ontology lacks are ONE error (``convert-unmapped-label``) listing each label with its
  count, unless ``drop_unmapped``: their spans are then left out, with the relations that lose an argument, and the
  counts are warnings.  Labels the map drops are counted as warnings too.
* ``out`` is replaced only when it is a previous output: a file for a format that writes a file; for a format that
  writes a folder, a folder holding :data:`MARKER` (written by convert) or an empty one.  Anything else is refused
  before the input is read.

Failures to run (a missing input, an unknown format or option, an ``out`` that may not be replaced, a disk that
fails) are :class:`~corpus_tools.errors.CorpusToolsError`\\ s; problems in the data are records in the report.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from corpus_tools.errors import InputError, OutputError
from corpus_tools.files import (
    claim_temporary,
    folder_missing,
    remove_dead_temporaries,
    remove_tree,
    rename_no_replace,
    same_file,
    unlock_temporary,
    write_failure,
)
from corpus_tools.interop.format import Context, Format
from corpus_tools.interop.labelmap import LabelMap, read_label_map
from corpus_tools.interop.registry import check_options, get_format, parse_pair
from corpus_tools.ontology import Ontology, load_ontology
from corpus_tools.report import WARNINGS_PER_CODE, Report, define_code, make_problem
from corpus_tools.spans import DEFAULT_SEGMENTATION, Document, check_segmentation

STAGE = "interop"
UNMAPPED_LABEL = define_code(
    "convert-unmapped-label", "error",
    "Labels of the converted corpus are not in the ontology (after the label map); map them in the label map, drop"
    " them there, or pass --drop-unmapped. The message lists each label with its count; nothing was written.",
    stage=STAGE,
)
UNMAPPED_DROPPED = define_code(
    "convert-unmapped-dropped", "warning",
    "--drop-unmapped left out the spans and relations whose labels the ontology lacks (counted per label).",
    stage=STAGE,
)
LABEL_DROPPED = define_code(
    "convert-label-dropped", "warning",
    "The label map's drop or drop_relations left out spans or relations (counted per label).",
    stage=STAGE,
)
RELATION_LOST = define_code(
    "convert-relation-lost", "warning",
    "Relations were left out because a span they link was dropped (by the label map or --drop-unmapped).",
    stage=STAGE,
)

MARKER = ".corpus-tools-convert.json"
"""Written into every folder output: what made it.  A folder holding it may be replaced by the next run."""
_SUFFIX = ".convert"
_OLD_SUFFIX = ".replaced"  # a previous folder output, moved aside until the new one is in place
_PROGRESS_EVERY = 512

Progress = Callable[[int], None]


def convert(
    source: str | os.PathLike[str],
    from_format: str,
    to_format: str,
    out: str | os.PathLike[str],
    *,
    label_map: str | os.PathLike[str] | None = None,
    ontology: Ontology | None = None,
    drop_unmapped: bool = False,
    read_options: Mapping[str, str] | None = None,
    write_options: Mapping[str, str] | None = None,
    segmentation: str = DEFAULT_SEGMENTATION,
    progress: Progress | None = None,
    warnings_per_code: int = WARNINGS_PER_CODE,
) -> Report:
    """Convert ``source`` (a file or folder in ``from_format``) into ``out`` in ``to_format``; see the module.

    ``ontology``: check the labels against it (a ``label_map`` alone checks against the default ontology).
    ``read_options`` and ``write_options`` are the formats' own options (``Format.options``).  ``progress`` is
    called now and then with the number of documents read; ``warnings_per_code``: the report keeps that many
    warnings of each code (0: every one) and counts the others.  ``report.stats`` holds the formats, the documents,
    entities and relations written (``labels``: entities per label), and ``written``."""
    reader = get_format(from_format, "read")
    writer = get_format(to_format, "write")
    read_options, write_options = dict(read_options or {}), dict(write_options or {})
    check_options(reader, read_options)
    check_options(writer, write_options)
    try:
        check_segmentation(segmentation)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    source, target = Path(source), Path(out)
    if not source.exists():
        raise InputError(f"no such file or folder: {source}")
    _check_target(source, target, writer)
    report = Report(warnings_per_code=warnings_per_code)
    report.stats.update({"from": reader.name, "to": writer.name, "written": False})
    mapping: LabelMap | None = None
    if label_map is not None:
        ontology = ontology or load_ontology()
        mapping = read_label_map(label_map, report, entity_labels=ontology.entity_labels,
                                 relation_labels=ontology.relation_labels)
        if mapping is None:
            return report
    tally = Tally()
    read = reader.reader(source, _context(report, ontology, segmentation, read_options))
    documents = _relabelled(_with_progress(read, progress), mapping, ontology, drop_unmapped, tally)
    with _Output(target, writer.output) as output:
        try:
            writer.writer(documents, output.path, _context(report, ontology, segmentation, write_options))
            for _ in documents:  # a writer that stopped early: every problem of the input is still reported
                pass
        except OSError as exc:  # a reader converts its own failures; what is left is the output's
            where = f"{exc.filename}: " if exc.filename else ""
            raise OutputError(f"cannot write {target}: {where}{exc.strerror or exc}") from exc
        tally.report_to(report, file=str(source), drop_unmapped=drop_unmapped)
        if report.valid:
            if writer.output == "folder":
                _write_marker(output.path, reader.name, writer.name, source, tally)
            output.commit()
            report.stats["written"] = True
    report.stats.update(tally.stats())
    return report


def _context(report: Report, ontology: Ontology | None, segmentation: str, options: Mapping[str, str]) -> Context:
    return Context(report=report, ontology=ontology, segmentation=segmentation, options=options)


def split_options(pairs: Sequence[str], reader: str, writer: str) -> tuple[dict[str, str], dict[str, str]]:
    """``KEY=VALUE`` pairs into the reader's and the writer's options: a key goes to every side whose format declares
    it, ``read:KEY=VALUE`` and ``write:KEY=VALUE`` to one side.  Raises InputError for a malformed pair or a key
    neither side declares."""
    formats = {"read": get_format(reader, "read"), "write": get_format(writer, "write")}
    options: dict[str, dict[str, str]] = {"read": {}, "write": {}}
    for pair in pairs:
        key, value = parse_pair(pair)
        side, colon, name = key.partition(":")
        sides = [side] if colon and side in formats else list(formats)
        name = name if colon and side in formats else key
        found = [s for s in sides if name in formats[s].options]
        if not found:
            known = [f"{s}:{k}" for s in sides for k in formats[s].options]
            raise InputError(f"no format option {name!r} for {' or '.join(formats[s].name for s in sides)};"
                             f" options: {', '.join(known) or 'none'}")
        for s in found:
            options[s][name] = value
    return options["read"], options["write"]


# ---------------------------------------------------------------------------------------------- labels


@dataclass
class Tally:
    """What passed through a conversion, counted per label."""

    documents: int = 0
    entities: int = 0
    relations: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    unmapped_entities: Counter[str] = field(default_factory=Counter)
    unmapped_relations: Counter[str] = field(default_factory=Counter)
    dropped_entities: Counter[str] = field(default_factory=Counter)  # by the label map
    dropped_relations: Counter[str] = field(default_factory=Counter)
    lost_relations: Counter[str] = field(default_factory=Counter)  # an argument was dropped

    def report_to(self, report: Report, *, file: str, drop_unmapped: bool) -> None:
        if self.unmapped_entities or self.unmapped_relations:
            listed = _listing(self.unmapped_entities, self.unmapped_relations)
            details = {"entities": dict(self.unmapped_entities), "relations": dict(self.unmapped_relations)}
            if drop_unmapped:
                report.add(make_problem(UNMAPPED_DROPPED, f"Left out labels the ontology lacks: {listed}.",
                                        file=file, details=details))
            else:
                report.add(make_problem(UNMAPPED_LABEL, f"Labels not in the ontology: {listed}; map them in the"
                                        " label map (or drop them there), or pass --drop-unmapped.", file=file,
                                        details=details))
        if self.dropped_entities or self.dropped_relations:
            report.add(make_problem(LABEL_DROPPED, "The label map left out "
                                    f"{_listing(self.dropped_entities, self.dropped_relations)}.", file=file,
                                    details={"entities": dict(self.dropped_entities),
                                             "relations": dict(self.dropped_relations)}))
        if self.lost_relations:
            report.add(make_problem(RELATION_LOST, f"Left out {sum(self.lost_relations.values())} relation(s) whose"
                                    f" span was dropped: {_counts(self.lost_relations)}.", file=file,
                                    details={"relations": dict(self.lost_relations)}))

    def stats(self) -> dict[str, object]:
        return {"documents": self.documents, "entities": self.entities, "relations": self.relations,
                "labels": dict(sorted(self.labels.items()))}


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{label} ({count})" for label, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _listing(entities: Counter[str], relations: Counter[str]) -> str:
    parts = []
    if entities:
        parts.append(f"entity labels {_counts(entities)}")
    if relations:
        parts.append(f"relation labels {_counts(relations)}")
    return "; ".join(parts)


def _with_progress(documents: Iterable[Document], progress: Progress | None) -> Iterator[Document]:
    if progress is None:
        yield from documents
        return
    for k, doc in enumerate(documents, 1):
        if k % _PROGRESS_EVERY == 0:
            progress(k)
        yield doc


def _relabelled(documents: Iterable[Document], mapping: LabelMap | None, ontology: Ontology | None,
                drop_unmapped: bool, tally: Tally) -> Iterator[Document]:
    """Each document with the label map applied and, against the ontology, its unknown labels counted (and left
    out, with ``drop_unmapped``); the documents as they leave are counted too."""
    entity_labels = frozenset(ontology.entity_labels) if ontology is not None else None
    relation_labels = frozenset(ontology.relation_labels) if ontology is not None else None
    for doc in documents:
        if mapping is not None or ontology is not None:
            doc = _relabel(doc, mapping, entity_labels, relation_labels, drop_unmapped, tally)
        tally.documents += 1
        tally.entities += len(doc.entities)
        tally.relations += len(doc.relations)
        tally.labels.update(span.label for span in doc.entities)
        yield doc


def _relabel(doc: Document, mapping: LabelMap | None, entity_labels: frozenset[str] | None,
             relation_labels: frozenset[str] | None, drop_unmapped: bool, tally: Tally) -> Document:
    entities = []
    dropped: set[str] = set()
    for span in doc.entities:
        label = mapping.entity_label(span.label) if mapping is not None else span.label
        if label is None:
            tally.dropped_entities[span.label] += 1
            dropped.add(span.id)
            continue
        if entity_labels is not None and label not in entity_labels:
            tally.unmapped_entities[label] += 1
            if drop_unmapped:
                dropped.add(span.id)
                continue
        entities.append(span if label == span.label else replace(span, label=label))
    dropped.discard("")  # a span without an id is no relation's argument
    relations = []
    for relation in doc.relations:
        label = mapping.relation_label(relation.label) if mapping is not None else relation.label
        if relation.head in dropped or relation.tail in dropped:
            tally.lost_relations[label or relation.label] += 1
            continue
        if label is None:
            tally.dropped_relations[relation.label] += 1
            continue
        if relation_labels is not None and label not in relation_labels:
            tally.unmapped_relations[label] += 1
            if drop_unmapped:
                continue
        relations.append(relation if label == relation.label else replace(relation, label=label))
    return replace(doc, entities=entities, relations=relations)


# ---------------------------------------------------------------------------------------------- output


def _check_target(source: Path, target: Path, writer: Format) -> None:
    """Refuse, before anything is read, an ``out`` that cannot be written or may not be replaced."""
    if (missing := folder_missing(target)) is not None:
        raise InputError(f"cannot write {target}: {missing}")
    if same_file(source, target):
        raise InputError(f"{source} is both the input and --out; write the output elsewhere")
    if target.is_symlink():
        raise InputError(f"--out {target} is a symbolic link; give the path itself")
    if source.is_dir() and target.resolve().is_relative_to(source.resolve()):
        raise InputError(f"--out {target} is inside the input folder {source}; write the output elsewhere")
    if writer.output == "file":
        if target.is_dir():
            raise InputError(f"--out {target} is a folder; format {writer.name!r} writes a file")
        return
    if target.exists():
        if not target.is_dir():
            raise InputError(f"--out {target} is a file; format {writer.name!r} writes a folder")
        if source.resolve().is_relative_to(target.resolve()):
            raise InputError(f"the input {source} is inside --out {target}, which the output would replace; write"
                             " the output elsewhere")
        if not (target / MARKER).is_file() and any(target.iterdir()):
            raise InputError(f"--out {target} is a folder that convert did not write (it has no {MARKER}); it is"
                             " never replaced: remove it or choose another --out")


def _write_marker(folder: Path, reader: str, writer: str, source: Path, tally: Tally) -> None:
    record = {"tool": "corpus-tools convert", "from": reader, "to": writer, "input": source.name,
              "documents": tally.documents}
    (folder / MARKER).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


class _Output:
    """A temporary folder beside ``target`` (claimed and locked as :mod:`corpus_tools.files` does it), where the
    writer writes a file (``path`` = folder/target's name) or the folder's contents (``path`` = the folder), renamed
    onto ``target`` by :meth:`commit`; removed on exit otherwise."""

    def __init__(self, target: Path, kind: str) -> None:
        self.target = target
        self.kind = kind
        self.folder: Path | None = None
        self._lock = None

    def __enter__(self) -> _Output:
        try:
            remove_dead_temporaries(self.target, suffix=_SUFFIX)
            remove_dead_temporaries(self.target, suffix=_OLD_SUFFIX)
            self.folder, _, self._lock = claim_temporary(self.target, _make_folder, suffix=_SUFFIX)
        except OSError as exc:
            raise OutputError(f"cannot write beside {self.target}: {exc.strerror or exc}") from exc
        return self

    @property
    def path(self) -> Path:
        assert self.folder is not None
        return self.folder if self.kind == "folder" else self.folder / self.target.name

    def commit(self) -> None:
        assert self.folder is not None
        try:
            if self.kind == "file":
                os.replace(self.path, self.target)
                return
            if not self.target.exists():
                rename_no_replace(self.folder, self.target)
                self.folder = None
                return
            old, _, lock = claim_temporary(self.target, lambda p: rename_no_replace(self.target, p), suffix=_OLD_SUFFIX)
            try:
                try:
                    rename_no_replace(self.folder, self.target)
                except BaseException:
                    rename_no_replace(old, self.target)  # the previous output back in place
                    raise
                self.folder = None
                remove_tree(old)
            finally:
                unlock_temporary(lock)
        except OSError as exc:
            raise OutputError(f"cannot write {self.target}: {write_failure(self.target, exc)}") from exc

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if self.folder is not None:
                remove_tree(self.folder)
        finally:
            if self._lock is not None:
                unlock_temporary(self._lock)


def _make_folder(path: Path) -> None:
    path.mkdir()

"""What changed between two release folders: :func:`diff_releases`.

Documents are matched by id, entity spans by their offsets within a document whose text did not
change, relations by the offsets of their head and tail spans (span ids may change between
exports, offsets may not).  A span at the same offsets with another label is *relabelled*; the
same holds for a relation between the same two spans.  When a document's text changed, its old
spans and relations count as removed and its new ones as added, so ``old - removed + added ==
new`` holds for every count.  Labels are compared by name (from each release's own Features),
so a diff across ontology versions stays meaningful.

For the documents whose annotations changed (text equal), the diff can also say which spans and relations
changed (:class:`DocumentChanges`): their offsets, their text (the document's text at those offsets, read
again from the new release for those documents only) and their old and new labels.  Every document whose text
changed under the same id (an article edited at its source, whose id comes from its source id) is listed with
its old and new text sha256 (:class:`TextChange`), and, for the first few, where the texts first differ.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from corpus_tools.columns import find_in_rows, ints, parents, row_group_batches, sha256_each, struct_fields
from corpus_tools.errors import InputError, ReleaseError
from corpus_tools.keys import CACHE_KIB, private_database, store_failures
from corpus_tools.release.manifest import manifest_paths_outside, read_manifest

Pair = tuple[int, int]
TEXT_CHANGES_LISTED = 10  # documents whose text changed named in a card's changelog


@dataclass
class _Doc:
    """One document of a loaded release: its annotation as sorted rows of numbers (``spans`` and ``relations``
    build the multisets of labelled tuples from them when a comparison needs them)."""

    split: str
    text_sha256: bytes
    span_rows: np.ndarray  # (start, end, label id) sorted, int64
    relation_rows: np.ndarray  # (head start, head end, tail start, tail end, label id) sorted, int64
    names: tuple[tuple[str, ...], tuple[str, ...]]  # the release's entity and relation label names
    file: int = -1  # where the row is: an index into LoadedRelease.paths, and the row number within that file
    row: int = -1

    @property
    def n_spans(self) -> int:
        return len(self.span_rows)

    @property
    def n_relations(self) -> int:
        return len(self.relation_rows)

    @property
    def spans(self) -> Counter[tuple[int, int, str]]:
        names = self.names[0]
        return Counter((s, e, names[k]) for s, e, k in self.span_rows.tolist())

    @property
    def relations(self) -> Counter[tuple[Pair, Pair, str]]:
        names = self.names[1]
        return Counter(((hs, he), (ts, te), names[k]) for hs, he, ts, te, k in self.relation_rows.tolist())


class DocumentStore:
    """The documents of a loaded release by id, on disk (a private temporary SQLite database: a release's
    documents are never all in memory); :meth:`items` gives them in id order, so two releases are compared in
    one pass over both."""

    def __init__(self) -> None:
        self._db = private_database(CACHE_KIB)
        self._db.execute("CREATE TABLE docs (id TEXT PRIMARY KEY NOT NULL, split, sha BLOB, spans BLOB,"
                         " relations BLOB, names INTEGER, file INTEGER, row INTEGER) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self.names: list[tuple[tuple[str, ...], tuple[str, ...]]] = []  # the label names of each file

    def put_many(self, rows: list[tuple]) -> None:
        """Rows of (id, split, text sha256, span rows, relation rows, names index, file, row); a repeated id keeps
        its last row, as a dict would."""
        self._db.executemany("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _doc(self, row: tuple) -> _Doc:
        split, sha, spans, relations, names, file, number = row
        return _Doc(split, sha, np.frombuffer(spans, dtype=np.int64).reshape(-1, 3),
                    np.frombuffer(relations, dtype=np.int64).reshape(-1, 5), self.names[names], file, number)

    def items(self) -> Iterator[tuple[str, _Doc]]:
        """Every document, by id (code point order, as Python sorts)."""
        for doc_id, *row in self._db.execute("SELECT * FROM docs ORDER BY id"):
            yield doc_id, self._doc(tuple(row))

    def __getitem__(self, doc_id: str) -> _Doc:
        row = self._db.execute("SELECT split, sha, spans, relations, names, file, row FROM docs WHERE id = ?",
                               (doc_id,)).fetchone()
        if row is None:
            raise KeyError(doc_id)
        return self._doc(row)

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM docs").fetchone()[0]

    def close(self) -> None:
        self._db.close()


@dataclass
class LoadedRelease:
    """What :func:`diff_loaded` compares of one release (:func:`load_documents`)."""

    version: str
    docs: DocumentStore
    splits: list[str]
    entity_labels: Counter[str] = field(default_factory=Counter)
    relation_labels: Counter[str] = field(default_factory=Counter)
    split_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> documents, entities, ...
    names: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # the ClassLabel names (entities, relations)
    tokenizer: dict | None = None  # the manifest's ``tokenizer`` (None: made before tokenizer version 2)
    has_tokens: bool = True  # the release has a tokens config
    paths: list[Path] = field(default_factory=list)  # the documents files, in the order of _Doc.file


@dataclass
class ChangeCounts:
    added: int = 0
    removed: int = 0
    relabelled: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"added": self.added, "removed": self.removed, "relabelled": self.relabelled}


@dataclass(frozen=True)
class SpanChange:
    """An entity span added (no old label), removed (no new label) or relabelled, at ``text[start:end]``."""

    start: int
    end: int
    text: str
    old_label: str | None
    new_label: str | None

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "text": self.text, **_labels(self.old_label, self.new_label)}


@dataclass(frozen=True)
class RelationChange:
    """A relation added, removed or relabelled, between the spans at ``head`` and ``tail`` (start, end)."""

    head: Pair
    tail: Pair
    head_text: str
    tail_text: str
    old_label: str | None
    new_label: str | None

    def to_dict(self) -> dict[str, object]:
        return {"head": {"start": self.head[0], "end": self.head[1], "text": self.head_text},
                "tail": {"start": self.tail[0], "end": self.tail[1], "text": self.tail_text},
                **_labels(self.old_label, self.new_label)}


def _labels(old: str | None, new: str | None) -> dict[str, str | None]:
    if old is None:
        return {"label": new}
    if new is None:
        return {"label": old}
    return {"old_label": old, "new_label": new}


def _kind(change: SpanChange | RelationChange) -> str:
    if change.old_label is None:
        return "added"
    return "removed" if change.new_label is None else "relabelled"


CONTEXT_BEFORE, CONTEXT_AFTER = 20, 30  # code points shown around a text's first difference


@dataclass(frozen=True)
class TextChange:
    """A document whose text changed under the same id: the texts' sha256, and (when the texts were read) the
    first code point where they differ with a little of each text around it."""

    id: str
    split: str  # in the new release
    old_sha256: str
    new_sha256: str
    offset: int | None = None
    old_context: str | None = None
    new_context: str | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "split": self.split, "old_sha256": self.old_sha256,
                                  "new_sha256": self.new_sha256}
        if self.offset is not None:
            out["first_difference"] = {"offset": self.offset, "old": self.old_context, "new": self.new_context}
        return out


def first_difference(old: str, new: str) -> tuple[int, str, str]:
    """The first code point where two texts differ, and each text around it."""
    offset = next((k for k, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    start = max(0, offset - CONTEXT_BEFORE)
    return offset, old[start : offset + CONTEXT_AFTER], new[start : offset + CONTEXT_AFTER]


@dataclass
class DocumentChanges:
    """The spans and relations that changed in one document whose text did not (sorted by offsets, then label)."""

    id: str
    split: str  # in the new release
    spans: list[SpanChange] = field(default_factory=list)
    relations: list[RelationChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        def by_kind(changes: list) -> dict[str, list[dict[str, object]]]:
            out: dict[str, list[dict[str, object]]] = {"added": [], "removed": [], "relabelled": []}
            for change in changes:
                out[_kind(change)].append(change.to_dict())
            return out

        return {"id": self.id, "split": self.split, "spans": by_kind(self.spans),
                "relations": by_kind(self.relations)}


@dataclass
class ReleaseDiff:
    """Differences between an old and a new release; ``to_dict()`` is the ``--json`` output."""

    old_version: str
    new_version: str
    documents_added: list[str] = field(default_factory=list)
    documents_removed: list[str] = field(default_factory=list)
    documents_text_changed: list[str] = field(default_factory=list)
    documents_annotation_changed: list[str] = field(default_factory=list)
    documents_moved: list[dict[str, str]] = field(default_factory=list)
    spans: ChangeCounts = field(default_factory=ChangeCounts)
    relations: ChangeCounts = field(default_factory=ChangeCounts)
    entity_labels: dict[str, tuple[int, int]] = field(default_factory=dict)
    relation_labels: dict[str, tuple[int, int]] = field(default_factory=dict)
    splits: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    # ClassLabel names of the entity and relation labels: kind -> (old names, new names)
    label_names: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    # the tokenizer of the tokens config, old and new (None: before tokenizer version 2, cut at span edges)
    tokenizer: tuple[dict | None, dict | None] = (None, None)
    # which spans and relations changed, for the first documents of documents_annotation_changed (``detail``)
    document_changes: list[DocumentChanges] = field(default_factory=list)
    # every document of documents_text_changed, its hashes; where the texts differ for the first (``detail``)
    text_changes: list[TextChange] = field(default_factory=list)

    def tokens_config_change(self) -> str | None:
        """What changed in how the ``tokens`` config is made (a MAJOR change: token boundaries differ), or None."""
        old, new = self.tokenizer
        if old == new:
            return None
        return f"tokenizer {describe_tokenizer(old)} → {describe_tokenizer(new)}"

    def label_changes(self) -> dict[str, dict[str, object]]:
        """For each kind of label whose ClassLabel names differ: the labels added and removed, and the labels kept
        whose id (position) changed, ``{label: [old id, new id]}`` (a model trained on the old ids misreads them)."""
        out: dict[str, dict[str, object]] = {}
        for kind, (old, new) in self.label_names.items():
            if old == new:
                continue
            moved = {label: [old.index(label), new.index(label)] for label in old
                     if label in new and old.index(label) != new.index(label)}
            out[kind] = {"added": [x for x in new if x not in old], "removed": [x for x in old if x not in new],
                         "ids_changed": moved}
        return out

    @property
    def changed(self) -> bool:
        """Whether any document, or the way the tokens config is made, changed."""
        return bool(self.documents_added or self.documents_removed or self.documents_text_changed
                    or self.documents_annotation_changed or self.documents_moved
                    or self.tokens_config_change() is not None)

    def to_dict(self) -> dict[str, object]:
        def delta(pair: tuple[int, int]) -> dict[str, int]:
            return {"old": pair[0], "new": pair[1], "delta": pair[1] - pair[0]}

        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "changed": self.changed,
            "documents": {
                "added": self.documents_added,
                "removed": self.documents_removed,
                "text_changed": self.documents_text_changed,
                "annotation_changed": self.documents_annotation_changed,
                "moved": self.documents_moved,
            },
            "spans": self.spans.to_dict(),
            "relations": self.relations.to_dict(),
            "entity_labels": {k: delta(v) for k, v in self.entity_labels.items()},
            "relation_labels": {k: delta(v) for k, v in self.relation_labels.items()},
            "splits": {s: {k: delta(v) for k, v in counts.items()} for s, counts in self.splits.items()},
            "label_names": self.label_changes(),
            "tokens_config": {"old": self.tokenizer[0], "new": self.tokenizer[1],
                              "major_change": self.tokens_config_change() is not None},
            "document_changes": [d.to_dict() for d in self.document_changes],
            "text_changes": [t.to_dict() for t in self.text_changes],
        }

    def summary_markdown(self, *, previous: str) -> str:
        """Changelog bullets for a dataset card."""

        def changed_counts(counts: dict[str, tuple[int, int]]) -> str:
            parts = [f"`{k}` {o} → {n} ({n - o:+d})" for k, (o, n) in counts.items() if o != n]
            return ", ".join(parts) or "unchanged"

        lines = [
            f"- Compared with {previous}: {len(self.documents_added)} documents added,"
            f" {len(self.documents_removed)} removed, {len(self.documents_text_changed)} with changed text,"
            f" {len(self.documents_annotation_changed)} with changed annotations,"
            f" {len(self.documents_moved)} moved between splits.",
            f"- Entity spans: {self.spans.added} added, {self.spans.removed} removed,"
            f" {self.spans.relabelled} relabelled.",
            f"- Relations: {self.relations.added} added, {self.relations.removed} removed,"
            f" {self.relations.relabelled} relabelled.",
            f"- Entities per label: {changed_counts(self.entity_labels)}.",
            f"- Relations per label: {changed_counts(self.relation_labels)}.",
            f"- Documents per split: {changed_counts({s: c['documents'] for s, c in self.splits.items()})}.",
        ]
        if self.text_changes:
            shown = [f"`{t.id}` (sha256 {t.old_sha256[:12]} → {t.new_sha256[:12]})"
                     for t in self.text_changes[:TEXT_CHANGES_LISTED]]
            more = len(self.text_changes) - len(shown)
            lines.append(f"- Text changed under the same id ({len(self.text_changes)}; its spans and relations count"
                         f" as removed and added): {', '.join(shown)}"
                         f"{f' and {more} more' if more > 0 else ''}.")
        for kind, change in self.label_changes().items():
            parts = [f"added {', '.join(f'`{x}`' for x in change['added'])}" if change["added"] else "",
                     f"removed {', '.join(f'`{x}`' for x in change['removed'])}" if change["removed"] else "",
                     ("ClassLabel ids changed: " + ", ".join(f"`{x}` {a} → {b}" for x, (a, b)
                                                             in change["ids_changed"].items()))
                     if change["ids_changed"] else ""]
            lines.append(f"- **{kind.capitalize()} label names changed** (a breaking change for models trained on"
                         f" {previous}): {'; '.join(p for p in parts if p)}.")
        if (change := self.tokens_config_change()) is not None:
            legacy = (" Tokens are now a function of the text alone, never cut at an annotated span edge; the span"
                      " modes are gone (`exact`, which cut the tokens at span edges, is impossible without labels"
                      " leaking into them; `whole-token`, which widened every span to the tokens it touches, is now"
                      " what every build does)." if self.tokenizer[0] is None else "")
            lines.append(f"- **MAJOR change of the `tokens` config:** {change}. Token boundaries differ from"
                         f" {previous}'s: retrain or re-evaluate on the new tokens rather than mixing the two.{legacy}")
        return "\n".join(lines) + "\n"

    def table_rows(self) -> list[tuple[str, str, str, str]]:
        """``(what, old, new, change)`` rows for a human table."""
        rows: list[tuple[str, str, str, str]] = [
            ("documents added", "", "", str(len(self.documents_added))),
            ("documents removed", "", "", str(len(self.documents_removed))),
            ("documents with changed text", "", "", str(len(self.documents_text_changed))),
            ("documents with changed annotations", "", "", str(len(self.documents_annotation_changed))),
            ("documents moved between splits", "", "", str(len(self.documents_moved))),
            ("spans added / removed / relabelled", "", "",
             f"{self.spans.added} / {self.spans.removed} / {self.spans.relabelled}"),
            ("relations added / removed / relabelled", "", "",
             f"{self.relations.added} / {self.relations.removed} / {self.relations.relabelled}"),
        ]
        for label, (old, new) in self.entity_labels.items():
            rows.append((f"entities {label}", str(old), str(new), f"{new - old:+d}"))
        for label, (old, new) in self.relation_labels.items():
            rows.append((f"relations {label}", str(old), str(new), f"{new - old:+d}"))
        for split, counts in self.splits.items():
            for what, (old, new) in counts.items():
                rows.append((f"{split} {what}", str(old), str(new), f"{new - old:+d}"))
        if self.tokens_config_change() is not None:
            rows.append(("tokens config", describe_tokenizer(self.tokenizer[0]), describe_tokenizer(self.tokenizer[1]),
                         "MAJOR change"))
        for kind, change in self.label_changes().items():
            old_names, new_names = self.label_names[kind]
            rows.append((f"{kind} label names", ", ".join(old_names), ", ".join(new_names),
                         f"+{len(change['added'])} -{len(change['removed'])}, {len(change['ids_changed'])} ids moved"))
        return rows


    def text_change_rows(self) -> list[tuple[str, str, str, str, str, str]]:
        """``(document, split, old sha256, new sha256, first difference, old text → new text there)`` rows for a
        human table, one per document whose text changed (the difference only where the texts were read)."""
        rows = []
        for change in self.text_changes:
            where = "" if change.offset is None else str(change.offset)
            context = "" if change.offset is None else f"{change.old_context!r} → {change.new_context!r}"
            rows.append((change.id, change.split, change.old_sha256[:12], change.new_sha256[:12], where, context))
        return rows

    def change_rows(self) -> list[tuple[str, str, str, str, str, str, str]]:
        """``(document, span or relation, change, offsets, text, old label, new label)`` rows for a human table,
        one per changed span or relation of ``document_changes`` (offsets as ``start:end``, a relation's as
        ``head → tail``)."""
        rows = []
        for doc in self.document_changes:
            for span in doc.spans:
                rows.append((doc.id, "span", _kind(span), f"{span.start}:{span.end}", span.text,
                             span.old_label or "", span.new_label or ""))
            for rel in doc.relations:
                offsets = f"{rel.head[0]}:{rel.head[1]} → {rel.tail[0]}:{rel.tail[1]}"
                rows.append((doc.id, "relation", _kind(rel), offsets, f"{rel.head_text} → {rel.tail_text}",
                             rel.old_label or "", rel.new_label or ""))
        return rows


def describe_tokenizer(tokenizer: dict | None) -> str:
    """A manifest's ``tokenizer`` in words (None: a release made before tokenizer version 2)."""
    if tokenizer is None:
        return "version 1 (tokens also cut at annotated span edges)"
    return f"{tokenizer.get('name')} {tokenizer.get('version')} (segmentation {tokenizer.get('segmentation')})"


def label_names(schema) -> tuple[list[str], list[str]]:
    """The ClassLabel names of ``entities.label`` and ``relations.label``: read from the ``huggingface``
    schema metadata in the shapes datasets writes (importing datasets costs a second), else by datasets."""
    try:
        features = json.loads((schema.metadata or {})[b"huggingface"])["info"]["features"]
        return _classlabel_names(features["entities"]), _classlabel_names(features["relations"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        pass
    from datasets import ClassLabel, Features

    features = Features.from_arrow_schema(schema)
    names = []
    for column in ("entities", "relations"):
        inner = getattr(features[column], "feature", None)  # List / Sequence of structs
        label = inner.get("label") if isinstance(inner, dict) else None
        if not isinstance(label, ClassLabel):
            raise _Damaged(f"its {column}.label is not a ClassLabel of label names (a documents file written by"
                           " `corpus-tools build` always has one)")
        names.append(list(label.names))
    return names[0], names[1]


def _classlabel_names(feature: object) -> list[str]:
    """``label.names`` of a list of structs as ``Features.to_dict`` writes it (``List``/``Sequence``, or ``[...]``)."""
    if isinstance(feature, list) and len(feature) == 1:
        inner = feature[0]
    elif isinstance(feature, dict) and feature.get("_type") in ("List", "Sequence"):
        inner = feature["feature"]
    else:
        raise TypeError("not a list of structs")
    label = inner.get("label") if isinstance(inner, dict) else None
    names = label.get("names") if isinstance(label, dict) and label.get("_type") == "ClassLabel" else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TypeError("not a ClassLabel")
    return list(names)


def load_documents(
    directory: Path, *, version: str | None = None, files: dict[str, list[str]] | None = None,
    tokenizer: dict | None = None,
) -> LoadedRelease:
    """The version, the documents (by id), the split order, the label counts and the tokenizer of a release folder.

    ``version``, ``files`` (documents files per split) and ``tokenizer`` replace the manifest for a folder that
    has none yet (a build in progress).  Each batch of rows is read column-wise (no Python object per
    span or relation): a document keeps its spans and relations as sorted rows of numbers.
    """
    import pyarrow.parquet as pq

    if files is None or version is None:
        manifest = read_manifest(directory)
        outside = manifest_paths_outside(manifest)
        if outside:
            raise ReleaseError(f"{Path(directory) / 'manifest.json'} lists {outside[0]!r}, which is not a path inside"
                               " the release folder; it is not followed (`corpus-tools check-release` reports it)")
        version = str(manifest["version"])
        files = {split: entry["files"] for split, entry in manifest["configs"].get("documents", {}).items()}
        tokenizer = manifest.get("tokenizer") if isinstance(manifest.get("tokenizer"), dict) else None
    loaded = LoadedRelease(version=version, docs=DocumentStore(), splits=list(files), tokenizer=tokenizer)
    for split in loaded.splits:
        totals = loaded.split_counts.setdefault(split, {"documents": 0, "entities": 0, "relations": 0})
        for rel in files[split]:
            path = Path(directory) / rel
            loaded.paths.append(path)
            try:
                pf = pq.ParquetFile(path)
                entity_names, relation_names = label_names(pf.schema_arrow)
                names = (tuple(entity_names), tuple(relation_names))
                loaded.names = loaded.names or names
                loaded.docs.names.append(names)
                row = 0
                for _, batch in row_group_batches(pf, None, batch_size=2_000,
                                                  columns=["id", "text", "entities", "relations"]):
                    _load_batch(batch, split, names, loaded, totals, (len(loaded.paths) - 1, row))
                    row += batch.num_rows
            except OSError as exc:  # pyarrow's I/O errors are OSErrors too
                raise InputError(f"cannot read {path}: {exc}") from exc
            except pa.ArrowException as exc:
                raise ReleaseError(f"{path} is damaged: {exc}") from exc
            except _Damaged as exc:
                raise ReleaseError(f"{path} is damaged: {exc}; `corpus-tools check-release` locates the problems"
                                   ) from exc
            except (KeyError, TypeError, ValueError, IndexError) as exc:  # other columns or features
                raise ReleaseError(f"{path} is not a documents file of a release ({type(exc).__name__}: {exc})"
                                   ) from exc
    return loaded


class _Damaged(Exception):
    """A documents file whose values a checked release never has."""


def _load_batch(batch, split: str, names: tuple[tuple[str, ...], tuple[str, ...]], loaded: LoadedRelease,
                totals: dict[str, int], where: tuple[int, int]) -> None:
    """Add a batch's documents to ``loaded``; ``where`` is (file index, row number of the batch's first row)."""
    ids = batch.column("id").to_pylist()
    n = len(ids)
    digests = sha256_each(batch.column("text"))

    entities, relations = batch.column("entities"), batch.column("relations")
    spans = entities.flatten()
    fields = struct_fields(spans)
    e_doc = parents(entities)
    e_rows = np.stack([e_doc, ints(fields["start"]), ints(fields["end"]), ints(fields["label"])], axis=1)
    # relations by the offsets of their ends (the last span of the document with that id, as a dict keeps);
    # a relation whose end is no span of its document is left out
    rels = relations.flatten()
    r_fields = struct_fields(rels)
    r_doc = parents(relations)
    head = find_in_rows(e_doc, fields["id"], r_doc, r_fields["head"])
    tail = find_in_rows(e_doc, fields["id"], r_doc, r_fields["tail"])
    ok = (head >= 0) & (tail >= 0)
    head, tail = head[ok], tail[ok]
    r_rows = np.stack([r_doc[ok], e_rows[head, 1], e_rows[head, 2], e_rows[tail, 1], e_rows[tail, 2],
                       ints(r_fields["label"])[ok]], axis=1)
    # sorted by document, then by every column: equal multisets give equal rows
    e_rows = e_rows[np.lexsort(e_rows.T[::-1])]
    r_rows = r_rows[np.lexsort(r_rows.T[::-1])]
    e_bounds = np.searchsorted(e_rows[:, 0], np.arange(n + 1)).tolist()
    r_bounds = np.searchsorted(r_rows[:, 0], np.arange(n + 1)).tolist()
    e_rows = np.ascontiguousarray(e_rows[:, 1:], dtype=np.int64)
    r_rows = np.ascontiguousarray(r_rows[:, 1:], dtype=np.int64)
    if None in ids:
        raise _Damaged("a document has no id")
    names_index = len(loaded.docs.names) - 1
    e_bytes, r_bytes = e_rows.tobytes(), r_rows.tobytes()
    loaded.docs.put_many([
        (doc_id, split, digests[i], e_bytes[24 * e_bounds[i]:24 * e_bounds[i + 1]],
         r_bytes[40 * r_bounds[i]:40 * r_bounds[i + 1]], names_index, where[0], where[1] + i)
        for i, doc_id in enumerate(ids)])
    for counts, labels, label_names in ((loaded.entity_labels, e_rows[:, 2], names[0]),
                                        (loaded.relation_labels, r_rows[:, 4], names[1])):
        if len(labels) and (labels.min() < 0 or labels.max() >= len(label_names)):
            bad = int(labels[(labels < 0) | (labels >= len(label_names))][0])
            raise _Damaged(f"label id {'missing' if bad < 0 else bad} is not one of the {len(label_names)} names"
                           f" {', '.join(label_names)}")
        for k, c in enumerate(np.bincount(labels, minlength=len(label_names)).tolist()):
            if c:
                counts[label_names[k]] += c
    totals["documents"] += n
    totals["entities"] += len(e_rows)
    totals["relations"] += len(r_rows)


def _match(old: Counter, new: Counter, key) -> tuple[list, list, list]:
    """The items added, removed and relabelled (``(old item, new item)`` with the same ``key``) between two
    multisets of (…, label) tuples, each list sorted."""
    common = old & new
    gone, came = sorted((old - common).elements()), sorted((new - common).elements())
    by_key: dict = {}
    for item in came:
        by_key.setdefault(key(item), []).append(item)
    removed, relabelled = [], []
    for item in gone:  # sorted: the k-th old item of a key pairs with the k-th new one
        candidates = by_key.get(key(item))
        if candidates:
            relabelled.append((item, candidates.pop(0)))
        else:
            removed.append(item)
    added = [item for items in by_key.values() for item in items]
    return sorted(added), removed, relabelled


def _counts(matched: tuple[list, list, list]) -> ChangeCounts:
    added, removed, relabelled = matched
    return ChangeCounts(added=len(added), removed=len(removed), relabelled=len(relabelled))


def _read_texts(release: LoadedRelease, doc_ids: list[str]) -> dict[str, str]:
    """The texts of a few documents, read from the row groups that hold them (``text`` column only)."""
    import pyarrow.parquet as pq

    wanted: dict[int, dict[int, str]] = {}
    for doc_id in doc_ids:
        doc = release.docs[doc_id]
        wanted.setdefault(doc.file, {})[doc.row] = doc_id
    texts: dict[str, str] = {}
    for file, rows in wanted.items():
        if not 0 <= file < len(release.paths):
            continue  # a release loaded without its files: no texts
        path = release.paths[file]
        try:
            pf = pq.ParquetFile(path)
            starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)]).tolist()
            by_group: dict[int, list[int]] = {}
            for row in rows:
                by_group.setdefault(int(np.searchsorted(starts, row, side="right")) - 1, []).append(row)
            for group, group_rows in by_group.items():
                column = pf.read_row_group(group, columns=["text"]).column("text")
                for row in group_rows:
                    texts[rows[row]] = column[row - starts[group]].as_py() or ""
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
        except pa.ArrowException as exc:
            raise ReleaseError(f"{path} is damaged: {exc}") from exc
    return texts


@store_failures("diff")
def diff_releases(old_dir: str | Path, new_dir: str | Path, *, detail: int | None = None) -> ReleaseDiff:
    """Compare two release folders (raises :class:`~corpus_tools.errors.ReleaseError` if one is not a release).

    ``detail``: for how many documents with changed annotations (the first, by id) to say which spans and
    relations changed (``ReleaseDiff.document_changes``); None for all, 0 for none.
    """
    old = load_documents(Path(old_dir))
    try:
        new = load_documents(Path(new_dir))
        try:
            return diff_loaded(old, new, detail=detail)
        finally:
            new.docs.close()
    finally:
        old.docs.close()


def _joined(old: DocumentStore, new: DocumentStore) -> Iterator[tuple[str, _Doc | None, _Doc | None]]:
    """The documents of both releases in id order: (id, old document or None, new document or None)."""
    olds, news = old.items(), new.items()
    a, b = next(olds, None), next(news, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            yield a[0], a[1], None  # type: ignore[index]
            a = next(olds, None)
        elif a is None or b[0] < a[0]:
            yield b[0], None, b[1]
            b = next(news, None)
        else:
            yield a[0], a[1], b[1]
            a, b = next(olds, None), next(news, None)


def diff_loaded(old_release: LoadedRelease, new_release: LoadedRelease, *, detail: int | None = 0) -> ReleaseDiff:
    """Compare two releases loaded with :func:`load_documents`; ``detail`` as in :func:`diff_releases` (none by
    default: a changelog needs only the counts)."""
    old, new = old_release.docs, new_release.docs
    diff = ReleaseDiff(old_version=old_release.version, new_version=new_release.version)
    if old_release.names is not None and new_release.names is not None:
        diff.label_names = {kind: (list(a), list(b)) for kind, a, b in
                            zip(("entity", "relation"), old_release.names, new_release.names, strict=True)}
    diff.tokenizer = (old_release.tokenizer, new_release.tokenizer)
    span_key = lambda s: (s[0], s[1])  # noqa: E731
    relation_key = lambda r: (r[0], r[1])  # noqa: E731
    unchanged = ChangeCounts()
    detailed: list[tuple[str, tuple[list, list, list], tuple[list, list, list]]] = []
    for doc_id, a, b in _joined(old, new):
        if a is None:
            diff.documents_added.append(doc_id)
            diff.spans.added += b.n_spans  # type: ignore[union-attr]
            diff.relations.added += b.n_relations  # type: ignore[union-attr]
            continue
        if b is None:
            diff.documents_removed.append(doc_id)
            diff.spans.removed += a.n_spans
            diff.relations.removed += a.n_relations
            continue
        if a.split != b.split:
            diff.documents_moved.append({"id": doc_id, "old": a.split, "new": b.split})
        if a.text_sha256 != b.text_sha256:
            diff.documents_text_changed.append(doc_id)
            diff.text_changes.append(TextChange(doc_id, b.split, a.text_sha256.hex(), b.text_sha256.hex()))
            spans = ChangeCounts(added=b.n_spans, removed=a.n_spans)
            relations = ChangeCounts(added=b.n_relations, removed=a.n_relations)
        elif a.span_rows.tobytes() == b.span_rows.tobytes() and a.relation_rows.tobytes() == \
                b.relation_rows.tobytes() and a.names == b.names:
            continue  # the same sorted rows under the same label names: the same multisets
        else:
            span_changes = _match(a.spans, b.spans, span_key)
            relation_changes = _match(a.relations, b.relations, relation_key)
            spans, relations = _counts(span_changes), _counts(relation_changes)
            if spans != unchanged or relations != unchanged:
                diff.documents_annotation_changed.append(doc_id)
                if detail is None or len(detailed) < detail:
                    detailed.append((doc_id, span_changes, relation_changes))
        for total, part in ((diff.spans, spans), (diff.relations, relations)):
            total.added += part.added
            total.removed += part.removed
            total.relabelled += part.relabelled
    for before, after, target in ((old_release.entity_labels, new_release.entity_labels, diff.entity_labels),
                                  (old_release.relation_labels, new_release.relation_labels, diff.relation_labels)):
        for label in sorted(set(before) | set(after)):
            target[label] = (before[label], after[label])
    empty = {"documents": 0, "entities": 0, "relations": 0}
    for split in dict.fromkeys(old_release.splits + new_release.splits):
        before, after = old_release.split_counts.get(split, empty), new_release.split_counts.get(split, empty)
        diff.splits[split] = {what: (before[what], after[what]) for what in empty}
    diff.document_changes = _describe(detailed, new_release)
    shown = diff.text_changes if detail is None else diff.text_changes[:detail]
    if shown:
        ids = [t.id for t in shown]
        old_texts, new_texts = _read_texts(old_release, ids), _read_texts(new_release, ids)
        for k, change in enumerate(shown):
            if change.id in old_texts and change.id in new_texts:
                offset, before, after = first_difference(old_texts[change.id], new_texts[change.id])
                diff.text_changes[k] = TextChange(change.id, change.split, change.old_sha256, change.new_sha256,
                                                  offset, before, after)
    return diff


def _describe(detailed: list, release: LoadedRelease) -> list[DocumentChanges]:
    """The changes of a few documents with their texts (the text at the offsets, equal in both releases)."""
    texts = _read_texts(release, [doc_id for doc_id, _, _ in detailed])
    out = []
    for doc_id, (s_added, s_removed, s_relabelled), (r_added, r_removed, r_relabelled) in detailed:
        text = texts.get(doc_id, "")
        doc = DocumentChanges(doc_id, release.docs[doc_id].split)
        spans = ([(s, e, None, label) for s, e, label in s_added] + [(s, e, label, None) for s, e, label in s_removed]
                 + [(s, e, old, new) for (s, e, old), (_, _, new) in s_relabelled])
        for s, e, old, new in sorted(spans, key=lambda x: (x[0], x[1], x[2] or "", x[3] or "")):
            doc.spans.append(SpanChange(s, e, text[s:e], old, new))
        relations = ([(h, t, None, label) for h, t, label in r_added]
                     + [(h, t, label, None) for h, t, label in r_removed]
                     + [(h, t, old, new) for (h, t, old), (_, _, new) in r_relabelled])
        for h, t, old, new in sorted(relations, key=lambda x: (x[0], x[1], x[2] or "", x[3] or "")):
            doc.relations.append(RelationChange(h, t, text[h[0]:h[1]], text[t[0]:t[1]], old, new))
        out.append(doc)
    return out

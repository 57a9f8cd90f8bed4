"""What changed between two release folders: :func:`diff_releases`.

Documents are matched by id, entity spans by their offsets within a document whose text did not
change, relations by the offsets of their head and tail spans (span ids may change between
exports, offsets may not).  A span at the same offsets with another label is *relabelled*; the
same holds for a relation between the same two spans.  When a document's text changed, its old
spans and relations count as removed and its new ones as added, so ``old - removed + added ==
new`` holds for every count.  Labels are compared by name (from each release's own Features),
so a diff across ontology versions stays meaningful.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from corpus_tools.release import read_manifest

Pair = tuple[int, int]


@dataclass
class _Doc:
    split: str
    text_sha256: bytes
    spans: Counter[tuple[int, int, str]]
    relations: Counter[tuple[Pair, Pair, str]]


@dataclass
class ChangeCounts:
    added: int = 0
    removed: int = 0
    relabelled: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"added": self.added, "removed": self.removed, "relabelled": self.relabelled}


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

    @property
    def changed(self) -> bool:
        return bool(self.documents_added or self.documents_removed or self.documents_text_changed
                    or self.documents_annotation_changed or self.documents_moved)

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
        return rows


def _label_names(schema) -> tuple[list[str], list[str]]:
    """The ClassLabel names of ``entities.label`` and ``relations.label``: read from the ``huggingface``
    schema metadata in the shapes datasets writes (importing datasets costs a second), else by datasets."""
    try:
        features = json.loads((schema.metadata or {})[b"huggingface"])["info"]["features"]
        return _classlabel_names(features["entities"]), _classlabel_names(features["relations"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        pass
    from datasets import Features

    features = Features.from_arrow_schema(schema)
    return list(features["entities"].feature["label"].names), list(features["relations"].feature["label"].names)


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
    directory: Path, *, version: str | None = None, files: dict[str, list[str]] | None = None
) -> tuple[str, dict[str, _Doc], list[str]]:
    """The version, the documents (by id) and the split order of a release folder.

    ``version`` and ``files`` (documents files per split) replace the manifest for a folder that
    has none yet (a build in progress).
    """
    import pyarrow.parquet as pq

    if files is None or version is None:
        manifest = read_manifest(directory)
        version = str(manifest["version"])
        files = {split: entry["files"] for split, entry in manifest["configs"].get("documents", {}).items()}
    docs: dict[str, _Doc] = {}
    splits = list(files)
    for split in splits:
        for rel in files[split]:
            pf = pq.ParquetFile(Path(directory) / rel)
            entity_names, relation_names = _label_names(pf.schema_arrow)
            for batch in pf.iter_batches(batch_size=2_000, columns=["id", "text", "entities", "relations"]):
                for doc_id, text, entities, relations in zip(
                    batch.column("id").to_pylist(), batch.column("text").to_pylist(),
                    batch.column("entities").to_pylist(), batch.column("relations").to_pylist(), strict=True,
                ):
                    offsets = {e["id"]: (e["start"], e["end"]) for e in entities}
                    spans = Counter((e["start"], e["end"], entity_names[e["label"]]) for e in entities)
                    rels = Counter(
                        (offsets[r["head"]], offsets[r["tail"]], relation_names[r["label"]])
                        for r in relations
                        if r["head"] in offsets and r["tail"] in offsets
                    )
                    docs[doc_id] = _Doc(split, hashlib.sha256(text.encode("utf-8")).digest(), spans, rels)
    return version, docs, splits


def _compare(old: Counter, new: Counter, key) -> ChangeCounts:
    """Added, removed and relabelled items between two multisets of (…, label) tuples."""
    common = old & new
    old_rest, new_rest = old - common, new - common
    by_key_old: Counter = Counter()
    by_key_new: Counter = Counter()
    for item, n in old_rest.items():
        by_key_old[key(item)] += n
    for item, n in new_rest.items():
        by_key_new[key(item)] += n
    relabelled = sum((by_key_old & by_key_new).values())
    return ChangeCounts(
        added=sum(new_rest.values()) - relabelled,
        removed=sum(old_rest.values()) - relabelled,
        relabelled=relabelled,
    )


def diff_releases(old_dir: str | Path, new_dir: str | Path) -> ReleaseDiff:
    """Compare two release folders (raises :class:`~corpus_tools.errors.ReleaseError` if one is not a release)."""
    return diff_loaded(load_documents(Path(old_dir)), load_documents(Path(new_dir)))


def diff_loaded(
    old_release: tuple[str, dict[str, _Doc], list[str]], new_release: tuple[str, dict[str, _Doc], list[str]]
) -> ReleaseDiff:
    """Compare two releases loaded with :func:`load_documents`."""
    old_version, old, old_splits = old_release
    new_version, new, new_splits = new_release
    diff = ReleaseDiff(old_version=old_version, new_version=new_version)
    diff.documents_added = sorted(set(new) - set(old))
    diff.documents_removed = sorted(set(old) - set(new))
    span_key = lambda s: (s[0], s[1])  # noqa: E731
    relation_key = lambda r: (r[0], r[1])  # noqa: E731
    for doc_id in diff.documents_added:
        diff.spans.added += sum(new[doc_id].spans.values())
        diff.relations.added += sum(new[doc_id].relations.values())
    for doc_id in diff.documents_removed:
        diff.spans.removed += sum(old[doc_id].spans.values())
        diff.relations.removed += sum(old[doc_id].relations.values())
    for doc_id in sorted(set(old) & set(new)):
        a, b = old[doc_id], new[doc_id]
        if a.split != b.split:
            diff.documents_moved.append({"id": doc_id, "old": a.split, "new": b.split})
        if a.text_sha256 != b.text_sha256:
            diff.documents_text_changed.append(doc_id)
            spans = ChangeCounts(added=sum(b.spans.values()), removed=sum(a.spans.values()))
            relations = ChangeCounts(added=sum(b.relations.values()), removed=sum(a.relations.values()))
        else:
            spans = _compare(a.spans, b.spans, span_key)
            relations = _compare(a.relations, b.relations, relation_key)
            if spans != ChangeCounts() or relations != ChangeCounts():
                diff.documents_annotation_changed.append(doc_id)
        for total, part in ((diff.spans, spans), (diff.relations, relations)):
            total.added += part.added
            total.removed += part.removed
            total.relabelled += part.relabelled

    def per_label(docs: dict[str, _Doc], attr: str) -> Counter[str]:
        counts: Counter[str] = Counter()
        for doc in docs.values():
            for item, n in getattr(doc, attr).items():
                counts[item[-1]] += n
        return counts

    for attr, target in (("spans", diff.entity_labels), ("relations", diff.relation_labels)):
        before, after = per_label(old, attr), per_label(new, attr)
        for label in sorted(set(before) | set(after)):
            target[label] = (before[label], after[label])
    for split in list(dict.fromkeys(old_splits + new_splits)):
        counts = {}
        for what, fn in (
            ("documents", lambda d: 1),
            ("entities", lambda d: sum(d.spans.values())),
            ("relations", lambda d: sum(d.relations.values())),
        ):
            counts[what] = (
                sum(fn(d) for d in old.values() if d.split == split),
                sum(fn(d) for d in new.values() if d.split == split),
            )
        diff.splits[split] = counts
    return diff

"""What a release holds, counted while it is built: per split, per label, gold sources, agreement (its
counts come from the teams stage, through :class:`AgreementFigures`).

The build counts each segment of its input on its own (in worker processes) and merges the parts in
input order (:meth:`ReleaseStats.merge`); the card (:mod:`corpus_tools.release.card`) shows the result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class ViewCounts:
    """Per-split statistics of one normalised view (``documents-NAME``, ``tokens-NAME``)."""

    tokens: int = 0
    vanished: Counter[str] = field(default_factory=Counter)  # entities every character of which the view deletes
    widened: Counter[str] = field(default_factory=Counter)
    unencodable: Counter[str] = field(default_factory=Counter)

    def merge(self, other: ViewCounts) -> None:
        self.tokens += other.tokens
        self.vanished.update(other.vanished)
        self.widened.update(other.widened)
        self.unencodable.update(other.unencodable)

    def to_dict(self) -> dict[str, object]:
        return {"tokens": self.tokens, "vanished_per_label": dict(sorted(self.vanished.items())),
                "widened_per_label": dict(sorted(self.widened.items())),
                "unencodable_per_label": dict(sorted(self.unencodable.items()))}


@dataclass
class SplitCounts:
    """Per-split statistics for the card."""

    documents: int = 0
    tokens: int = 0
    entities: Counter[str] = field(default_factory=Counter)
    relations: Counter[str] = field(default_factory=Counter)
    unencodable: Counter[str] = field(default_factory=Counter)  # spans BIO cannot hold (nested, overlapping)
    widened: Counter[str] = field(default_factory=Counter)  # spans the tokens config widened to token edges
    views: dict[str, ViewCounts] = field(default_factory=dict)  # per view name

    def view(self, name: str) -> ViewCounts:
        counts = self.views.get(name)
        if counts is None:
            counts = self.views[name] = ViewCounts()
        return counts

    def merge(self, other: SplitCounts) -> None:
        """Add ``other``'s counts to these."""
        for name, counts in other.views.items():
            self.view(name).merge(counts)
        self.documents += other.documents
        self.tokens += other.tokens
        self.entities.update(other.entities)
        self.relations.update(other.relations)
        self.unencodable.update(other.unencodable)
        self.widened.update(other.widened)

    def to_dict(self) -> dict[str, object]:
        views = {"views": {name: c.to_dict() for name, c in sorted(self.views.items())}} if self.views else {}
        return {
            "documents": self.documents,
            "tokens": self.tokens,
            "entities": sum(self.entities.values()),
            "relations": sum(self.relations.values()),
            "unencodable_spans": sum(self.unencodable.values()),
            "widened_spans": sum(self.widened.values()),
            "entities_per_label": dict(sorted(self.entities.items())),
            "relations_per_label": dict(sorted(self.relations.items())),
            "unencodable_per_label": dict(sorted(self.unencodable.items())),
            "widened_per_label": dict(sorted(self.widened.items())),
            **views,
        }


class AgreementFigures(Protocol):
    """What the release needs of the agreement between annotators (the build gives
    :class:`corpus_tools.teams.agreement.AgreementReport`, a stage above this one): counts that merge, their
    figures as a dict, and the card's lines."""

    def merge(self, other: Any) -> None: ...

    def to_dict(self) -> dict[str, object]: ...

    def card_lines(self, entity_labels: Sequence[str], relation_labels: Sequence[str]) -> list[str]: ...


@dataclass
class ReleaseStats:
    """Everything the card reports about the data, collected while building."""

    splits: dict[str, SplitCounts] = field(default_factory=dict)
    tasks: int = 0
    gold_sources: Counter[str] = field(default_factory=Counter)
    left_out: Counter[str] = field(default_factory=Counter)
    annotations: int = 0
    cancelled: int = 0
    annotators: Counter[str] = field(default_factory=Counter)
    agreement: AgreementFigures | None = None  # None: no Label Studio export was read (document JSONL)
    duplicate_texts: int = 0
    near_duplicate_texts: int = 0  # pairs of documents of one split with nearly the same text

    def split(self, name: str) -> SplitCounts:
        counts = self.splits.get(name)
        if counts is None:
            counts = self.splits[name] = SplitCounts()
        return counts

    def merge(self, other: ReleaseStats) -> None:
        """Add the statistics of another part of the same release (a later segment of the input) to these."""
        for name, counts in other.splits.items():
            self.split(name).merge(counts)
        self.tasks += other.tasks
        self.gold_sources.update(other.gold_sources)
        self.left_out.update(other.left_out)
        self.annotations += other.annotations
        self.cancelled += other.cancelled
        self.annotators.update(other.annotators)
        if self.agreement is None:
            self.agreement = other.agreement
        elif other.agreement is not None:
            self.agreement.merge(other.agreement)
        self.duplicate_texts += other.duplicate_texts
        self.near_duplicate_texts += other.near_duplicate_texts

    @property
    def documents(self) -> int:
        return sum(s.documents for s in self.splits.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "tasks": self.tasks,
            "documents": self.documents,
            "splits": {name: counts.to_dict() for name, counts in self.splits.items()},
            "gold_sources": dict(sorted(self.gold_sources.items())),
            "left_out": dict(sorted(self.left_out.items())),
            "annotations": self.annotations,
            "cancelled_annotations": self.cancelled,
            "annotators": len(self.annotators),
            "agreement": self.agreement.to_dict() if self.agreement is not None else None,
            "duplicate_texts_within_split": self.duplicate_texts,
            "near_duplicate_pairs_within_split": self.near_duplicate_texts,
        }

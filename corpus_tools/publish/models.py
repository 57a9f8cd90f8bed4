"""What a publish plans and returns, and what a target lists: plain dataclasses with ``to_dict``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from corpus_tools.report import Report

Progress = Callable[[str], None]


@dataclass
class PublishPlan:
    """The changes one publish makes: files added, replaced and deleted, and the tag or folder it creates."""

    target: str
    kind: str  # "local" | "hub"
    name: str
    version: str  # the tag / folder name, e.g. "v1.2.0"
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    create_repo: bool = False  # hub: the repository does not exist yet
    parent_commit: str | None = None  # hub: the head of main the commit is built on
    resume: bool = False  # hub: main already carries exactly this release; only the tag is missing
    card_kept: list[str] = field(default_factory=list)  # hub: card metadata kept from the repository
    card_kept_sections: list[str] = field(default_factory=list)  # hub: maintainer blocks kept from the repository
    readme_sha256: str | None = None  # sha256 of README.md as published (differs from the manifest when merged)

    @property
    def tag(self) -> str:
        return self.version

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "tag": self.tag,
            "create_repo": self.create_repo,
            "parent_commit": self.parent_commit,
            "resume": self.resume,
            "added": self.added,
            "replaced": self.replaced,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "card_kept": self.card_kept,
            "card_kept_sections": self.card_kept_sections,
            "readme_sha256": self.readme_sha256,
        }


@dataclass
class PublishResult:
    """The outcome of :func:`corpus_tools.publish.publish_release`."""

    plan: PublishPlan
    dry_run: bool
    location: str  # local version folder, or the Hub repository URL
    load_line: str  # the exact load_dataset line for this version
    commit: str | None = None  # hub: the commit the tag points at
    verification: Report | None = None  # None for a dry run
    published_at: str | None = None
    warnings: list[str] = field(default_factory=list)  # the version is published; something after it was not done


    @property
    def published(self) -> bool:
        return not self.dry_run

    def to_dict(self) -> dict[str, object]:
        return {
            "published": self.published,
            "dry_run": self.dry_run,
            "location": self.location,
            "commit": self.commit,
            "published_at": self.published_at,
            "load_line": self.load_line,
            "plan": self.plan.to_dict(),
            "verification": self.verification.to_dict() if self.verification is not None else None,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class PublishedVersion:
    """One version in a target, as :func:`corpus_tools.publish.list_releases` lists it."""

    version: str
    date: str | None  # ISO 8601, UTC
    counts: dict[str, dict[str, int]]  # config -> split -> num_examples, from the version's manifest
    manifest_sha256: str | None
    location: str  # local folder or hf://datasets/ORG/NAME@vX.Y.Z
    commit: str | None = None
    note: str | None = None  # why the counts are unknown (no manifest.json, or an unreadable one)

    def to_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "date": self.date,
            "counts": self.counts,
            "manifest_sha256": self.manifest_sha256,
            "location": self.location,
            "commit": self.commit,
            "note": self.note,
        }


@dataclass(frozen=True)
class Release:
    """A checked release folder, ready to publish."""

    path: Path
    manifest: dict
    manifest_bytes: bytes
    files: dict[str, str]  # relpath -> sha256, every file of the release including manifest.json

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.path.name)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return manifest_counts(self.manifest)


def manifest_counts(manifest: object) -> dict[str, dict[str, int]]:
    """config -> split -> num_examples from a manifest's ``configs``.

    Raises ValueError, naming the place, when the manifest has another shape (a published version's
    manifest.json is read as it is found: it may have been edited or not written by corpus-tools).
    """
    configs = manifest.get("configs") if isinstance(manifest, dict) else None
    if not isinstance(configs, dict):
        raise ValueError("it is not an object with a configs object" if not isinstance(manifest, dict)
                         else "configs is not an object")
    counts: dict[str, dict[str, int]] = {}
    for config, splits in configs.items():
        if not isinstance(splits, dict):
            raise ValueError(f"configs.{config} is not an object")
        counts[config] = {}
        for split, info in splits.items():
            number = info.get("num_examples") if isinstance(info, dict) else None
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise ValueError(f"configs.{config}.{split}.num_examples is {json.dumps(number)}, not a count")
            counts[config][split] = number
    return counts

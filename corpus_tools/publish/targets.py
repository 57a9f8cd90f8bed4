"""Where releases go: parse ``./releases/NAME`` vs ``hf://datasets/ORG/NAME``, and semver versions.

A *target* names a place that holds every version of one dataset.  A trailing ``@vX.Y.Z`` names one
published version in it (``hf://datasets/ORG/NAME@v1.0.0``, ``./releases/NAME@v1.0.0``); a local
version folder (``./releases/NAME/v1.0.0``) needs no ``@``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering
from pathlib import Path
from typing import Literal

from corpus_tools.errors import InputError

HUB_PREFIX = "hf://datasets/"
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
# semver 2.0.0 core with an optional pre-release; build metadata (+...) is not allowed in tags or folder names.
_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(rf"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-({_IDENT}(?:\.{_IDENT})*))?", re.ASCII)


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version; ``str()`` is the tag form ``vX.Y.Z[-pre]``; ordering follows semver precedence."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        return str(self)

    def __str__(self) -> str:
        pre = "-" + ".".join(self.prerelease) if self.prerelease else ""
        return f"v{self.major}.{self.minor}.{self.patch}{pre}"

    def _key(self) -> tuple:
        # A release sorts after its pre-releases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()


def parse_version(text: str) -> Version:
    """``"1.2.0"`` or ``"v1.2.0"`` (optionally ``-rc.1``) -> :class:`Version`; anything else is an InputError."""
    match = _SEMVER.fullmatch(text.strip())
    if not match:
        raise InputError(f"version {text!r} is not a semantic version such as 1.2.0 or v1.2.0")
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())


def try_parse_version(text: str) -> Version | None:
    try:
        return parse_version(text)
    except InputError:
        return None


@dataclass(frozen=True)
class Target:
    """A publish target: a local folder of versions or a Hub dataset repository, maybe with one version."""

    kind: Literal["local", "hub"]
    path: Path | None = None  # local: the NAME folder that holds vX.Y.Z/ folders and index.json
    repo_id: str | None = None  # hub: ORG/NAME
    version: Version | None = None  # set when the text named one version

    def __str__(self) -> str:
        base = f"{HUB_PREFIX}{self.repo_id}" if self.kind == "hub" else str(self.path)
        return base + (f"@{self.version}" if self.version else "")

    @property
    def is_hub(self) -> bool:
        return self.kind == "hub"

    def with_version(self, version: Version) -> Target:
        return Target(self.kind, self.path, self.repo_id, version)


def is_hub_text(text: str) -> bool:
    """Text that names a Hub address, maybe mistyped: it starts with ``hf:`` in any case (:func:`parse_target`
    accepts only ``hf://datasets/ORG/NAME`` of those, and never takes one as a local folder)."""
    return text.strip()[:3].lower() == "hf:"


def parse_target(text: str) -> Target:
    """Parse ``hf://datasets/ORG/NAME[@vX.Y.Z]`` or a local path ``DIR[@vX.Y.Z]`` / ``DIR/vX.Y.Z``.

    Raises :class:`InputError` for a malformed Hub address (models or spaces, no ``ORG/NAME``, bad version); any
    text starting with ``hf:`` in any case is a Hub address, so ``HF://...`` or ``hf:/...`` is refused rather than
    taken as a local folder.
    """
    text = text.strip()
    if not text:
        raise InputError("empty target: give a folder such as ./releases/NAME or hf://datasets/ORG/NAME")
    base, version = text, None
    if "@" in text:
        base, _, rev = text.rpartition("@")
        version = parse_version(rev)
    if is_hub_text(base):  # a Hub address, maybe mistyped: never taken as a local folder
        if not base.startswith("hf://"):
            raise InputError(f"{base!r} is not a Hub address: write {HUB_PREFIX}ORG/NAME (lower-case hf, two slashes)"
                             f" for a Hub dataset repository, or ./{base} for a local folder")
        if not base.startswith(HUB_PREFIX):
            raise InputError(f"only dataset repositories can be targets: use {HUB_PREFIX}ORG/NAME, not {base!r}")
        repo_id = base[len(HUB_PREFIX):].strip("/")
        if not _REPO_ID.fullmatch(repo_id):
            raise InputError(f"{base!r} does not name a dataset repository: use {HUB_PREFIX}ORG/NAME")
        return Target("hub", repo_id=repo_id, version=version)
    path = Path(base)
    if version is None and (named := try_parse_version(path.name)) is not None and path.name.startswith("v"):
        return Target("local", path=path.parent, version=named)
    return Target("local", path=path, version=version)

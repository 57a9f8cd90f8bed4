"""Where releases go: parse ``./releases/NAME`` vs ``hf://datasets/ORG/NAME``.

A *target* names a place that holds every version of one dataset.  A trailing ``@vX.Y.Z`` names one
published version in it (``hf://datasets/ORG/NAME@v1.0.0``, ``./releases/NAME@v1.0.0``); a local
version folder (``./releases/NAME/v1.0.0``) needs no ``@``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corpus_tools.errors import InputError
from corpus_tools.release.version import Version, parse_version, try_parse_version

HUB_PREFIX = "hf://datasets/"
SUPPORTED = f"a local folder (./releases/NAME, ./releases/NAME/vX.Y.Z) or {HUB_PREFIX}ORG/NAME"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # a URL scheme (RFC 3986) and "//"
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


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
    taken as a local folder.  Any other URL (``SCHEME://...``: ftp, http, https, s3, file...) is refused too,
    never taken as a local folder named after it; a local folder is written as a path (``name:with:colons`` is
    one).
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
    if _URL.match(base):
        scheme = base.split(":", 1)[0]
        raise InputError(f"{base!r} is a {scheme}:// URL, which is not a publish target: give {SUPPORTED}")
    if "\0" in base:  # no path can hold one: say so here rather than let the file system raise ValueError later
        raise InputError(f"the target {base!r} holds a NUL byte, which no folder name can: give {SUPPORTED}")
    path = Path(base)
    if version is None and (named := try_parse_version(path.name)) is not None and path.name.startswith("v"):
        return Target("local", path=path.parent, version=named)
    return Target("local", path=path, version=version)

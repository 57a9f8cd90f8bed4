"""Release versions: semver ``MAJOR.MINOR.PATCH`` with an optional pre-release, written ``vX.Y.Z[-pre]`` as a tag.

``build`` writes ``MAJOR.MINOR.PATCH`` only (:func:`parse_release_version`, as the manifest schema
does); ``publish`` also orders versions it finds (tags, folders), pre-releases included
(:func:`parse_version`).  Build metadata (``+...``) is never allowed: tags and folder names cannot hold it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from corpus_tools.errors import InputError

_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
# ASCII digits, no leading zero; semver 2.0.0 core with an optional pre-release.
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


def match_version(text: str) -> Version | None:
    """``text`` exactly (nothing around it) as a :class:`Version`, or None."""
    match = _SEMVER.fullmatch(text)
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())


def try_parse_version(text: str) -> Version | None:
    """``"1.2.0"`` or ``"v1.2.0"`` (optionally ``-rc.1``, spaces around ignored) as a :class:`Version`, or None."""
    return match_version(text.strip())


def parse_version(text: str) -> Version:
    """:func:`try_parse_version`, with an InputError for anything that is not a version."""
    version = try_parse_version(text)
    if version is None:
        raise InputError(f"version {text!r} is not a semantic version such as 1.2.0 or v1.2.0")
    return version


def parse_release_version(text: str) -> Version:
    """The version of a release ``build`` writes: ``1.2.3`` or ``v1.2.3``; ValueError for anything else (a
    pre-release, ``01.0.0`` too: publish takes semver only)."""
    version = try_parse_version(text)
    if version is None or version.prerelease:
        raise ValueError(f"version must be MAJOR.MINOR.PATCH (e.g. 1.0.0), got {text!r}")
    return version

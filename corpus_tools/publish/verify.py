"""Compare the files of a published version with what was meant to be published.

Used twice: on the local temp folder before it is renamed into place, and on a fresh download of a Hub
commit before (and again after) it is tagged.  Differences are problems in a :class:`Report`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.text import sha256_file  # noqa: F401  (re-exported: publish callers hash files here)

PUBLISHED_FILE_MISSING = define_code(
    "published-file-missing", "error",
    "A file of the release is missing from the published version; publish again (nothing was tagged).",
    stage="publish",
)
PUBLISHED_FILE_MISMATCH = define_code(
    "published-file-mismatch", "error",
    "A published file's sha256 differs from the release manifest; publish again (nothing was tagged).",
    stage="publish",
)
PUBLISHED_FILE_UNEXPECTED = define_code(
    "published-file-unexpected", "warning",
    "The published version holds a file that is not part of the release.",
    stage="publish",
)

def git_blob_sha1(path: Path | None = None, data: bytes | None = None) -> str:
    """The git object id of a file's content (what the Hub reports as ``blob_id`` for non-LFS files)."""
    if data is None:
        assert path is not None
        data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def list_files(folder: Path) -> list[str]:
    """Every regular file under ``folder`` as a POSIX relative path, sorted (symlinks followed)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def verify_folder(
    folder: Path,
    expected: Mapping[str, str],
    *,
    ignore: frozenset[str] = frozenset(),
    label: str = "",
) -> Report:
    """Check that ``folder`` holds exactly the files in ``expected`` (relpath -> sha256) with those hashes.

    Files in ``ignore`` (e.g. ``.gitattributes`` on the Hub) may be present or not.  ``label`` names the
    published version in problem locations (``hf://datasets/ORG/NAME@v1.0.0``).
    """
    report = Report()
    present = set(list_files(folder))
    where = (label.rstrip("/") + "/") if label else ""
    for rel, sha in sorted(expected.items()):
        if rel not in present:
            report.add(make_problem(PUBLISHED_FILE_MISSING, f"{rel} is missing from the published version.",
                                    file=where + rel))
            continue
        actual = sha256_file(folder / rel)
        if actual != sha:
            report.add(make_problem(
                PUBLISHED_FILE_MISMATCH, f"{rel} has sha256 {actual[:12]}…, the release has {sha[:12]}….",
                file=where + rel, details={"expected": sha, "actual": actual},
            ))
    for rel in sorted(present - set(expected) - ignore):
        report.add(make_problem(PUBLISHED_FILE_UNEXPECTED, f"{rel} is not part of the release.", file=where + rel))
    report.stats = {"files": len(expected), "checked": len(present & set(expected))}
    return report

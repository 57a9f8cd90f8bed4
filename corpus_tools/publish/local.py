"""Local target: ``NAME/vX.Y.Z/`` folders (read-only) plus ``NAME/index.json``.

A publish holds ``NAME/.lock`` (there only while a publish runs), copies the release into a hidden
``NAME/.tmp-vX.Y.Z-*`` folder, verifies every file's sha256 against the manifest, makes it read-only and
renames it to ``NAME/vX.Y.Z`` (one
``rename``: the version folder is either absent or complete).  ``index.json`` is then replaced
atomically.  The folders are the truth: a version folder missing from the index (a crash between the
rename and the index write) is added back on the next publish and listed anyway.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from corpus_tools.errors import PublishError, VerificationFailed, VersionExists, VersionNotIncreasing
from corpus_tools.files import AtomicFile, current_umask, remove_tree, rename_no_replace
from corpus_tools.publish.models import (
    Progress,
    PublishedVersion,
    PublishPlan,
    PublishResult,
    Release,
    manifest_counts,
)
from corpus_tools.publish.targets import Target
from corpus_tools.publish.verify import verify_folder
from corpus_tools.release.version import Version, parse_version, try_parse_version
from corpus_tools.report import Report
from corpus_tools.text import sha256_bytes

INDEX = "index.json"
LOCK = ".lock"
TMP_PREFIX = ".tmp-"
INDEX_FORMAT = 1


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _display(path: Path) -> str:
    text = path.as_posix()
    return text if path.is_absolute() or text.startswith(".") else "./" + text


def _version_folders(root: Path) -> dict[Version, Path]:
    if not root.is_dir():
        return {}
    found: dict[Version, Path] = {}
    for child in root.iterdir():
        if child.is_dir() and child.name.startswith("v") and (version := try_parse_version(child.name)):
            found[version] = child
    return found


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, int | float):
        return f"the number {json.dumps(value)}"
    if isinstance(value, str):
        return f"the string {json.dumps(value, ensure_ascii=False)[:60]}"
    return {dict: "an object", list: "a list"}.get(type(value), "null")


def _index_problem(data: object) -> str | None:
    """What is wrong with the shape of a parsed index.json, or None when it is one corpus-tools writes."""
    if not isinstance(data, dict):
        return f"it holds {_json_kind(data)}, not an object with a versions list"
    versions = data.get("versions", [])
    if not isinstance(versions, list):
        return f"versions is {_json_kind(versions)}, not a list"
    for i, entry in enumerate(versions):
        where = f"versions[{i}]"
        if not isinstance(entry, dict):
            return f"{where} is {_json_kind(entry)}, not an object"
        version = entry.get("version")
        parsed = try_parse_version(version) if isinstance(version, str) else None
        if parsed is None or str(parsed) != version:
            return f"{where}.version is {_json_kind(version)}, not a version folder name such as v1.0.0"
        for key in ("published_at", "name", "manifest_sha256"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                return f"{where}.{key} is {_json_kind(entry[key])}, not a string"
        counts = entry.get("counts") or {}
        if not isinstance(counts, dict) or not all(
            isinstance(splits, dict) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                             for n in splits.values())
            for splits in counts.values()
        ):
            return f"{where}.counts is not an object of configs, each an object of splits and their counts"
    return None


def read_index(root: Path) -> dict:
    """``NAME/index.json`` checked for the shape corpus-tools writes (PublishError otherwise, naming what is
    wrong); an empty index when there is none."""
    path = root / INDEX
    if not path.exists() and not path.is_symlink():
        return {"format": INDEX_FORMAT, "versions": []}
    advice = ("remove it (versions are then listed from their folders, which are the truth) and the next publish "
              "writes it again")
    if not path.is_file():
        what = "a dangling symbolic link" if path.is_symlink() and not path.exists() else "not a file"
        raise PublishError(f"{path} is {what}: {advice}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PublishError(f"{path} is unreadable ({exc}): {advice}") from exc
    problem = _index_problem(data)
    if problem is not None:
        raise PublishError(f"{path} is not an index of versions: {problem}; {advice}")
    data.setdefault("versions", [])
    return data


def _entry(folder: Path, *, date: str | None, version: str | None = None) -> dict:
    """The index entry of a version folder.  A manifest.json that cannot be read (edited by hand, not written by
    corpus-tools) gives counts ``{}`` and a ``note`` saying why; such an entry is listed but never indexed."""
    manifest_path = folder / "manifest.json"
    entry: dict = {"version": version or folder.name, "published_at": date, "name": None, "manifest_sha256": None,
                   "counts": {}}
    try:
        raw = manifest_path.read_bytes()
        entry["manifest_sha256"] = sha256_bytes(raw)
        manifest = json.loads(raw.decode("utf-8"))
        entry["counts"] = manifest_counts(manifest)
        entry["name"] = manifest.get("name") if isinstance(manifest.get("name"), str) else None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        entry["counts"] = {}
        entry["note"] = f"{_display(manifest_path)} is unreadable ({reason}): counts unknown"
    return entry


def _reconciled_entries(root: Path) -> list[dict]:
    """Index entries, plus an entry for every version folder the index lacks, sorted by version."""
    entries = {e["version"]: e for e in read_index(root)["versions"]}
    for version, folder in _version_folders(root).items():
        if str(version) not in entries and (folder / "manifest.json").is_file():
            mtime = datetime.fromtimestamp(folder.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            entries[str(version)] = _entry(folder, date=mtime)
    return sorted(entries.values(), key=lambda e: parse_version(e["version"]))


def _write_json_atomic(path: Path, data: object) -> None:
    # the umask's permissions, like the version folders; the prefix lets the next publish remove what a crash left
    with AtomicFile(path, fsync=True, prefix=TMP_PREFIX, suffix=".json") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _make_read_only(folder: Path) -> None:
    """Files ``0o444`` and folders ``0o555``, less the umask (0444/0555 under umask 022, 0400/0500 under 077)."""
    umask = current_umask()
    for dirpath, _dirnames, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444 & ~umask)
        os.chmod(dirpath, 0o555 & ~umask)


def _check_version(version: Version, existing: list[Version], target: Target) -> None:
    if version in existing:
        raise VersionExists(
            f"{version} is already published at {target.path}/{version}; published versions never change. "
            "Build the release with a higher version."
        )
    if existing and version < max(existing):
        raise VersionNotIncreasing(
            f"{version} is not above the latest published version {max(existing)} in {target.path}; "
            "versions must increase."
        )


def _known_versions(root: Path, entries: list[dict]) -> list[Version]:
    return sorted(set(_version_folders(root)) | {parse_version(e["version"]) for e in entries})


def _check_root(root: Path) -> None:
    if root.is_symlink() and not root.exists():
        raise PublishError(f"cannot write to {_display(root)}: it is a dangling symbolic link (to "
                           f"{os.readlink(root)}); remove the link or make it point at a folder")


def publish_to_folder(
    release: Release, version: Version, target: Target, *, dry_run: bool, progress: Progress | None, config: str
) -> PublishResult:
    """Publish ``release`` as the read-only folder ``NAME/vX.Y.Z`` of the local target, under its lock."""
    assert target.path is not None
    root = target.path
    tag = str(version)
    location = root / tag
    plan = PublishPlan(target=_display(root), kind="local", name=release.name, version=tag,
                       added=sorted(release.files), readme_sha256=release.files.get("README.md"))
    load_line = f'load_dataset("{_display(location)}", "{config}")'
    _check_root(root)
    if dry_run:
        _check_version(version, _known_versions(root, _reconciled_entries(root)), target)
        return PublishResult(plan=plan, dry_run=True, location=_display(location), load_line=load_line)
    note = progress or (lambda _message: None)
    lock = _TargetLock.take(root)
    try:
        # Everything that can fail is read before the rename: the index (its shape is checked) and the other
        # versions (an unreadable manifest.json of one gives an entry without counts, never a failure).
        entries = [e for e in _reconciled_entries(root) if "note" not in e]
        _check_version(version, _known_versions(root, entries), target)
        entry, report = _copy_in(release, root, location, note)
    except OSError as exc:
        lock.release()
        raise PublishError(f"publishing to {root} failed: {exc}; nothing was published") from exc
    except BaseException:
        lock.release()
        raise
    # From here on the version IS published: a failure only leaves the index behind, which the folders make up for.
    try:
        _fsync_dir(root)
        published_at = entry["published_at"] = _now()
        warnings = _write_index(root, release.name, [e for e in entries if e["version"] != tag] + [entry], location)
        note(f"published {tag}")
    finally:
        lock.release()
    return PublishResult(plan=plan, dry_run=False, location=_display(location), load_line=load_line,
                         verification=report, published_at=published_at, warnings=warnings)


class _TargetLock:
    """The target's lock: an ``flock`` on ``NAME/.lock`` (one publish at a time; the kernel drops it when the
    process dies).  The file is there only while a publish runs: the holder removes it before it lets go, and a
    publish that locked a file removed meanwhile locks the new one, so no ``.lock`` is left beside the versions."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    @classmethod
    def take(cls, root: Path) -> _TargetLock:
        """The lock, held; the target folder is made first.  Refused when another publish holds it."""
        path = root / LOCK
        try:
            root.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    try:
                        if os.path.samestat(os.fstat(fd), os.stat(path)):
                            return cls(path, fd)
                    except FileNotFoundError:
                        pass
                except BaseException:
                    os.close(fd)
                    raise
                os.close(fd)  # its holder removed it as it finished: lock the file there now
        except BlockingIOError as exc:
            raise PublishError(f"another publish to {root} is running (lock {path})") from exc
        except OSError as exc:
            raise PublishError(f"cannot write to {root}: {exc.strerror or exc}") from exc

    def release(self) -> None:
        """Remove the lock file, then let go (in that order: no one can lock the name's old file in between)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only target: the file stays, and the next publish locks it as usual
        finally:
            os.close(self._fd)


def _copy_in(release: Release, root: Path, location: Path, note: Progress) -> tuple[dict, Report]:
    """Copy the release into a hidden folder of ``root``, verify the copy, make it read-only and rename it to
    ``location`` (never over an existing folder); its index entry and the verification report."""
    tag = location.name
    for stale in root.glob(TMP_PREFIX + "*"):  # left by an interrupted publish; never a version
        if stale.is_dir():
            remove_tree(stale)
        else:
            stale.unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{tag}-", dir=root))
    try:
        for rel in sorted(release.files):
            note(f"copy {rel}")
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(release.path / rel, dst)
            with open(dst, "rb") as handle:
                os.fsync(handle.fileno())
        note("verify")
        report = verify_folder(tmp, release.files, label=_display(location))
        if not report.valid:
            raise VerificationFailed(f"the copy in {root} differs from the release manifest; nothing was "
                                     "published", report)
        entry = _entry(tmp, date=None, version=tag)  # the copy's own manifest, checked above
        _make_read_only(tmp)
        try:
            rename_no_replace(tmp, location)
        except FileExistsError:  # made meanwhile by hand (publishes take the lock): never replaced
            raise VersionExists(f"{_display(location)} appeared while {tag} was being published; it is left"
                                " as it is and nothing was published") from None
    except BaseException:
        remove_tree(tmp)
        raise
    return entry, report


def _write_index(root: Path, name: str, entries: list[dict], location: Path) -> list[str]:
    """Write ``index.json`` with ``entries`` in version order; a warning (the version is published anyway) when
    it cannot be written."""
    entries = sorted(entries, key=lambda e: parse_version(e["version"]))
    try:
        _write_json_atomic(root / INDEX, {"format": INDEX_FORMAT, "name": name, "versions": entries})
    except OSError as exc:
        tag = location.name
        return [
            f"{tag} is published at {_display(location)}, but {_display(root / INDEX)} could not be updated "
            f"({exc.strerror or exc}). The version is listed anyway (the version folders are the truth); fix "
            "the cause and the next publish writes the index again."
        ]
    return []


def list_folder_releases(target: Target) -> list[PublishedVersion]:
    assert target.path is not None
    root = target.path
    if not root.is_dir():
        dangling = root.is_symlink() and not root.exists()
        raise PublishError(f"nothing is published at {root} ("
                           + ("a dangling symbolic link" if dangling else "no such folder") + ")")
    return [
        PublishedVersion(
            version=e["version"], date=e.get("published_at"), counts=e.get("counts") or {},
            manifest_sha256=e.get("manifest_sha256"), location=_display(root / e["version"]), note=e.get("note"),
        )
        for e in _reconciled_entries(root)
    ]

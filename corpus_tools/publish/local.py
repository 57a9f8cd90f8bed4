"""Local target: ``NAME/vX.Y.Z/`` folders (read-only) plus ``NAME/index.json``.

A publish holds ``NAME/.lock``, copies the release into a hidden ``NAME/.tmp-vX.Y.Z-*`` folder, verifies
every file's sha256 against the manifest, makes it read-only and renames it to ``NAME/vX.Y.Z`` (one
``rename``: the version folder is either absent or complete).  ``index.json`` is then replaced
atomically.  The folders are the truth: a version folder missing from the index (a crash between the
rename and the index write) is added back on the next publish and listed anyway.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from corpus_tools._fs import remove_tree, rename_no_replace
from corpus_tools.errors import PublishError, VerificationFailed, VersionExists, VersionNotIncreasing
from corpus_tools.publish.models import (
    Progress,
    PublishedVersion,
    PublishPlan,
    PublishResult,
    Release,
    manifest_counts,
)
from corpus_tools.publish.targets import Target, Version, try_parse_version
from corpus_tools.publish.verify import sha256_file, verify_folder

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


def read_index(root: Path) -> dict:
    path = root / INDEX
    if not path.is_file():
        return {"format": INDEX_FORMAT, "versions": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PublishError(f"{path} is unreadable ({exc}); remove it and publish again to rebuild it") from exc
    data.setdefault("versions", [])
    return data


def _entry(folder: Path, *, date: str | None) -> dict:
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return {
        "version": folder.name,
        "published_at": date,
        "name": manifest.get("name"),
        "manifest_sha256": sha256_file(manifest_path),
        "counts": manifest_counts(manifest),
    }


def _reconciled_entries(root: Path) -> list[dict]:
    """Index entries, plus an entry for every version folder the index lacks, sorted by version."""
    entries = {e["version"]: e for e in read_index(root)["versions"] if isinstance(e, dict) and "version" in e}
    for version, folder in _version_folders(root).items():
        if str(version) not in entries and (folder / "manifest.json").is_file():
            mtime = datetime.fromtimestamp(folder.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            entries[str(version)] = _entry(folder, date=mtime)
    return sorted(entries.values(), key=lambda e: try_parse_version(e["version"]) or Version(0, 0, 0))


def _write_json_atomic(path: Path, data: object) -> None:
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    for dirpath, _dirnames, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        os.chmod(dirpath, 0o555)


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


def _known_versions(root: Path) -> list[Version]:
    versions = set(_version_folders(root))
    versions |= {v for e in read_index(root)["versions"] if (v := try_parse_version(str(e.get("version", ""))))}
    return sorted(versions)


def publish_to_folder(
    release: Release, version: Version, target: Target, *, dry_run: bool, progress: Progress | None, config: str
) -> PublishResult:
    assert target.path is not None
    root = target.path
    tag = str(version)
    location = root / tag
    plan = PublishPlan(target=_display(root), kind="local", name=release.name, version=tag,
                       added=sorted(release.files), readme_sha256=release.files.get("README.md"))
    load_line = f'load_dataset("{_display(location)}", "{config}")'
    if dry_run:
        _check_version(version, _known_versions(root), target)
        return PublishResult(plan=plan, dry_run=True, location=_display(location), load_line=load_line)
    note = progress or (lambda _message: None)
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(root / LOCK), timeout=0)
        lock.acquire()
    except Timeout as exc:
        raise PublishError(f"another publish to {root} is running (lock {root / LOCK})") from exc
    except OSError as exc:
        raise PublishError(f"cannot write to {root}: {exc.strerror or exc}") from exc
    try:
        _check_version(version, _known_versions(root), target)
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
            _make_read_only(tmp)
            try:
                rename_no_replace(tmp, location)
            except FileExistsError:  # made meanwhile by hand (publishes take the lock): never replaced
                raise VersionExists(f"{_display(location)} appeared while {tag} was being published; it is left"
                                    " as it is and nothing was published") from None
        except BaseException:
            remove_tree(tmp)
            raise
        _fsync_dir(root)
        published_at = _now()
        entries = [e for e in _reconciled_entries(root) if e["version"] != tag]
        entries.append(_entry(location, date=published_at))
        entries.sort(key=lambda e: try_parse_version(e["version"]) or Version(0, 0, 0))
        _write_json_atomic(root / INDEX, {"format": INDEX_FORMAT, "name": release.name, "versions": entries})
        note(f"published {tag}")
    except OSError as exc:
        raise PublishError(f"publishing to {root} failed: {exc}") from exc
    finally:
        lock.release()
    return PublishResult(plan=plan, dry_run=False, location=_display(location), load_line=load_line,
                         verification=report, published_at=published_at)


def list_folder_releases(target: Target) -> list[PublishedVersion]:
    assert target.path is not None
    root = target.path
    if not root.is_dir():
        raise PublishError(f"nothing is published at {root} (no such folder)")
    return [
        PublishedVersion(
            version=e["version"], date=e.get("published_at"), counts=e.get("counts") or {},
            manifest_sha256=e.get("manifest_sha256"), location=_display(root / e["version"]),
        )
        for e in _reconciled_entries(root)
    ]

"""Publish a release folder as an immutable version: a local folder of versions or a Hub tag.

- **Local** (``./releases/NAME``): the release is copied into ``NAME/.tmp-*``, verified, made read-only
  and renamed to ``NAME/vX.Y.Z``; ``NAME/index.json`` lists the versions (see :mod:`.local`).
- **Hub** (``hf://datasets/ORG/NAME``): one ``create_commit`` guarded by ``parent_commit``, a fresh
  download of that commit verified against the manifest, then ``create_tag`` (see :mod:`.hub`).

Either way ``check_release`` runs first and must pass, versions are semver and must increase, and an
existing version is never changed.  The library never prints: progress goes to ``progress(message)``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from corpus_tools.errors import InputError, PublishError, ReleaseError
from corpus_tools.publish import verify as _verify  # noqa: F401  (registers the publish problem codes)
from corpus_tools.publish.models import (
    Progress,
    PublishedVersion,
    PublishPlan,
    PublishResult,
    Release,
    manifest_counts,
)
from corpus_tools.publish.targets import Target, is_hub_text, parse_target
from corpus_tools.release.card import split_card
from corpus_tools.release.version import Version, parse_version

if TYPE_CHECKING:
    from corpus_tools.ontology import Ontology

__all__ = [
    "PublishPlan",
    "PublishResult",
    "PublishedVersion",
    "Release",
    "Target",
    "Version",
    "list_releases",
    "load_release",
    "manifest_counts",
    "materialise_release",
    "materialised",
    "parse_target",
    "parse_version",
    "publish_release",
]


def load_release(release_dir: str | Path, *, ontology: Ontology | None = None) -> Release:
    """Run ``check_release`` on a build output and read its manifest; raise ReleaseError if it fails."""
    from corpus_tools.release.checks import check_release
    from corpus_tools.release.manifest import read_manifest

    path = Path(release_dir)
    if not path.is_dir():
        raise InputError(f"{path} is not a folder" + ("" if path.exists() else " (it does not exist)")
                         + ": give a release folder written by `corpus-tools build`")
    report = check_release(path, ontology=ontology)
    if not report.valid:
        raise ReleaseError(
            f"{path} failed check-release with {report.errors_found} errors; nothing was published "
            "(run `corpus-tools check-release` for details)",
            report,
        )
    manifest = read_manifest(path)
    files = {rel: str(meta["sha256"]) for rel, meta in (manifest.get("files") or {}).items()}
    manifest_bytes = (path / "manifest.json").read_bytes()
    from corpus_tools.publish.verify import sha256_file

    files["manifest.json"] = sha256_file(path / "manifest.json")
    return Release(path=path, manifest=manifest, manifest_bytes=manifest_bytes, files=files)


def release_version(release: Release) -> Version:
    try:
        return parse_version(str(release.manifest.get("version", "")))
    except InputError as exc:
        raise ReleaseError(f"{release.path}: manifest version is not semver ({exc})") from exc


def default_config(release: Release) -> str:
    """The config to show in the load_dataset line: the card's default, else ``documents``, else the first."""
    try:
        meta, _ = split_card((release.path / "README.md").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    for entry in meta.get("configs") or []:
        if isinstance(entry, dict) and entry.get("default"):
            return str(entry.get("config_name"))
    configs = list(release.counts)
    return "documents" if "documents" in configs or not configs else configs[0]


def _check_apart(release_dir: Path, root: Path) -> None:
    """Refuse a local target that is the release folder, lies inside it or contains it (symbolic links resolved):
    publishing would write version folders, index.json and a lock into the release, or mix it with the versions."""
    release, target = release_dir.resolve(), root.resolve()
    if target == release:
        where = "is the release folder itself"
    elif target.is_relative_to(release):
        where = "lies inside the release folder"
    elif release.is_relative_to(target):
        where = "contains the release folder"
    else:
        return
    raise PublishError(f"cannot publish {release_dir} to {root}: the target {where}, so publishing would write into "
                       "the release or mix it with the published versions. Nothing was published: choose a target "
                       "outside it, such as ./releases/NAME")


def publish_release(
    release_dir: str | Path,
    target: str | Target,
    *,
    dry_run: bool = False,
    private: bool = False,
    token: str | None = None,
    progress: Progress | None = None,
    ontology: Ontology | None = None,
) -> PublishResult:
    """Publish a checked release folder to ``target`` as version ``vX.Y.Z`` (from its manifest).

    ``target`` is ``./releases/NAME`` or ``hf://datasets/ORG/NAME``.  ``token`` defaults to ``HF_TOKEN`` or
    the huggingface_hub login; it is never logged or written.  Raises ReleaseError (check failed),
    VersionExists, VersionNotIncreasing, StaleParent, VerificationFailed or PublishError.
    """
    tgt = parse_target(target) if isinstance(target, str) else target
    if tgt.version is not None:
        raise InputError(f"a publish target names a dataset, not a version: drop @{tgt.version} from {tgt}")
    if not tgt.is_hub:
        _check_apart(Path(release_dir), tgt.path)  # type: ignore[arg-type]
    release = load_release(release_dir, ontology=ontology)
    version = release_version(release)
    if tgt.is_hub:
        from corpus_tools.publish import hub

        return hub.publish_to_hub(release, version, tgt, dry_run=dry_run, private=private, token=token,
                                  progress=progress, config=default_config(release))
    from corpus_tools.publish import local

    return local.publish_to_folder(release, version, tgt, dry_run=dry_run, progress=progress,
                                   config=default_config(release))


def list_releases(target: str | Target, *, token: str | None = None) -> list[PublishedVersion]:
    """Every published version in ``target``, oldest first, with dates and counts from each manifest."""
    tgt = parse_target(target) if isinstance(target, str) else target
    if tgt.is_hub:
        from corpus_tools.publish import hub

        return hub.list_hub_releases(tgt, token=token)
    from corpus_tools.publish import local

    return local.list_folder_releases(tgt)


def materialise_release(target_with_version: str | Path, *, dest: Path | None = None,
                        token: str | None = None) -> Path:
    """A local folder holding one published version, for diffing or checking.

    A plain folder (``./releases/NAME/v1.0.0`` or any build output) is returned as is;
    ``./releases/NAME@v1.0.0`` resolves to its version folder; ``hf://datasets/ORG/NAME@v1.0.0`` is
    downloaded (that tag, not the cache's idea of it) into ``dest`` or a new temp folder the caller removes.
    """
    text = str(target_with_version)
    if not is_hub_text(text) and Path(text).is_dir():  # an existing folder is a folder, even with @ in its name
        return Path(text)
    tgt = parse_target(text)
    if tgt.version is None:
        if tgt.is_hub:
            raise InputError(f"name one version: {tgt}@vX.Y.Z")
        raise InputError(f"{text} is not a release folder" + ("" if Path(text).exists() else " (it does not exist)"))
    if tgt.is_hub:
        from corpus_tools.publish import hub

        return hub.download_version(tgt, dest=dest, token=token)
    folder = tgt.path / str(tgt.version)  # type: ignore[operator]
    if not folder.is_dir():
        raise InputError(f"{tgt} is not published: no folder {folder}")
    return folder


@contextmanager
def materialised(target_with_version: str | Path, *, token: str | None = None) -> Iterator[Path]:
    """Context manager around :func:`materialise_release` that removes any download afterwards."""
    text = str(target_with_version)
    if is_hub_text(text):
        tmp = Path(tempfile.mkdtemp(prefix="corpus-tools-release-"))
        try:
            yield materialise_release(text, dest=tmp, token=token)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        yield materialise_release(text, token=token)

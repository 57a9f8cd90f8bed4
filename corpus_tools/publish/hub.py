"""Hub target: one guarded commit, a verified fresh download, then an immutable tag.

1. ``create_repo(exist_ok=True)``; read ``main`` (``dataset_info``), its tags and its file tree.
2. Refuse a tag that exists (VersionExists) or a version not above the latest semver tag (VersionNotIncreasing).
3. Merge the release card with the repository's card (:func:`corpus_tools.release.card.merge_card`).
4. ONE ``create_commit``: every release file, plus deletions of files the release no longer has
   (``.gitattributes`` kept), with ``parent_commit`` = the head read in 1.  HTTP 412 -> StaleParent, no tag.
5. Download that commit into a fresh cache folder and compare every file's sha256 with the manifest
   (README.md with the merged card's sha256).  Any difference -> VerificationFailed, no tag.
6. ``create_tag(vX.Y.Z, revision=<commit>)`` (never ``exist_ok``: a 409 means someone else took the name),
   then resolve the tag again through a fresh ``snapshot_download`` and check it points at the commit.  A failure
   of that last check is PublishUnverified: the message says the version IS published and how to check it.

If main already holds exactly this release (a publish interrupted between commit and tag), step 4 is
skipped and the run finishes the tag on that commit after verifying it.  A commit that already carries
another tag is never tagged again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from corpus_tools.errors import (
    InputError,
    PublishError,
    PublishUnverified,
    StaleParent,
    VerificationFailed,
    VersionExists,
    VersionNotIncreasing,
)
from corpus_tools.publish.models import (
    Progress,
    PublishedVersion,
    PublishPlan,
    PublishResult,
    Release,
    manifest_counts,
)
from corpus_tools.publish.targets import Target
from corpus_tools.publish.verify import git_blob_sha1, verify_folder
from corpus_tools.release.card import MergedCard, card_defaults, merge_card
from corpus_tools.release.version import Version, try_parse_version
from corpus_tools.report import Report
from corpus_tools.text import redact, sha256_bytes

REPO_TYPE = "dataset"
KEEP = frozenset({".gitattributes"})


def _status(exc: BaseException) -> int | None:
    return getattr(getattr(exc, "response", None), "status_code", None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@contextmanager
def _hub_call(what: str, token: str | None, advice: str = "") -> Iterator[None]:
    """Convert huggingface_hub / network failures into PublishError, with the token redacted."""
    from huggingface_hub import errors

    # The HTTP library's base error (httpx2 in huggingface_hub 2.x): connection refused, timeouts, bad status.
    transport_error = getattr(errors, "HTTPError", errors.HfHubHTTPError)
    try:
        yield
    except (errors.HfHubHTTPError, transport_error, OSError, ValueError, RuntimeError) as exc:
        # RuntimeError: huggingface_hub wraps a failed file upload in one ("Error while uploading ..."), and the
        # HTTP client raises one when used after it was closed; the HTTP error is then its cause.
        cause = exc.__cause__ if isinstance(exc, RuntimeError) and exc.__cause__ is not None else None
        status = _status(exc) or (_status(cause) if cause is not None else None)
        hint = ""
        if status in (401, 403):
            hint = (" (no token, or the token was refused or lacks write access: set HF_TOKEN or run"
                    " `hf auth login`)")
        advice = f". {advice}" if advice else ""
        why = _first_line(exc) + (f" ({_first_line(cause)})" if cause is not None else "")
        raise PublishError(redact(f"{what} failed: {why}{hint}{advice}", (token or "",))) from exc


@contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    """The library never prints: silence huggingface_hub's tqdm bars for the duration of a call."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def _api(token: str | None):
    from huggingface_hub import HfApi

    return HfApi(token=token)


def _semver_tags(tags: dict[str, str]) -> dict[Version, str]:
    return {v: name for name in tags if (v := try_parse_version(name)) is not None and name.startswith("v")}


def _check_version(version: Version, tags: dict[str, str], target: Target) -> None:
    if str(version) in tags:
        raise VersionExists(
            f"tag {version} already exists in {target} (commit {tags[str(version)][:12]}); published versions "
            "never change. Build the release with a higher version."
        )
    semver = _semver_tags(tags)
    if semver and version < max(semver):
        raise VersionNotIncreasing(
            f"{version} is not above the latest published version {max(semver)} in {target}; versions must increase."
        )


def _same_content(remote, local: Path | None, data: bytes | None, sha256: str) -> bool:
    lfs = getattr(remote, "lfs", None)
    if lfs is not None and getattr(lfs, "sha256", None):
        return lfs.sha256 == sha256
    blob_id = getattr(remote, "blob_id", None)
    if blob_id:
        return blob_id == git_blob_sha1(local, data)
    return False


def _download_bytes(api, repo_id: str, filename: str, revision: str, cache_dir: str) -> bytes:
    path = api.hf_hub_download(repo_id, filename, repo_type=REPO_TYPE, revision=revision, cache_dir=cache_dir)
    return Path(path).read_bytes()


@dataclass
class _RepoState:
    """The repository before publishing: nothing when it does not exist and this is a dry run."""

    head: str | None = None  # the commit of main
    tags: dict[str, str] = field(default_factory=dict)  # tag -> commit
    remote: dict[str, object] = field(default_factory=dict)  # path -> RepoFile on main
    readme: bytes | None = None


def publish_to_hub(
    release: Release,
    version: Version,
    target: Target,
    *,
    dry_run: bool,
    private: bool,
    token: str | None,
    progress: Progress | None,
    config: str,
) -> PublishResult:
    """Publish ``release`` as ``version`` to the Hub repository ``target``, in the steps of the module docstring."""
    note = progress or (lambda _message: None)
    repo_id = target.repo_id
    assert repo_id is not None
    tag = str(version)
    api = _api(token)
    plan = PublishPlan(target=str(target), kind="hub", name=repo_id, version=tag)
    load_line = f'load_dataset("{repo_id}", "{config}", revision="{tag}")'
    location = f"{api.endpoint.rstrip('/')}/datasets/{repo_id}"

    with _quiet_progress_bars(), tempfile.TemporaryDirectory(prefix="corpus-tools-publish-") as scratch:
        repo = _read_repo(api, target, token, scratch, plan, dry_run=dry_run, private=private, note=note)
        _check_version(version, repo.tags, target)
        card, expected = _plan_files(release, repo, plan)
        if dry_run:
            return PublishResult(plan=plan, dry_run=True, location=location, load_line=load_line)

        assert repo.head is not None
        description = (f"Published by corpus-tools. manifest.json sha256 {expected['manifest.json']}, "
                       f"README.md sha256 {expected['README.md']}.")
        commit_oid = _commit_release(api, release, card, expected, plan, repo.head, tag, description, target, token,
                                     note)
        _refuse_tagged_commit(repo.tags, commit_oid, tag, target)

        note(f"verify commit {commit_oid[:12]}")
        report = _verify(api, repo_id, commit_oid, expected, scratch, target, token)
        if not report.valid:
            raise VerificationFailed(
                f"commit {commit_oid[:12]} of {target} differs from the release manifest; nothing was tagged. "
                "Publish again.",
                report,
            )

        note(f"tag {tag}")
        _create_tag(api, release, tag, commit_oid, description, target, token)
        note(f"verify tag {tag}")
        report = _verify_tag(tag, commit_oid, expected, scratch, target, token)

    return PublishResult(plan=plan, dry_run=False, location=location, load_line=load_line, commit=commit_oid,
                         verification=report, published_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _read_repo(api, target: Target, token: str | None, scratch: str, plan: PublishPlan, *, dry_run: bool,
               private: bool, note: Progress) -> _RepoState:
    """Create the repository when it does not exist (not in a dry run); read main's head, the tags, main's files
    and its README."""
    from huggingface_hub import RepoFile

    repo_id = target.repo_id
    with _hub_call(f"reading {target}", token):
        exists = api.repo_exists(repo_id, repo_type=REPO_TYPE)
    if not exists:
        plan.create_repo = True
        if not dry_run:
            note(f"create {target}")
            with _hub_call(f"creating {target}", token):
                api.create_repo(repo_id, repo_type=REPO_TYPE, exist_ok=True, private=private)
    repo = _RepoState()
    if exists or not dry_run:
        with _hub_call(f"reading {target}", token):
            repo.head = api.dataset_info(repo_id, revision="main").sha
            repo.tags = {t.name: t.target_commit for t in api.list_repo_refs(repo_id, repo_type=REPO_TYPE).tags}
            repo.remote = {
                f.path: f
                for f in api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=repo.head, recursive=True)
                if isinstance(f, RepoFile)
            }
            if "README.md" in repo.remote:
                repo.readme = _download_bytes(api, repo_id, "README.md", repo.head, scratch)
    return repo


def _plan_files(release: Release, repo: _RepoState, plan: PublishPlan) -> tuple[MergedCard, dict[str, str]]:
    """The merged card and the sha256 of every file the commit must hold; the plan's added, unchanged, replaced
    and deleted files."""
    card = merge_card((release.path / "README.md").read_bytes(), repo.readme,
                      defaults=card_defaults(release.manifest))
    expected = dict(release.files)
    expected["README.md"] = sha256_bytes(card.content)
    plan.card_kept = card.kept_keys
    plan.card_kept_sections = card.kept_sections
    plan.readme_sha256 = expected["README.md"]
    plan.parent_commit = repo.head
    for rel in sorted(expected):
        data = card.content if rel == "README.md" else None
        local = None if data is not None else release.path / rel
        if rel not in repo.remote:
            plan.added.append(rel)
        elif _same_content(repo.remote[rel], local, data, expected[rel]):
            plan.unchanged.append(rel)
        else:
            plan.replaced.append(rel)
    plan.deleted = sorted(set(repo.remote) - set(expected) - KEEP)
    plan.resume = repo.head is not None and not (plan.added or plan.replaced or plan.deleted)
    return card, expected


def _commit_release(api, release: Release, card: MergedCard, expected: dict[str, str], plan: PublishPlan, head: str,
                    tag: str, description: str, target: Target, token: str | None, note: Progress) -> str:
    """The commit that holds the release: a new one on ``head``, or ``head`` when main already holds it."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    if plan.resume:
        note(f"main already holds {tag} (commit {head[:12]}); only the tag is missing")
        return head
    ops = [
        CommitOperationAdd(rel, card.content if rel == "README.md" else str(release.path / rel))
        for rel in sorted(expected)
    ]
    ops += [CommitOperationDelete(rel) for rel in plan.deleted]
    note(f"commit {len(plan.added)} added, {len(plan.replaced)} replaced, {len(plan.deleted)} deleted")
    return _commit(api, target.repo_id, ops, head, tag, description, target, token)


def _refuse_tagged_commit(tags: dict[str, str], commit_oid: str, tag: str, target: Target) -> None:
    clash = sorted(name for name, oid in tags.items() if oid == commit_oid)
    if clash:
        raise PublishError(
            f"commit {commit_oid[:12]} of {target} already carries tag {clash[0]}: it holds no new content, so "
            f"{tag} would point at an old release. Nothing was tagged."
        )


def _create_tag(api, release: Release, tag: str, commit_oid: str, description: str, target: Target,
                token: str | None) -> None:
    untagged = f"commit {commit_oid[:12]} on main holds this release untagged"
    with _hub_call(f"tagging {target}", token, f"{untagged.capitalize()}: run the same publish again to tag it"):
        try:
            api.create_tag(target.repo_id, repo_type=REPO_TYPE, tag=tag, revision=commit_oid,
                           tag_message=f"{release.name} {tag}\n\n{description}")
        except Exception as exc:
            if _status(exc) == 409:
                raise VersionExists(
                    f"tag {tag} was created in {target} by someone else while publishing; it was left as is "
                    f"({untagged})."
                ) from exc
            raise


def _verify_tag(tag: str, commit_oid: str, expected: dict[str, str], scratch: str, target: Target,
                token: str | None) -> Report:
    """The tag resolves to the commit and its files are the release's; from here on the tag exists, so a failure
    says the version is published, not that nothing was."""
    tagged_on = (f"{tag} IS published: tag {tag} was created in {target} on commit {commit_oid[:12]}, whose files "
                 "were verified before tagging")
    check = (f"Check it with `corpus-tools releases {target}` (it lists {tag} with its commit); do not publish "
             f"{tag} again, the tag exists")
    # The tag is resolved afresh by the server; the files of that commit are already in this run's own
    # verification cache, so only the resolution travels (a tag on another commit would download anew).
    try:
        with _hub_call(f"reading {target}@{tag}", token):
            tagged = _snapshot(target.repo_id, tag, str(Path(scratch) / "verify"), token)
    except PublishError as exc:
        raise PublishUnverified(f"{tagged_on}, but reading the tag back to check it failed ({exc}). {check}."
                                ) from exc
    if tagged.name != commit_oid:
        raise PublishUnverified(f"{tagged_on}, but the tag now resolves to {tagged.name[:12]} (moved by someone "
                                f"else?). {check}: it was left as it is.")
    report = verify_folder(tagged, expected, ignore=KEEP, label=f"{target}@{tag}")
    if not report.valid:
        raise PublishUnverified(f"{tagged_on}, but the files read back through the tag differ from the release "
                                f"manifest. {check}.", report)
    return report


def _commit(api, repo_id: str, ops: list, head: str, tag: str, description: str, target: Target,
            token: str | None) -> str:
    with _hub_call(f"committing to {target}", token):
        try:
            info = api.create_commit(repo_id, ops, repo_type=REPO_TYPE, parent_commit=head,
                                     commit_message=f"Release {tag}", commit_description=description)
        except Exception as exc:
            if _status(exc) == 412:
                raise StaleParent(
                    f"main of {target} moved since it was read at {head[:12]} (someone published meanwhile); "
                    f"nothing was committed or tagged. Run publish again to check {tag} against the new head."
                ) from exc
            raise
    return str(info.oid)


def _snapshot(repo_id: str, revision: str, cache_dir: str, token: str | None) -> Path:
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, repo_type=REPO_TYPE, revision=revision, cache_dir=cache_dir,
                                  token=token))


def _verify(api, repo_id: str, commit_oid: str, expected: dict[str, str], scratch: str, target: Target,
            token: str | None):
    # A cache folder of our own, created for this publish: nothing can come from an earlier download.
    cache = Path(scratch) / "verify"
    cache.mkdir()
    with _hub_call(f"downloading {target}@{commit_oid[:12]}", token):
        snapshot = _snapshot(repo_id, commit_oid, str(cache), token)
    return verify_folder(snapshot, expected, ignore=KEEP, label=f"{target}@{commit_oid[:12]}")


def list_hub_releases(target: Target, *, token: str | None = None) -> list[PublishedVersion]:
    from huggingface_hub.errors import RepositoryNotFoundError

    api = _api(token)
    repo_id = target.repo_id
    assert repo_id is not None
    out: list[PublishedVersion] = []
    with _quiet_progress_bars():
        with _hub_call(f"listing {target}", token):
            try:
                refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
            except RepositoryNotFoundError as exc:
                raise PublishError(f"nothing is published at {target} (no such dataset repository)") from exc
        tags = {t.name: t.target_commit for t in refs.tags}
        for version, name in sorted(_semver_tags(tags).items()):
            oid = tags[name]
            raw: bytes | None = None
            with _hub_call(f"reading {target}@{version}", token):
                commits = api.list_repo_commits(repo_id, repo_type=REPO_TYPE, revision=oid)
                date = commits[0].created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if commits else None
                try:
                    path = api.hf_hub_download(repo_id, "manifest.json", repo_type=REPO_TYPE, revision=oid)
                    raw = Path(path).read_bytes()
                except Exception as exc:  # a tag not made by corpus-tools: list it without counts
                    if _status(exc) != 404:
                        raise
            counts, note = _manifest_counts(raw)
            out.append(PublishedVersion(version=str(version), date=date, counts=counts,
                                        manifest_sha256=sha256_bytes(raw) if raw is not None else None,
                                        location=f"{target}@{version}", commit=oid, note=note))
    return out


def _manifest_counts(raw: bytes | None) -> tuple[dict[str, dict[str, int]], str | None]:
    """The counts in a tag's manifest.json, or ``{}`` and a note saying why they are unknown."""
    if raw is None:
        return {}, "no manifest.json (not published by corpus-tools): counts unknown"
    try:
        return manifest_counts(json.loads(raw.decode("utf-8"))), None
    except ValueError as exc:  # not UTF-8, not JSON, or not the manifest's shape
        return {}, f"manifest.json is unreadable ({exc}): counts unknown"


def download_version(target: Target, *, dest: Path | None, token: str | None) -> Path:
    """Download one tagged version into ``dest`` (a cache folder; default: a new temp folder)."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    assert target.repo_id is not None and target.version is not None
    cache = dest or Path(tempfile.mkdtemp(prefix="corpus-tools-release-"))
    try:
        with _quiet_progress_bars(), _hub_call(f"downloading {target}", token):
            try:
                return _snapshot(target.repo_id, str(target.version), str(cache), token)
            except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
                raise InputError(f"{target} is not published (no such repository or tag)") from exc
    except BaseException:
        if dest is None:  # the temp folder this call made: nobody else knows it
            shutil.rmtree(cache, ignore_errors=True)
        raise


"""Publishing to a Hub dataset repository, against the in-process Hub-protocol server (tests/hubserver.py).

The real huggingface_hub and datasets code runs; the server is the only stand-in (for huggingface.co).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from release_factory import TEXTS_V1, TEXTS_V2, TEXTS_V3, make_release

from corpus_tools.errors import PublishError, PublishUnverified, StaleParent, VersionExists, VersionNotIncreasing
from corpus_tools.publish import list_releases, materialise_release, materialised, publish_release
from corpus_tools.publish.verify import sha256_file
from corpus_tools.release.card import split_card

# huggingface_hub 2.4 itself passes raw bytes as data= to httpx2, which warns on every upload
pytestmark = [pytest.mark.hub, pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")]
# v1.0.0 has a test split, v1.1.0 has not: these files are deleted in v1.1.0's commit
TEST_SPLIT_FILES = [f"data/{config}/test-00000-of-00001.parquet" for config in ("annotations", "documents", "tokens")]


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("builds")
    return {
        "v1.0.0": make_release(root, "1.0.0", TEXTS_V1),
        "v1.1.0": make_release(root, "1.1.0", TEXTS_V2),
        "v1.2.0": make_release(root, "1.2.0", TEXTS_V3),
        "v1.0.5": make_release(root, "1.0.5", TEXTS_V1),
    }


def _files(release: Path) -> dict[str, bytes]:
    return {p.relative_to(release).as_posix(): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


def _texts(repo_id: str, revision: str, config: str = "documents") -> dict[str, list[str]]:
    from datasets import load_dataset

    dataset = load_dataset(repo_id, config, revision=revision)
    return {split: sorted(dataset[split]["text"]) for split in dataset}


def _state(hub_server, repo_id: str):
    repo = hub_server.repo(repo_id)
    return repo.branches, repo.tags, len(repo.commits)


def test_two_versions_each_load_their_own_rows(hub_server, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    first = publish_release(releases["v1.0.0"], target)
    assert first.plan.create_repo and first.verification.valid
    assert first.load_line == f'load_dataset("{hub_repo_id}", "documents", revision="v1.0.0")'
    second = publish_release(releases["v1.1.0"], target)
    # v1.1.0 has no test split: its file is deleted in the same single commit
    assert second.plan.deleted == TEST_SPLIT_FILES

    repo = hub_server.repo(hub_repo_id)
    assert repo.tags == {"v1.0.0": first.commit, "v1.1.0": second.commit}
    assert len(repo.commits) == 3  # initial (.gitattributes), v1.0.0, v1.1.0: one commit per version
    for version in ("v1.0.0", "v1.1.0"):
        assert repo.files(version) == {".gitattributes": repo.files(version)[".gitattributes"],
                                       **_files(releases[version])}

    assert _texts(hub_repo_id, "v1.0.0") == {s: sorted(t) for s, t in TEXTS_V1.items()}
    assert _texts(hub_repo_id, "v1.1.0") == {s: sorted(t) for s, t in TEXTS_V2.items()}

    listed = list_releases(target)
    assert [(v.version, v.commit, v.counts["documents"]) for v in listed] == [
        ("v1.0.0", first.commit, {s: len(t) for s, t in TEXTS_V1.items()}),
        ("v1.1.0", second.commit, {s: len(t) for s, t in TEXTS_V2.items()}),
    ]
    assert listed[0].manifest_sha256 == sha256_file(releases["v1.0.0"] / "manifest.json")

    with materialised(f"{target}@v1.0.0") as folder:
        assert json.loads((folder / "manifest.json").read_text()) == json.loads(
            (releases["v1.0.0"] / "manifest.json").read_text())
        kept = folder
    assert not kept.exists()


def test_existing_or_lower_version_is_refused(hub_server, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    publish_release(releases["v1.0.0"], target)
    publish_release(releases["v1.1.0"], target)
    before = _state(hub_server, hub_repo_id)
    with pytest.raises(VersionExists, match="tag v1.0.0 already exists"):
        publish_release(releases["v1.0.0"], target)
    with pytest.raises(VersionNotIncreasing, match="v1.0.5 is not above the latest published version v1.1.0"):
        publish_release(releases["v1.0.5"], target)
    assert _state(hub_server, hub_repo_id) == before


def test_dry_run_changes_nothing(hub_server, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    plan = publish_release(releases["v1.0.0"], target, dry_run=True).plan
    assert not hub_server.has_repo(hub_repo_id)
    assert plan.create_repo and plan.added == sorted(_files(releases["v1.0.0"]))

    publish_release(releases["v1.0.0"], target)
    before = _state(hub_server, hub_repo_id)
    hub_server.clear_requests()
    result = publish_release(releases["v1.1.0"], target, dry_run=True)
    assert _state(hub_server, hub_repo_id) == before
    assert {r.method for r in hub_server.requests} <= {"GET", "HEAD"}
    plan = result.plan
    assert plan.tag == "v1.1.0" and plan.parent_commit == before[0]["main"]
    assert plan.deleted == TEST_SPLIT_FILES
    assert "data/documents/train-00000-of-00001.parquet" in plan.replaced
    assert plan.added == []


def test_concurrent_publish_fails_without_a_tag(hub_server, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    publish_release(releases["v1.0.0"], target)
    hub_server.inject_before_next_commit(hub_repo_id, {"notes.txt": "someone else's commit"})
    with pytest.raises(StaleParent, match="someone published meanwhile") as info:
        publish_release(releases["v1.1.0"], target)
    assert "nothing was committed or tagged" in str(info.value)
    repo = hub_server.repo(hub_repo_id)
    assert set(repo.tags) == {"v1.0.0"}
    assert repo.files("main")["notes.txt"] == b"someone else's commit"  # the other commit is the head

    # publishing again plans against the new head and succeeds
    again = publish_release(releases["v1.1.0"], target)
    assert "notes.txt" in again.plan.deleted
    assert set(hub_server.repo(hub_repo_id).tags) == {"v1.0.0", "v1.1.0"}


def test_card_keeps_metadata_set_by_someone_else(hub_server, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    publish_release(releases["v1.0.0"], target)
    readme = hub_server.repo(hub_repo_id).files("main")["README.md"].decode()
    meta, body = split_card(readme)
    meta["thumbnail"] = "https://example.org/cover.png"
    meta["tags"] = [*meta.get("tags", []), "arabic-news-custom"]
    edited = "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n" + body
    hub_server.commit_as_other(hub_repo_id, {"README.md": edited}, message="Edit card on the Hub")

    result = publish_release(releases["v1.1.0"], target)
    assert result.plan.card_kept == ["tags['arabic-news-custom']", "thumbnail"]
    published = hub_server.repo(hub_repo_id).files("v1.1.0")["README.md"]
    assert sha256_file_bytes(published) == result.plan.readme_sha256
    merged, merged_body = split_card(published.decode())
    release_meta, release_body = split_card((releases["v1.1.0"] / "README.md").read_text(encoding="utf-8"))
    assert merged["thumbnail"] == "https://example.org/cover.png"
    assert "arabic-news-custom" in merged["tags"]
    assert merged["configs"] == release_meta["configs"]
    assert merged["dataset_info"] == release_meta["dataset_info"]
    assert merged_body == release_body
    assert result.verification.valid  # README checked against the merged card, everything else the manifest
    assert _texts(hub_repo_id, "v1.1.0") == {s: sorted(t) for s, t in TEXTS_V2.items()}

    # the next version keeps them too
    publish_release(releases["v1.2.0"], target)
    later, _ = split_card(hub_server.repo(hub_repo_id).files("v1.2.0")["README.md"].decode())
    assert later["thumbnail"] == "https://example.org/cover.png"


def sha256_file_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_failure_between_commit_and_tag_is_finished_by_a_rerun(hub_server, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    publish_release(releases["v1.0.0"], target)
    hub_server.fail_next("POST", f"/api/datasets/{hub_repo_id}/tag/", status=500)
    with pytest.raises(PublishError, match="holds this release untagged: run the same publish again"):
        publish_release(releases["v1.1.0"], target)
    repo = hub_server.repo(hub_repo_id)
    assert set(repo.tags) == {"v1.0.0"}  # never a tag on anything but a verified commit
    untagged = repo.branches["main"]
    commits = len(repo.commits)

    dry = publish_release(releases["v1.1.0"], target, dry_run=True)
    assert dry.plan.resume and dry.plan.added == dry.plan.replaced == dry.plan.deleted == []
    result = publish_release(releases["v1.1.0"], target)
    assert result.plan.resume and result.commit == untagged
    repo = hub_server.repo(hub_repo_id)
    assert repo.tags["v1.1.0"] == untagged and len(repo.commits) == commits  # no new commit


def test_an_already_tagged_commit_is_never_tagged_again(hub_server, hub_api, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    publish_release(releases["v1.0.0"], target)
    hub_server.fail_next("POST", f"/api/datasets/{hub_repo_id}/tag/", status=500)
    with pytest.raises(PublishError):
        publish_release(releases["v1.1.0"], target)
    head = hub_server.repo(hub_repo_id).branches["main"]
    hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="v1.0.9", revision=head)  # someone tags it by hand
    with pytest.raises(PublishError, match="already carries tag v1.0.9"):
        publish_release(releases["v1.1.0"], target)
    assert "v1.1.0" not in hub_server.repo(hub_repo_id).tags


def test_a_failed_file_upload_is_a_publish_error_and_a_rerun_publishes(hub_server, hub_repo_id, releases):
    """huggingface_hub wraps a failed upload in a RuntimeError: it is a PublishError naming the HTTP error, and
    nothing is committed or tagged."""
    target = f"hf://datasets/{hub_repo_id}"
    hub_server.fail_next("PUT", "/lfs-upload/", status=400)
    with pytest.raises(PublishError, match=r"Error while uploading 'data/.*\.parquet' to the Hub\. \(Bad request"):
        publish_release(releases["v1.0.0"], target)
    repo = hub_server.repo(hub_repo_id)
    assert repo.tags == {} and not any(p.endswith(".parquet") for p in repo.files("main"))
    assert publish_release(releases["v1.0.0"], target).verification.valid


def test_private_repository(hub_server, hub_repo_id, releases):
    publish_release(releases["v1.0.0"], f"hf://datasets/{hub_repo_id}", private=True)
    assert hub_server.repo(hub_repo_id).private


# ---- CLI in subprocesses -----------------------------------------------------------------------------------------
def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def _written_text(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", errors="replace") for p in root.rglob("*") if p.is_file())


def test_cli_publish_to_hub_never_shows_the_token(hub_server, hub_repo_id, releases, tmp_path):
    target = f"hf://datasets/{hub_repo_id}"
    home = tmp_path / "hf-home"
    env = {"HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"), "HF_DATASETS_CACHE": str(home / "ds"),
           "HF_TOKEN_PATH": str(home / "token")}
    token = hub_server.token
    runs = [
        _cli("publish", str(releases["v1.0.0"]), "--to", target, "--dry-run", cwd=tmp_path, env=env),
        _cli("publish", str(releases["v1.0.0"]), "--to", target, cwd=tmp_path, env=env),
        _cli("publish", str(releases["v1.1.0"]), "--to", target, "--json", cwd=tmp_path, env=env),
        _cli("releases", target, cwd=tmp_path, env=env),
        _cli("releases", target, "--json", cwd=tmp_path, env=env),
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
    assert runs[1].stdout.strip() == f'load_dataset("{hub_repo_id}", "documents", revision="v1.0.0")'
    assert "Published v1.0.0" in runs[1].stderr and "verified by sha256" in runs[1].stderr
    result = json.loads(runs[2].stdout)
    assert result["commit"] == hub_server.repo(hub_repo_id).tags["v1.1.0"]
    assert [v["version"] for v in json.loads(runs[4].stdout)["versions"]] == ["v1.0.0", "v1.1.0"]

    refused = _cli("publish", str(releases["v1.0.0"]), "--to", target, cwd=tmp_path, env=env)
    assert refused.returncode == 3
    assert refused.stderr.strip().startswith("Error: tag v1.0.0 already exists")

    wrong = "hf_wrong_token_for_this_test_9999"
    denied = _cli("publish", str(releases["v1.2.0"]), "--to", target, cwd=tmp_path, env={**env, "HF_TOKEN": wrong})
    assert denied.returncode == 3 and "the token was refused" in denied.stderr
    assert "Traceback" not in denied.stderr

    for run in [*runs, refused]:
        assert token not in run.stdout + run.stderr
    assert wrong not in denied.stdout + denied.stderr
    written = _written_text(tmp_path)
    assert token not in written and wrong not in written
    assert "v1.2.0" not in hub_server.repo(hub_repo_id).tags


def test_materialise_unknown_version(hub_server, hub_repo_id, releases):
    from corpus_tools.errors import InputError

    publish_release(releases["v1.0.0"], f"hf://datasets/{hub_repo_id}")
    with pytest.raises(InputError, match="is not published"):
        materialise_release(f"hf://datasets/{hub_repo_id}@v9.9.9")


def test_cli_quiet_publish_prints_nothing_even_when_an_upload_is_retried(hub_server, hub_repo_id, releases,
                                                                         tmp_path):
    home = tmp_path / "hf-home"
    env = {"HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"), "HF_TOKEN_PATH": str(home / "token")}
    hub_server.fail_next("PUT", "/lfs-upload/", status=500)  # huggingface_hub retries it, warning on stderr
    run = _cli("publish", str(releases["v1.0.0"]), "--to", f"hf://datasets/{hub_repo_id}", "-q", cwd=tmp_path,
               env=env)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "v1.0.0" in hub_server.repo(hub_repo_id).tags


def test_cli_unreachable_hub_is_one_error_line(tmp_path, releases):
    import socket

    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = _cli("publish", str(releases["v1.0.0"]), "--to", "hf://datasets/org/x", cwd=tmp_path,
               env={"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HUB_ETAG_TIMEOUT": "2"})
    assert run.returncode == 3, run.stderr
    assert run.stderr.startswith("Error: reading hf://datasets/org/x failed")
    assert "Traceback" not in run.stderr


def test_cli_diff_of_two_published_versions(hub_server, hub_repo_id, releases, tmp_path):
    target = f"hf://datasets/{hub_repo_id}"
    publish_release(releases["v1.0.0"], target)
    publish_release(releases["v1.1.0"], target)
    published = _cli("diff", f"{target}@v1.0.0", f"{target}@v1.1.0", "--json", cwd=tmp_path)
    assert published.returncode == 0, published.stderr
    folders = _cli("diff", str(releases["v1.0.0"]), str(releases["v1.1.0"]), "--json", cwd=tmp_path)
    assert folders.returncode == 0, folders.stderr
    # the published versions differ exactly as the release folders they came from
    assert json.loads(published.stdout) == json.loads(folders.stdout)
    human = _cli("diff", f"{target}@v1.0.0", f"{target}@v1.1.0", cwd=tmp_path)
    assert human.returncode == 0 and "v1.0.0 → v1.1.0" in human.stdout
    missing = _cli("diff", f"{target}@v1.0.0", f"{target}@v9.0.0", cwd=tmp_path)
    assert missing.returncode == 3 and missing.stderr.startswith("Error: ") and "Traceback" not in missing.stderr


def test_foreign_tags_are_ignored_or_listed_without_counts(hub_server, hub_api, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    hub_server.create_repo(hub_repo_id)
    initial = hub_server.repo(hub_repo_id).branches["main"]
    hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="stable", revision=initial)
    hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="v0.1.0", revision=initial)  # no manifest there
    publish_release(releases["v1.0.0"], target)
    listed = list_releases(target)
    assert [(v.version, v.counts, v.manifest_sha256 is None) for v in listed] == [
        ("v0.1.0", {}, True),
        ("v1.0.0", {"annotations": {s: len(t) for s, t in TEXTS_V1.items()},
                    "documents": {s: len(t) for s, t in TEXTS_V1.items()},
                    "tokens": {s: len(t) for s, t in TEXTS_V1.items()}}, False),
    ]


def test_cli_uses_the_huggingface_hub_login_when_hf_token_is_unset(hub_server, hub_repo_id, releases, tmp_path):
    home = tmp_path / "hf-home"
    home.mkdir()
    (home / "token").write_text(hub_server.token)  # what `hf auth login` stores
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update({"HF_HOME": str(home), "HF_TOKEN_PATH": str(home / "token"), "HF_HUB_CACHE": str(home / "hub")})
    run = subprocess.run([sys.executable, "-m", "corpus_tools", "publish", str(releases["v1.0.0"]), "--to",
                          f"hf://datasets/{hub_repo_id}"], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert hub_server.token not in run.stdout + run.stderr
    assert set(hub_server.repo(hub_repo_id).tags) == {"v1.0.0"}

    (home / "token").unlink()  # logged out and no HF_TOKEN: the write is refused with a hint, not a traceback
    refused = subprocess.run([sys.executable, "-m", "corpus_tools", "publish", str(releases["v1.1.0"]), "--to",
                              f"hf://datasets/{hub_repo_id}"], cwd=tmp_path, capture_output=True, text=True,
                             env=env, timeout=300)
    assert refused.returncode == 3, refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: committing to") and "set HF_TOKEN or run `hf auth login`" in last
    assert "Traceback" not in refused.stderr


def test_a_failed_check_after_tagging_says_the_version_is_published(hub_server, hub_repo_id, releases, tmp_path):
    target = f"hf://datasets/{hub_repo_id}"
    publish_release(releases["v1.0.0"], target)
    # the tag is created, then resolving it to check it fails (huggingface_hub may retry a 5xx read)
    hub_server.fail_next("GET", f"/api/datasets/{hub_repo_id}/revision/v1.1.0", status=500, times=20)
    with pytest.raises(PublishUnverified) as info:
        publish_release(releases["v1.1.0"], target)
    tagged = hub_server.repo(hub_repo_id).tags["v1.1.0"]
    message = str(info.value)
    assert message.startswith(f"v1.1.0 IS published: tag v1.1.0 was created in {target} on commit {tagged[:12]}")
    assert "but reading the tag back to check it failed (reading" in message
    assert f"Check it with `corpus-tools releases {target}`" in message and "do not publish v1.1.0 again" in message

    hub_server.fail_next("GET", f"/api/datasets/{hub_repo_id}/revision/v1.2.0", status=500, times=20)
    run = _cli("publish", str(releases["v1.2.0"]), "--to", target, cwd=tmp_path)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("Error: v1.2.0 IS published: tag v1.2.0 was created")
    listed = _cli("releases", target, "--json", cwd=tmp_path)
    assert [v["version"] for v in json.loads(listed.stdout)["versions"]] == ["v1.0.0", "v1.1.0", "v1.2.0"]


def test_a_tag_with_an_unreadable_manifest_is_listed_without_counts(hub_server, hub_api, hub_repo_id, releases,
                                                                      tmp_path):
    target = f"hf://datasets/{hub_repo_id}"
    publish_release(releases["v1.0.0"], target)
    odd = hub_server.commit_as_other(hub_repo_id, {"manifest.json": "[]"})
    hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="v1.0.1", revision=odd)
    listed = list_releases(target)
    assert [(v.version, v.counts == {}, v.note) for v in listed] == [
        ("v1.0.0", False, None),
        ("v1.0.1", True, "manifest.json is unreadable (it is not an object with a configs object): counts unknown"),
    ]
    run = _cli("releases", target, cwd=tmp_path)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "counts unknown" in run.stdout


def test_a_missing_tag_leaves_no_temp_folder(hub_server, hub_repo_id, releases, tmp_path, monkeypatch):
    import tempfile

    from corpus_tools.errors import InputError

    publish_release(releases["v1.0.0"], f"hf://datasets/{hub_repo_id}")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(InputError, match="is not published"):
        materialise_release(f"hf://datasets/{hub_repo_id}@v9.0.0")
    assert list(tmp_path.glob("corpus-tools-release-*")) == []


def test_cli_redacts_credentials_in_the_endpoint_and_the_login_token(hub_server, tmp_path):
    """Not only the env-var tokens: user:password@ in a URL, and the token huggingface_hub reads from the login
    file when HF_TOKEN is unset, never appear in an error."""
    host = hub_server.url.removeprefix("http://")
    secret = "hf_SECRET_in_the_endpoint_url_1234"
    run = _cli("releases", "hf://datasets/org/x", cwd=tmp_path,
               env={"HF_TOKEN": "hf_OTHER_token_5678", "HF_ENDPOINT": f"http://user:{secret}@{host}"})
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert run.stderr.startswith("Error: listing hf://datasets/org/x failed") and "http://***@" in run.stderr
    assert secret not in run.stdout + run.stderr

    home = tmp_path / "hf-home"
    home.mkdir()
    login = "hf_login_file_token_9876"
    (home / "token").write_text(login)  # what `hf auth login` stores
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update({"HF_HOME": str(home), "HF_TOKEN_PATH": str(home / "token"),
                "HF_ENDPOINT": f"{hub_server.url}/{login}"})  # an endpoint that echoes the token in the error
    run = subprocess.run([sys.executable, "-m", "corpus_tools", "releases", "hf://datasets/org/x"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert run.stderr.startswith("Error: listing hf://datasets/org/x failed") and "/***/" in run.stderr
    assert login not in run.stdout + run.stderr


# ---- the maintainer's card is never clobbered -------------------------------------------------------------------
HAND_BLOCK = "Contact: the newsroom NLP team.\nCite as: Example et al. (2026), *Arabic news entities*.\n"
HAND_CARD = f"""---
license: cc-by-4.0
pretty_name: Arabic News Entities (curated)
---
# Arabic News Entities

<!-- maintainer:start -->
{HAND_BLOCK}<!-- maintainer:end -->

A paragraph written by hand outside the markers.
"""


def _unnamed_release(root: Path, version: str, texts: dict[str, list[str]], previous: Path | None = None) -> Path:
    """A release built without --name or --license: its pretty_name comes from the folder, its licence is unknown."""
    from release_factory import write_export

    from corpus_tools.build.driver import build_release

    export, splits = write_export(root / f"input-{version}", texts)
    out = root / "arabic-news" / f"v{version}"
    build_release(export, version=version, out=out, splits=splits, previous=previous)
    return out


def test_publish_keeps_the_maintainers_licence_name_and_sections(hub_server, hub_repo_id, tmp_path):
    target = f"hf://datasets/{hub_repo_id}"
    v1 = _unnamed_release(tmp_path, "1.0.0", TEXTS_V1)
    v2 = _unnamed_release(tmp_path, "1.1.0", TEXTS_V2, previous=v1)
    assert json.loads((v1 / "manifest.json").read_text())["card_defaults"] == ["license", "pretty_name"]
    hub_server.create_repo(hub_repo_id)
    hub_server.commit_as_other(hub_repo_id, {"README.md": HAND_CARD}, message="Card written by hand")

    before = _state(hub_server, hub_repo_id)
    dry = _cli("publish", str(v1), "--to", target, "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "card metadata kept from the repository: license, pretty_name" in dry.stderr
    assert "card sections kept from the repository: maintainer block 1" in dry.stderr
    assert _state(hub_server, hub_repo_id) == before  # the dry run published nothing

    for release, version in ((v1, "v1.0.0"), (v2, "v1.1.0")):
        result = publish_release(release, target)
        assert (result.plan.card_kept, result.plan.card_kept_sections) == (["license", "pretty_name"],
                                                                           ["maintainer block 1"])
        assert result.verification.valid
        published = hub_server.repo(hub_repo_id).files(version)["README.md"].decode("utf-8")
        meta, body = split_card(published)
        release_meta, release_body = split_card((release / "README.md").read_text(encoding="utf-8"))
        assert (release_meta["license"], release_meta["pretty_name"]) == ("unknown", "Arabic News")
        assert (meta["license"], meta["pretty_name"]) == ("cc-by-4.0", "Arabic News Entities (curated)")
        assert meta["configs"] == release_meta["configs"] and meta["dataset_info"] == release_meta["dataset_info"]
        empty = "<!-- maintainer:start -->\n<!-- maintainer:end -->\n"
        assert release_body.count(empty) == 1
        assert body == release_body.replace(empty, f"<!-- maintainer:start -->\n{HAND_BLOCK}<!-- maintainer:end -->\n")
        assert body.index(HAND_BLOCK) < body.index("## How to load")  # where the release card leaves it
        assert "written by hand outside the markers" not in body
        assert f"### {version}" in body
    assert "### v1.0.0" in body and TEST_SPLIT_FILES[1] not in hub_server.repo(hub_repo_id).files("v1.1.0")
    assert [c["config_name"] for c in meta["configs"]] == [c["config_name"] for c in release_meta["configs"]]


def test_a_repository_card_that_is_not_utf8_stops_the_publish(hub_server, hub_repo_id, releases):
    target = f"hf://datasets/{hub_repo_id}"
    hub_server.create_repo(hub_repo_id)
    hub_server.commit_as_other(hub_repo_id, {"README.md": HAND_CARD.encode("utf-8") + b"caf\xe9\n"})
    before = _state(hub_server, hub_repo_id)
    with pytest.raises(PublishError, match=r"README.md is not UTF-8 \(byte 0xe9 at offset"):
        publish_release(releases["v1.0.0"], target, dry_run=True)
    with pytest.raises(PublishError, match="Nothing was published"):
        publish_release(releases["v1.0.0"], target)
    assert _state(hub_server, hub_repo_id) == before

"""The Hub-protocol test server, driven by the real huggingface_hub and datasets clients."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets.exceptions import DatasetNotFoundError
from hubserver import git_blob_oid
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    DatasetCard,
    HfApi,
    HfFileSystem,
    hf_hub_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

pytestmark = pytest.mark.hub

README = """---
license: cc-by-4.0
configs:
- config_name: docs
  default: true
  data_files:
  - split: train
    path: data/docs/train-*.parquet
- config_name: pairs
  data_files:
  - split: train
    path: data/pairs/train-*.parquet
---
# Test corpus {version}
"""
BAD_README = "---\nconfigs: [unclosed\n---\n# broken\n"


def write_release(root: Path, version: str, doc_ids: list[str], with_notes: bool) -> Path:
    """A tiny hand-made release folder: README with a configs block, two Parquet configs, optional notes."""
    root.mkdir(parents=True)
    (root / "README.md").write_text(README.format(version=version), encoding="utf-8")
    for config, table in {
        "docs": pa.table({"id": doc_ids, "text": [f"نص {i}" for i in doc_ids]}),
        "pairs": pa.table({"head": doc_ids[:1], "tail": doc_ids[-1:]}),
    }.items():
        (root / "data" / config).mkdir(parents=True)
        pq.write_table(table, root / "data" / config / "train-00000-of-00001.parquet")
    if with_notes:
        (root / "notes.txt").write_text("draft notes\n", encoding="utf-8")
    return root


def publish(api: HfApi, repo_id: str, root: Path, version: str) -> str:
    """The recipe from the notes: one create_commit (adds + stale deletes, guarded by parent_commit), then a tag."""
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    head = api.dataset_info(repo_id, revision="main")
    local = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    stale = {s.rfilename for s in head.siblings} - local - {".gitattributes"}
    ops = [CommitOperationAdd(rel, str(root / rel)) for rel in sorted(local)]
    ops += [CommitOperationDelete(rel) for rel in sorted(stale)]
    commit = api.create_commit(repo_id, repo_type="dataset", operations=ops, parent_commit=head.sha,
                               commit_message=f"Release {version}")
    api.create_tag(repo_id, repo_type="dataset", tag=version, revision=commit.oid, tag_message=f"notes {version}")
    return commit.oid


@pytest.fixture
def releases(tmp_path: Path) -> dict[str, Path]:
    return {
        "v1.0.0": write_release(tmp_path / "v1.0.0", "v1.0.0", ["a1", "a2"], with_notes=True),
        "v1.1.0": write_release(tmp_path / "v1.1.0", "v1.1.0", ["b1", "b2", "b3"], with_notes=False),
    }


def test_wiring_points_both_libraries_at_the_server(hub_server):
    import huggingface_hub.constants

    assert huggingface_hub.constants.ENDPOINT == hub_server.url
    assert datasets.config.HF_ENDPOINT == hub_server.url
    assert huggingface_hub.constants.HF_HUB_DISABLE_XET
    assert os.environ["HF_TOKEN"] == hub_server.token
    assert not huggingface_hub.constants.is_offline_mode()


def test_create_repo_makes_main_with_gitattributes_and_refuses_a_duplicate(hub_api, hub_server, hub_repo_id):
    url = hub_api.create_repo(hub_repo_id, repo_type="dataset")
    assert (url.repo_id, url.repo_type) == (hub_repo_id, "dataset")
    state = hub_server.repo(hub_repo_id)
    assert list(state.branches) == ["main"] and list(state.files()) == [".gitattributes"]
    with pytest.raises(HfHubHTTPError) as exc:
        hub_api.create_repo(hub_repo_id, repo_type="dataset")
    assert exc.value.response.status_code == 409
    assert hub_api.create_repo(hub_repo_id, repo_type="dataset", exist_ok=True).repo_id == hub_repo_id
    assert len(hub_server.repo(hub_repo_id).commits) == 1

    hub_api.create_repo(hub_repo_id, repo_type="model")  # same id, other repo type: a separate repo
    assert hub_api.model_info(hub_repo_id).siblings[0].rfilename == ".gitattributes"


def test_write_routes_check_the_token_and_private_repos_hide(hub_server, hub_repo_id):
    with pytest.raises(HfHubHTTPError) as exc:
        HfApi(endpoint=hub_server.url, token="hf_wrong_token_1111").create_repo(hub_repo_id, repo_type="dataset")
    assert exc.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as exc:
        HfApi(endpoint=hub_server.url, token=False).create_repo(hub_repo_id, repo_type="dataset")
    assert exc.value.response.status_code == 401
    assert not hub_server.has_repo(hub_repo_id)

    HfApi(endpoint=hub_server.url).create_repo(hub_repo_id, repo_type="dataset", private=True)  # token from env
    assert hub_server.repo(hub_repo_id).private
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub_server.url, token=False).dataset_info(hub_repo_id)
    assert HfApi(endpoint=hub_server.url).dataset_info(hub_repo_id).private is True


def test_create_commit_regular_lfs_and_deletions(hub_api, hub_server, hub_repo_id, releases):
    sha = publish(hub_api, hub_repo_id, releases["v1.0.0"], "v1.0.0")
    state = hub_server.repo(hub_repo_id)
    root = releases["v1.0.0"]
    parquet = "data/docs/train-00000-of-00001.parquet"
    assert state.head() == sha and state.commit(sha).title == "Release v1.0.0"
    assert state.files() == {".gitattributes": state.files()[".gitattributes"],
                             **{p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}}
    assert state.commit().lfs_paths == {parquet, "data/pairs/train-00000-of-00001.parquet"}
    assert hashlib.sha256((root / parquet).read_bytes()).hexdigest() in state.lfs_objects
    # git-style oids for regular files, LFS sha256 for LFS files, as the real Hub reports them
    info = {s.rfilename: s for s in hub_api.dataset_info(hub_repo_id, files_metadata=True).siblings}
    assert info["README.md"].blob_id == git_blob_oid((root / "README.md").read_bytes())
    assert info[parquet].lfs.sha256 == hashlib.sha256((root / parquet).read_bytes()).hexdigest()
    assert hub_api.dataset_info(hub_repo_id).card_data["license"] == "cc-by-4.0"

    second = hub_api.create_commit(hub_repo_id, repo_type="dataset", commit_message="prune", operations=[
        CommitOperationDelete("notes.txt"), CommitOperationDelete("data/pairs/")])
    after = hub_server.repo(hub_repo_id)
    assert after.commit(second.oid).parents == (sha,)
    assert sorted(after.files()) == [".gitattributes", "README.md", parquet]
    assert [c.title for c in hub_api.list_repo_commits(hub_repo_id, repo_type="dataset")] == [
        "prune", "Release v1.0.0", "initial commit"]
    with pytest.raises(EntryNotFoundError):
        hub_api.create_commit(hub_repo_id, repo_type="dataset", commit_message="x",
                              operations=[CommitOperationDelete("notes.txt")])


def test_unchanged_files_are_skipped_client_side(hub_api, hub_server, hub_repo_id, releases):
    root = releases["v1.0.0"]
    sha = publish(hub_api, hub_repo_id, root, "v1.0.0")
    ops = [CommitOperationAdd(p.relative_to(root).as_posix(), str(p)) for p in sorted(root.rglob("*")) if p.is_file()]
    again = hub_api.create_commit(hub_repo_id, repo_type="dataset", operations=ops, commit_message="again")
    assert again.oid == sha  # every preupload oid matched: no commit was sent, the old head came back
    assert len(hub_server.repo(hub_repo_id).commits) == 2

    (root / "notes.txt").write_text("changed\n", encoding="utf-8")
    ops = [CommitOperationAdd(p.relative_to(root).as_posix(), str(p)) for p in sorted(root.rglob("*")) if p.is_file()]
    hub_server.clear_requests()
    changed = hub_api.create_commit(hub_repo_id, repo_type="dataset", operations=ops, commit_message="notes")
    assert changed.oid != sha and hub_server.repo(hub_repo_id).files()["notes.txt"] == b"changed\n"
    assert not [r for r in hub_server.requests if r.path.startswith("/lfs-upload/")]  # LFS objects already stored


def test_stale_parent_commit_is_refused_with_412(hub_api, hub_server, hub_repo_id, releases):
    publish(hub_api, hub_repo_id, releases["v1.0.0"], "v1.0.0")
    head = hub_api.dataset_info(hub_repo_id).sha
    other = hub_server.commit_as_other(hub_repo_id, {"OTHER.md": "someone else\n"})
    with pytest.raises(HfHubHTTPError) as exc:
        hub_api.create_commit(hub_repo_id, repo_type="dataset", parent_commit=head, commit_message="mine",
                              operations=[CommitOperationAdd("mine.txt", b"mine\n")])
    assert exc.value.response.status_code == 412
    assert hub_server.repo(hub_repo_id).head() == other

    # the armed race lands between the client's read of the head and its commit request
    head = hub_api.dataset_info(hub_repo_id).sha
    hub_server.inject_before_next_commit(hub_repo_id, {"OTHER.md": None, "RACE.md": b"race\n"})
    with pytest.raises(HfHubHTTPError) as exc:
        hub_api.create_commit(hub_repo_id, repo_type="dataset", parent_commit=head, commit_message="mine",
                              operations=[CommitOperationAdd("mine.txt", b"mine\n")])
    assert exc.value.response.status_code == 412
    state = hub_server.repo(hub_repo_id)
    assert state.commit().author == "someone-else" and "RACE.md" in state.files() and "OTHER.md" not in state.files()
    assert "mine.txt" not in state.files() and state.tags == {"v1.0.0": state.commit("v1.0.0").oid}


def test_tags_refs_and_branches(hub_api, hub_server, hub_repo_id, releases):
    sha = publish(hub_api, hub_repo_id, releases["v1.0.0"], "v1.0.0")
    refs = hub_api.list_repo_refs(hub_repo_id, repo_type="dataset")
    assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [("v1.0.0", "refs/tags/v1.0.0", sha)]
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", sha)]
    assert hub_server.repo(hub_repo_id).tag_messages == {"v1.0.0": "notes v1.0.0"}

    hub_server.commit_as_other(hub_repo_id, {"x.txt": "x"})
    with pytest.raises(HfHubHTTPError) as exc:
        hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="v1.0.0", revision="main")
    assert exc.value.response.status_code == 409
    hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="v1.0.0", revision="main", exist_ok=True)
    assert hub_server.repo(hub_repo_id).tags["v1.0.0"] == sha  # the old target stays
    with pytest.raises(RevisionNotFoundError):
        hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="v2", revision="0" * 40)

    hub_api.create_branch(hub_repo_id, repo_type="dataset", branch="dev", revision="v1.0.0")
    assert hub_server.repo(hub_repo_id).branches["dev"] == sha
    hub_api.delete_tag(hub_repo_id, repo_type="dataset", tag="v1.0.0")
    assert hub_api.list_repo_refs(hub_repo_id, repo_type="dataset").tags == []
    with pytest.raises(RevisionNotFoundError):
        hub_api.delete_tag(hub_repo_id, repo_type="dataset", tag="v1.0.0")


def test_dataset_info_and_downloads_by_tag_and_sha(hub_api, hub_server, hub_repo_id, releases):
    old = publish(hub_api, hub_repo_id, releases["v1.0.0"], "v1.0.0")
    new = publish(hub_api, hub_repo_id, releases["v1.1.0"], "v1.1.0")
    assert hub_api.dataset_info(hub_repo_id, revision="v1.0.0").sha == old
    assert hub_api.dataset_info(hub_repo_id, revision=old).sha == old
    assert hub_api.dataset_info(hub_repo_id).sha == new
    assert "notes.txt" not in {s.rfilename for s in hub_api.dataset_info(hub_repo_id, revision="v1.1.0").siblings}
    with pytest.raises(RevisionNotFoundError):
        hub_api.dataset_info(hub_repo_id, revision="v9.9.9")
    with pytest.raises(RepositoryNotFoundError):
        hub_api.dataset_info("test-org/does-not-exist")

    parquet = "data/docs/train-00000-of-00001.parquet"
    for rev, root in ((old, releases["v1.0.0"]), ("v1.1.0", releases["v1.1.0"])):
        for name in ("README.md", parquet):
            path = hf_hub_download(hub_repo_id, name, repo_type="dataset", revision=rev, force_download=True)
            assert Path(path).read_bytes() == (root / name).read_bytes()
    assert Path(hf_hub_download(hub_repo_id, "notes.txt", repo_type="dataset", revision="v1.0.0")).read_bytes() == \
        b"draft notes\n"
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(hub_repo_id, "notes.txt", repo_type="dataset", revision="v1.1.0")


def test_hffs_glob_tree_paths_info_and_ranges(hub_api, hub_server, hub_repo_id, releases):
    old = publish(hub_api, hub_repo_id, releases["v1.0.0"], "v1.0.0")
    publish(hub_api, hub_repo_id, releases["v1.1.0"], "v1.1.0")
    fs = HfFileSystem()
    base = f"datasets/{hub_repo_id}"
    assert fs.glob(f"{base}@v1.0.0/data/*/*.parquet") == [
        f"{base}@v1.0.0/data/{config}/train-00000-of-00001.parquet" for config in ("docs", "pairs")]
    assert sorted(fs.ls(f"{base}@{old}", detail=False)) == sorted(
        f"{base}@{old}/{n}" for n in (".gitattributes", "README.md", "data", "notes.txt"))
    assert fs.info(f"{base}@v1.0.0/data")["type"] == "directory"
    assert not fs.exists(f"{base}@v1.1.0/notes.txt") and fs.exists(f"{base}@v1.0.0/notes.txt")

    tree = hub_api.list_repo_tree(hub_repo_id, repo_type="dataset", revision="v1.0.0", recursive=True)
    assert sorted(e.path for e in tree) == [".gitattributes", "README.md", "data", "data/docs",
                                           "data/docs/train-00000-of-00001.parquet", "data/pairs",
                                           "data/pairs/train-00000-of-00001.parquet", "notes.txt"]
    assert [e.path for e in hub_api.list_repo_tree(hub_repo_id, "data/docs", repo_type="dataset")] == [
        "data/docs/train-00000-of-00001.parquet"]
    with pytest.raises(EntryNotFoundError):
        list(hub_api.list_repo_tree(hub_repo_id, "nope", repo_type="dataset"))
    infos = hub_api.get_paths_info(hub_repo_id, ["README.md", "data", "missing.txt"], repo_type="dataset",
                                   revision="v1.0.0", expand=True)
    assert [(type(i).__name__, i.path, i.last_commit.oid) for i in infos] == [
        ("RepoFile", "README.md", old), ("RepoFolder", "data", old)]

    hub_server.clear_requests()
    data = (releases["v1.1.0"] / "README.md").read_bytes()
    with fs.open(f"{base}@v1.1.0/README.md", "rb") as handle:
        handle.seek(4)
        assert handle.read(10) == data[4:14]
    assert (fs.read_bytes(f"{base}@v1.1.0/README.md", start=4, end=14)) == data[4:14]
    assert any(r.status == 206 for r in hub_server.requests)


def test_load_dataset_pins_each_tag_to_its_own_rows(hub_api, hub_server, hub_repo_id, releases):
    first = publish(hub_api, hub_repo_id, releases["v1.0.0"], "v1.0.0")
    publish(hub_api, hub_repo_id, releases["v1.1.0"], "v1.1.0")
    load = datasets.load_dataset
    assert load(hub_repo_id, "docs", revision="v1.0.0")["train"]["id"] == ["a1", "a2"]
    assert load(hub_repo_id, "docs", revision="v1.1.0")["train"]["id"] == ["b1", "b2", "b3"]
    assert load(hub_repo_id, "pairs", revision=first)["train"][0] == {"head": "a1", "tail": "a2"}
    assert load(hub_repo_id, revision="v1.1.0")["train"]["text"] == ["نص b1", "نص b2", "نص b3"]  # default config
    assert load(hub_repo_id, "docs")["train"]["id"] == ["b1", "b2", "b3"]  # main (datasets-server lookup fails)
    with pytest.raises(DatasetNotFoundError):
        load(hub_repo_id, "docs", revision="v9.9.9")


def test_validate_yaml_accepts_good_cards_and_rejects_bad_ones(hub_api, hub_server, hub_repo_id):
    DatasetCard(README.format(version="v1")).validate(repo_type="dataset")
    with pytest.raises(ValueError, match='^"configs" must be a list of mappings$'):
        DatasetCard("---\nconfigs: {docs: 1}\n---\n").validate(repo_type="dataset")
    for bad in (BAD_README, "---\n- just\n- a list\n---\n"):  # DatasetCard() itself refuses to parse these
        response = httpx.post(f"{hub_server.url}/api/validate-yaml", json={"repoType": "dataset", "content": bad})
        assert response.status_code == 400 and response.json()["errors"][0]["message"]
    hub_api.create_repo(hub_repo_id, repo_type="dataset")
    hub_server.clear_requests()
    with pytest.raises(ValueError, match="Invalid metadata"):
        hub_api.create_commit(hub_repo_id, repo_type="dataset", commit_message="bad card",
                              operations=[CommitOperationAdd("README.md", BAD_README.encode())])
    assert [(r.path, r.status) for r in hub_server.requests] == [("/api/validate-yaml", 400)]
    assert len(hub_server.repo(hub_repo_id).commits) == 1


def test_fault_injection_fails_the_next_matching_request(hub_api, hub_server, hub_repo_id):
    hub_api.create_repo(hub_repo_id, repo_type="dataset")
    hub_server.fail_next("POST", f"/api/datasets/{hub_repo_id}/tag/", status=500)
    with pytest.raises(HfHubHTTPError) as exc:
        hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="v1.0.0")
    assert exc.value.response.status_code == 500
    assert hub_server.repo(hub_repo_id).tags == {}
    hub_api.create_tag(hub_repo_id, repo_type="dataset", tag="v1.0.0")  # one-shot
    assert list(hub_server.repo(hub_repo_id).tags) == ["v1.0.0"]


def test_a_subprocess_with_the_same_environment_reaches_the_server(hub_server, hub_repo_id):
    hub_server.create_repo(hub_repo_id)
    sha = hub_server.commit_as_other(hub_repo_id, {"a.txt": "a"})
    script = ("import json, sys; from huggingface_hub import HfApi; api = HfApi(); "
              "api.create_tag(sys.argv[1], repo_type='dataset', tag='v0.1.0'); "
              "print(json.dumps(api.dataset_info(sys.argv[1], revision='v0.1.0').sha))")
    out = subprocess.run([sys.executable, "-c", script, hub_repo_id], env=os.environ.copy(), capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert json.loads(out) == sha
    assert hub_server.repo(hub_repo_id).tags == {"v0.1.0": sha}
    assert hub_server.token not in out

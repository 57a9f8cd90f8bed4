"""Publishing to a local folder of versions, plus the pure parts of publish (targets, versions, card merge,
verification). Real builds, real files, real ``load_dataset``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from release_factory import TEXTS_V1, TEXTS_V2, copy_release, make_release

from corpus_tools.errors import InputError, ReleaseError, VersionExists, VersionNotIncreasing
from corpus_tools.publish import (
    list_releases,
    materialise_release,
    parse_target,
    parse_version,
    publish_release,
)
from corpus_tools.publish.verify import sha256_file, verify_folder
from corpus_tools.release.card import merge_card, split_card


# ---- targets and versions ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "where", "version"),
    [
        ("./releases/news", "local", "releases/news", None),
        ("releases/news/v1.2.0", "local", "releases/news", "v1.2.0"),
        ("releases/news@1.2.0", "local", "releases/news", "v1.2.0"),
        ("hf://datasets/org/news", "hub", "org/news", None),
        ("hf://datasets/org/news@v2.0.0-rc.1", "hub", "org/news", "v2.0.0-rc.1"),
        ("releases/name:with:colons", "local", "releases/name:with:colons", None),
        ("news:v1", "local", "news:v1", None),
    ],
)
def test_parse_target(text, kind, where, version):
    target = parse_target(text)
    assert target.kind == kind
    assert (target.repo_id if kind == "hub" else target.path.as_posix()) == where
    assert (str(target.version) if target.version else None) == version


@pytest.mark.parametrize("text", ["hf://models/org/x", "hf://datasets/org", "hf://datasets/org/x@latest", "",
                                  "hf:/datasets/org/x", "HF://datasets/org/x", "Hf://datasets/org/x",
                                  "hf:datasets/org/x", "hf:", "ftp://host/x", "http://example.org/x",
                                  "https://huggingface.co/datasets/org/x", "s3://bucket/x", "file:///tmp/x",
                                  "git+ssh://host/x", "ftp://host/x@v1.0.0"])
def test_parse_target_refuses(text):
    with pytest.raises(InputError):
        parse_target(text)


def test_semver_precedence():
    ordered = ["0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]
    versions = [parse_version(v) for v in ordered]
    assert sorted(reversed(versions)) == versions
    assert str(parse_version("1.2.3")) == str(parse_version("v1.2.3")) == "v1.2.3"
    for bad in ("1.2", "01.2.3", "1.2.3+build", "v1.2.x"):
        with pytest.raises(InputError):
            parse_version(bad)


# ---- card merge --------------------------------------------------------------------------------------------------
RELEASE_CARD = """---
language:
- ar
tags:
- ner
configs:
- config_name: documents
  data_files:
  - split: train
    path: data/documents/train-*.parquet
dataset_info:
- config_name: documents
  features:
  - name: id
    dtype: string
---
# Release body
"""

REPO_CARD = """---
thumbnail: https://example.org/cover.png
tags:
- custom
- ner
configs:
- config_name: gone
  data_files:
  - split: train
    path: data/gone/*.parquet
---
# Someone's old body
"""


def test_merge_keeps_foreign_keys_and_regenerates_configs():
    merged = merge_card(RELEASE_CARD.encode(), REPO_CARD.encode())
    meta, body = split_card(merged.content.decode())
    assert meta["thumbnail"] == "https://example.org/cover.png"
    assert meta["tags"] == ["ner", "custom"]
    assert [c["config_name"] for c in meta["configs"]] == ["documents"]
    assert meta["dataset_info"] == split_card(RELEASE_CARD)[0]["dataset_info"]
    assert body == "# Release body\n"
    assert merged.kept_keys == ["tags['custom']", "thumbnail"]
    # idempotent: merging again over the merged card gives the same bytes
    assert merge_card(RELEASE_CARD.encode(), merged.content).content == merged.content


def test_merge_without_foreign_keys_keeps_release_bytes():
    plain = "---\nlanguage:\n- ar\n---\nold body\n"
    assert merge_card(RELEASE_CARD.encode(), plain.encode()).content == RELEASE_CARD.encode()
    assert merge_card(RELEASE_CARD.encode(), None).content == RELEASE_CARD.encode()
    assert merge_card(RELEASE_CARD.encode(), b"no front matter at all").content == RELEASE_CARD.encode()


# ---- verification ------------------------------------------------------------------------------------------------
def test_verify_folder_reports_each_difference(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.parquet").write_bytes(b"a")
    (tmp_path / "b.json").write_bytes(b"changed")
    (tmp_path / "extra.txt").write_bytes(b"x")
    (tmp_path / ".gitattributes").write_bytes(b"*")
    expected = {"data/a.parquet": sha256_file(tmp_path / "data/a.parquet"),
                "b.json": "0" * 64, "c.json": "1" * 64}
    report = verify_folder(tmp_path, expected, ignore=frozenset({".gitattributes"}), label="here")
    assert [(p.code, p.file) for p in report] == [
        ("published-file-mismatch", "here/b.json"),
        ("published-file-missing", "here/c.json"),
        ("published-file-unexpected", "here/extra.txt"),
    ]
    assert not report.valid


# ---- local target end to end -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("builds")
    return {
        "v1.0.0": make_release(root, "1.0.0", TEXTS_V1),
        "v1.1.0": make_release(root, "1.1.0", TEXTS_V2),
        "v1.0.5": make_release(root, "1.0.5", TEXTS_V1),
    }


def _tree_state(root: Path) -> dict[str, tuple[int, str]]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): (p.stat().st_mode, sha256_file(p) if p.is_file() else "")
            for p in sorted(root.rglob("*"))}


def _texts(folder: Path, config: str = "documents") -> dict[str, list[str]]:
    from datasets import load_dataset

    dataset = load_dataset(str(folder), config)
    return {split: sorted(dataset[split]["text"]) for split in dataset}


def test_local_publish_end_to_end(tmp_path, releases):
    target = tmp_path / "releases" / "news"
    first = publish_release(releases["v1.0.0"], str(target))
    assert first.location.endswith("news/v1.0.0")
    assert first.verification is not None and first.verification.valid
    assert first.load_line == f'load_dataset("{target}/v1.0.0", "documents")'
    second = publish_release(releases["v1.1.0"], str(target))
    assert second.plan.version == "v1.1.0"

    # every file is a read-only byte copy of the release; folders are read-only too
    for version in ("v1.0.0", "v1.1.0"):
        folder = target / version
        for path in folder.rglob("*"):
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0, path
        copied = {p.relative_to(folder).as_posix(): sha256_file(p) for p in folder.rglob("*") if p.is_file()}
        original = {p.relative_to(releases[version]).as_posix(): sha256_file(p)
                    for p in releases[version].rglob("*") if p.is_file()}
        assert copied == original

    # each version loads its own rows
    assert _texts(target / "v1.0.0") == {s: sorted(t) for s, t in TEXTS_V1.items()}
    assert _texts(target / "v1.1.0") == {s: sorted(t) for s, t in TEXTS_V2.items()}

    index = json.loads((target / "index.json").read_text(encoding="utf-8"))
    assert [e["version"] for e in index["versions"]] == ["v1.0.0", "v1.1.0"]
    entry = index["versions"][0]
    assert entry["manifest_sha256"] == sha256_file(releases["v1.0.0"] / "manifest.json")
    assert entry["counts"]["documents"] == {s: len(t) for s, t in TEXTS_V1.items()}
    assert entry["published_at"].endswith("Z")
    assert stat.S_IMODE((target / "index.json").stat().st_mode) == 0o644  # readable like the version folders

    listed = list_releases(str(target))
    assert [(v.version, v.counts["documents"]) for v in listed] == [
        ("v1.0.0", {s: len(t) for s, t in TEXTS_V1.items()}),
        ("v1.1.0", {s: len(t) for s, t in TEXTS_V2.items()}),
    ]
    assert materialise_release(f"{target}@v1.0.0") == target / "v1.0.0"
    assert materialise_release(target / "v1.1.0") == target / "v1.1.0"


def test_existing_and_lower_versions_are_refused(tmp_path, releases):
    target = tmp_path / "news"
    publish_release(releases["v1.0.0"], str(target))
    publish_release(releases["v1.1.0"], str(target))
    before = _tree_state(target)
    with pytest.raises(VersionExists, match="v1.0.0 is already published"):
        publish_release(releases["v1.0.0"], str(target))
    with pytest.raises(VersionNotIncreasing, match="v1.0.5 is not above the latest published version v1.1.0"):
        publish_release(releases["v1.0.5"], str(target))
    with pytest.raises(VersionExists):
        publish_release(releases["v1.0.0"], str(target), dry_run=True)
    assert _tree_state(target) == before


def test_dry_run_changes_nothing(tmp_path, releases):
    target = tmp_path / "news"
    result = publish_release(releases["v1.0.0"], str(target), dry_run=True)
    assert not target.exists()
    assert result.dry_run and result.verification is None
    assert result.plan.added == sorted(
        p.relative_to(releases["v1.0.0"]).as_posix() for p in releases["v1.0.0"].rglob("*") if p.is_file())
    assert result.plan.deleted == [] and result.plan.replaced == []
    publish_release(releases["v1.0.0"], str(target))
    before = _tree_state(target)
    publish_release(releases["v1.1.0"], str(target), dry_run=True)
    assert _tree_state(target) == before


def test_interrupted_publish_leaves_no_version(tmp_path, releases):
    target = tmp_path / "news"
    publish_release(releases["v1.0.0"], str(target))
    before = _tree_state(target)
    copied: list[str] = []

    def interrupt(message: str) -> None:
        if message.startswith("copy "):
            copied.append(message)
            if len(copied) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish_release(releases["v1.1.0"], str(target), progress=interrupt)
    assert len(copied) == 2
    assert not (target / "v1.1.0").exists()
    assert _tree_state(target) == before  # no temp folder either
    assert [v.version for v in list_releases(str(target))] == ["v1.0.0"]

    # a crash that could not clean up (kill -9) leaves a hidden temp folder: never listed, removed next time
    stale = target / ".tmp-v1.1.0-crashed"
    (stale / "data").mkdir(parents=True)
    (stale / "data/partial.parquet").write_bytes(b"PAR1")
    os.chmod(stale / "data", 0o555)
    assert [v.version for v in list_releases(str(target))] == ["v1.0.0"]
    publish_release(releases["v1.1.0"], str(target))
    assert not stale.exists()
    assert [v.version for v in list_releases(str(target))] == ["v1.0.0", "v1.1.0"]


def test_version_folder_missing_from_index_is_still_listed(tmp_path, releases):
    target = tmp_path / "news"
    publish_release(releases["v1.0.0"], str(target))
    publish_release(releases["v1.1.0"], str(target))
    index = json.loads((target / "index.json").read_text(encoding="utf-8"))
    index["versions"] = index["versions"][:1]  # as if the run died between rename and index write
    (target / "index.json").write_text(json.dumps(index), encoding="utf-8")
    assert [v.version for v in list_releases(str(target))] == ["v1.0.0", "v1.1.0"]
    with pytest.raises(VersionExists):
        publish_release(releases["v1.1.0"], str(target))


def test_release_failing_its_check_is_not_published(tmp_path, releases):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(releases["v1.1.0"], broken)
    data = next(broken.glob("data/documents/*.parquet"))
    data.write_bytes(data.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ReleaseError) as info:
        publish_release(broken, str(tmp_path / "news"))
    assert info.value.report is not None and not info.value.report.valid
    assert not (tmp_path / "news").exists()


def test_cli_a_release_with_an_unreadable_file_is_refused_not_a_traceback(releases):
    """Publish runs check-release first: a data file the user cannot read (its hash is taken in threads) is
    refused like any failed check, exit 1 with one Error line (issue 23)."""
    import shutil

    from unprivileged import run_cli_as_nobody, shared_tmp

    with shared_tmp() as folder:
        release = folder / "release"
        shutil.copytree(releases["v1.0.0"], release)
        for path in [release, *release.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        target = folder / "target"
        target.mkdir(mode=0o777)
        argv = ["publish", str(release), "--to", str(target / "news"), "--quiet"]
        code, output = run_cli_as_nobody([*argv, "--dry-run"], warm=[*argv, "--dry-run"])
        assert code == 0, output
        next(release.glob("data/documents/*.parquet")).chmod(0)
        code, output = run_cli_as_nobody(argv)
        assert "Traceback" not in output
        lines = output.strip().splitlines()
        rel = next(release.glob("data/documents/*.parquet")).relative_to(release).as_posix()
        assert code == 1 and [line for line in lines if line.startswith(("error:", "Error:"))] == [
            f"error: [release-file-unreadable] {rel}: {rel} cannot be read (Permission denied); make it readable (or"
            " build the release again) and check it again.",
            f"Error: {release} failed check-release with 1 errors; nothing was published (run `corpus-tools"
            " check-release` for details)"], output
        assert list(target.iterdir()) == []


# ---- CLI ---------------------------------------------------------------------------------------------------------
def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_cli_publish_and_releases(tmp_path, releases):
    dry = _cli("publish", str(releases["v1.0.0"]), "--dry-run", cwd=tmp_path)  # default: ./releases/<name>
    assert dry.returncode == 0, dry.stderr
    assert "Plan: publish arabic-news v1.0.0 to ./releases/arabic-news:" in dry.stderr
    assert "add     manifest.json" in dry.stderr and "Dry run: nothing was changed." in dry.stderr
    assert not (tmp_path / "releases").exists()

    done = _cli("publish", str(releases["v1.0.0"]), "--to", "./releases/news", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["published"] is True and result["verification"]["valid"] is True
    assert result["load_line"] == 'load_dataset("./releases/news/v1.0.0", "documents")'
    assert set(result) == {"published", "dry_run", "location", "commit", "published_at", "load_line", "plan",
                           "verification", "warnings"}
    assert result["warnings"] == []

    human = _cli("publish", str(releases["v1.1.0"]), "--to", "./releases/news", cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    assert human.stdout.strip() == 'load_dataset("./releases/news/v1.1.0", "documents")'

    again = _cli("publish", str(releases["v1.0.0"]), "--to", "./releases/news", cwd=tmp_path)
    assert again.returncode == 3
    assert again.stderr.strip().startswith("Error: v1.0.0 is already published")
    assert "Traceback" not in again.stderr

    listed = _cli("releases", "./releases/news", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [v["version"] for v in data["versions"]] == ["v1.0.0", "v1.1.0"]
    assert data["versions"][1]["counts"]["documents"] == {s: len(t) for s, t in TEXTS_V2.items()}
    table = _cli("releases", "./releases/news", cwd=tmp_path)
    assert table.returncode == 0 and "v1.1.0" in table.stdout

    diff = _cli("diff", "./releases/news@v1.0.0", "./releases/news/v1.1.0", "--json", cwd=tmp_path)
    assert diff.returncode == 0, diff.stderr
    direct = _cli("diff", str(releases["v1.0.0"]), str(releases["v1.1.0"]), "--json", cwd=tmp_path)
    assert json.loads(diff.stdout) == json.loads(direct.stdout)


def test_cli_refusals_exit_codes(tmp_path, releases):
    bad_target = _cli("publish", str(releases["v1.0.0"]), "--to", "hf://models/org/x", cwd=tmp_path)
    assert bad_target.returncode == 2 and "Traceback" not in bad_target.stderr
    missing = _cli("publish", str(tmp_path / "nope"), "--to", "./releases/x", cwd=tmp_path)
    assert missing.returncode == 3 and "Traceback" not in missing.stderr and "does not exist" in missing.stderr
    nothing = _cli("releases", "./releases/none", cwd=tmp_path)
    assert nothing.returncode == 3 and nothing.stderr.startswith("Error: nothing is published")
    (tmp_path / "a-file").write_text("not a folder")
    blocked = _cli("publish", str(releases["v1.0.0"]), "--to", "./a-file/news", cwd=tmp_path)
    assert blocked.returncode == 3 and blocked.stderr.startswith("Error: cannot write to a-file/news")


def test_cli_publish_of_a_failing_release_prints_its_report(tmp_path, releases):
    import shutil

    from corpus_tools.release.checks import check_release

    broken = tmp_path / "broken"
    shutil.copytree(releases["v1.1.0"], broken)
    (broken / "splits.json").write_text("{}", encoding="utf-8")
    run = _cli("publish", str(broken), "--to", "./releases/news", "--json", cwd=tmp_path)
    assert run.returncode == 1
    assert json.loads(run.stdout) == check_release(broken).to_dict()
    assert run.stderr.startswith("Error: ") and "failed check-release" in run.stderr
    assert not (tmp_path / "releases").exists()


def test_concurrent_local_publish_is_refused(tmp_path, releases):
    from filelock import FileLock

    from corpus_tools.errors import PublishError

    target = tmp_path / "news"
    target.mkdir()
    with FileLock(str(target / ".lock")):  # another publish holds the target
        with pytest.raises(PublishError, match="another publish to .* is running"):
            publish_release(releases["v1.0.0"], str(target))
    assert not (target / "v1.0.0").exists()
    publish_release(releases["v1.0.0"], str(target))
    assert (target / "v1.0.0" / "manifest.json").is_file()


def test_no_lock_file_is_left_in_the_target_or_the_release(tmp_path, releases):
    """The target's lock is there while a publish runs and gone after it, as a killed publish's is after the next;
    a release folder holds no lock file, which check-release would report as unlisted."""
    from corpus_tools.release.checks import check_release

    target = tmp_path / "news"
    seen: list[bool] = []
    publish_release(releases["v1.0.0"], str(target), progress=lambda m: seen.append((target / ".lock").is_file()))
    assert seen and all(seen)  # held while the files were copied
    assert sorted(p.name for p in target.iterdir()) == ["index.json", "v1.0.0"]
    for folder in (releases["v1.0.0"], target / "v1.0.0"):
        assert not [p for p in folder.rglob("*.lock")], folder
        assert check_release(folder).valid
    (target / ".lock").write_bytes(b"")  # left by a publish that was killed: no one holds it
    publish_release(releases["v1.1.0"], str(target))
    assert sorted(p.name for p in target.iterdir()) == ["index.json", "v1.0.0", "v1.1.0"]
    assert not [p for p in releases["v1.1.0"].parent.glob("*.lock")]  # nor beside the release folders

    stray = copy_release(releases["v1.0.0"], tmp_path)
    (stray / "README.md.lock").write_bytes(b"")
    assert [(p.code, p.file) for p in check_release(stray).problems] == [("release-file-unlisted", "README.md.lock")]


def test_a_version_folder_made_during_the_publish_is_not_replaced(tmp_path, releases):
    target = tmp_path / "releases" / "news"
    made = target / "v1.0.0"

    def meanwhile(message):  # someone makes the version folder by hand while the copy is verified
        if message == "verify" and not made.exists():
            made.mkdir()

    with pytest.raises(VersionExists, match="appeared while v1.0.0 was being published"):
        publish_release(releases["v1.0.0"], str(target), progress=meanwhile)
    assert made.is_dir() and list(made.iterdir()) == []
    assert not [p for p in target.iterdir() if p.name.startswith(".tmp-")]  # the copy is gone
    assert not (target / "index.json").exists()


# ---- damaged targets: checked before anything is published ---------------------------------------------------------
@pytest.mark.parametrize(
    ("index", "problem"),
    [
        ("[]", "it holds a list, not an object with a versions list"),
        ("null", "it holds null, not an object"),
        ('{"versions": null}', "versions is null, not a list"),
        ('{"versions": ["v1.0.0"]}', 'versions[0] is the string "v1.0.0", not an object'),
        ('{"versions": {"a": 1}}', "versions is an object, not a list"),
        ('{"versions": [{"version": 5}]}', "versions[0].version is the number 5, not a version folder name"),
        ('{"versions": [{"version": "garbage"}]}', 'versions[0].version is the string "garbage", not a version'),
        ('{"versions": [{"version": "v1.0.0", "counts": {"documents": {"train": "many"}}}]}',
         "versions[0].counts is not an object of configs"),
    ],
)
def test_an_index_of_the_wrong_shape_is_a_located_error(tmp_path, releases, index, problem):
    from corpus_tools.errors import PublishError

    target = tmp_path / "news"
    target.mkdir()
    (target / "index.json").write_text(index, encoding="utf-8")
    with pytest.raises(PublishError, match="index.json is not an index of versions: " + problem.replace("[", r"\[")):
        list_releases(str(target))
    with pytest.raises(PublishError, match="index.json is not an index of versions"):
        publish_release(releases["v1.0.0"], str(target))
    assert sorted(p.name for p in target.iterdir()) == ["index.json"]  # nothing published, no lock left
    run = _cli("releases", str(target), cwd=tmp_path)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"Error: {target}/index.json is not an index of versions: ")
    assert "remove it" in run.stderr


def test_an_index_that_is_a_folder_is_refused_before_publishing(tmp_path, releases):
    target = tmp_path / "ix"
    (target / "index.json").mkdir(parents=True)
    run = _cli("publish", str(releases["v1.0.0"]), "--to", str(target), cwd=tmp_path)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"Error: {target}/index.json is not a file: remove it")
    assert not (target / "v1.0.0").exists()


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (b"[]", "it is not an object with a configs object"),
        (b"{", "Expecting property name"),
        (b"\xff\xfe", "can't decode byte"),
        (b'{"configs": {"documents": {"train": {"num_examples": "many"}}}}',
         'configs.documents.train.num_examples is "many", not a count'),
    ],
)
def test_a_version_with_an_unreadable_manifest_is_listed_without_counts(tmp_path, releases, manifest, reason):
    target = tmp_path / "vm"
    (target / "v1.0.0").mkdir(parents=True)
    (target / "v1.0.0" / "manifest.json").write_bytes(manifest)
    result = publish_release(releases["v1.1.0"], str(target))  # the other version does not stop the publish
    assert result.warnings == []
    listed = list_releases(str(target))
    assert [(v.version, v.counts == {}, v.note is None) for v in listed] == [
        ("v1.0.0", True, False), ("v1.1.0", False, True)]
    assert listed[0].note.startswith(f"{target}/v1.0.0/manifest.json is unreadable (")
    assert reason in listed[0].note and listed[0].note.endswith("): counts unknown")
    # the index records only the versions it can describe; the folder is listed from itself every time
    index = json.loads((target / "index.json").read_text(encoding="utf-8"))
    assert [e["version"] for e in index["versions"]] == ["v1.1.0"]
    for args in (("releases", str(target)), ("releases", str(target), "--json")):
        run = _cli(*args, cwd=tmp_path)
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "counts unknown" in run.stdout
    assert json.loads(run.stdout)["versions"][0]["note"] == listed[0].note


def test_an_index_that_cannot_be_written_after_the_rename_says_the_version_is_published(tmp_path, releases):
    target = tmp_path / "news"

    def meanwhile(message):  # after every check, before the rename: the index becomes unwritable
        if message == "verify":
            (target / "index.json").mkdir()

    result = publish_release(releases["v1.0.0"], str(target), progress=meanwhile)
    assert (target / "v1.0.0" / "manifest.json").is_file()
    assert result.published and result.verification.valid
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert warning.startswith(f"v1.0.0 is published at {target}/v1.0.0, but {target}/index.json could not be updated")
    assert "the next publish writes the index again" in warning
    (target / "index.json").rmdir()
    assert [v.version for v in list_releases(str(target))] == ["v1.0.0"]


def test_a_dangling_symbolic_link_as_target_is_named(tmp_path, releases):
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    run = _cli("publish", str(releases["v1.0.0"]), "--to", "dangling", cwd=tmp_path)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert run.stderr.startswith(
        f"Error: cannot write to ./dangling: it is a dangling symbolic link (to {tmp_path}/gone)")
    assert not (tmp_path / "gone").exists()


@pytest.mark.parametrize("to", ["hf:/datasets/org/x", "HF://datasets/org/x"])
def test_a_mistyped_hub_target_is_a_usage_error_not_a_folder(tmp_path, releases, to):
    run = _cli("publish", str(releases["v1.0.0"]), "--to", to, cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "is not a Hub address: write hf://datasets/ORG/NAME" in run.stderr
    assert list(tmp_path.iterdir()) == []  # no ./hf: or ./HF: folder
    listed = _cli("releases", to, cwd=tmp_path)
    assert listed.returncode == 2 and "is not a Hub address" in listed.stderr


@pytest.mark.parametrize(("to", "where"), [
    ("rs", "is the release folder itself"),
    ("rs/data", "lies inside the release folder"),
    ("rs/data/documents/x", "lies inside the release folder"),
    (".", "contains the release folder"),
])
def test_publishing_a_release_into_itself_is_refused(tmp_path, releases, to, where):
    import shutil

    from corpus_tools.release.checks import check_release

    shutil.copytree(releases["v1.0.0"], tmp_path / "rs")
    before = _tree_state(tmp_path)
    for args in ((), ("--dry-run",)):
        run = _cli("publish", "rs", "--to", to, *args, cwd=tmp_path)
        assert run.returncode == 3 and "Traceback" not in run.stderr
        assert run.stderr.startswith(f"Error: cannot publish rs to {to}: the target {where}")
        assert "choose a target outside it" in run.stderr
    assert _tree_state(tmp_path) == before
    assert check_release(tmp_path / "rs").valid


def test_an_existing_folder_with_at_in_its_name_is_a_release_folder(tmp_path, releases):
    import shutil

    shutil.copytree(releases["v1.0.0"], tmp_path / "rel@v1.0.0")
    assert materialise_release(tmp_path / "rel@v1.0.0") == tmp_path / "rel@v1.0.0"
    run = _cli("diff", "rel@v1.0.0", str(releases["v1.1.0"]), "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["old_version"] == "1.0.0"


def _renamed_release(tmp_path: Path, releases, folder: str, name: str) -> Path:
    """A copy of v1.0.0 in ``folder`` whose manifest says ``name`` (hashes made right again)."""
    import shutil

    from release_factory import rehash

    odd = tmp_path / folder
    shutil.copytree(releases["v1.0.0"], odd)
    manifest = json.loads((odd / "manifest.json").read_text(encoding="utf-8"))
    manifest["name"] = name
    (odd / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    rehash(odd)
    (tmp_path / "work").mkdir()
    return odd


def test_cli_default_target_never_leaves_releases(tmp_path, releases):
    """A manifest name whose last part is '..' (not written by build, which refuses it) must not make the default
    target ./releases/.. (the current folder): the release folder's own name is used instead."""
    odd = _renamed_release(tmp_path, releases, "odd-release", "org/..")
    result = _cli("publish", str(odd), "--dry-run", cwd=tmp_path / "work")
    assert result.returncode == 0, result.stderr
    assert "releases/odd-release" in result.stderr and "releases/.." not in result.stderr


def test_cli_default_target_of_a_manifest_name_with_a_nul_byte_is_the_folder_name(tmp_path, releases):
    """A manifest name holding a NUL byte (build refuses control characters; an edited manifest can hold one) can
    name no folder: the default target is ./releases/<the release folder's name>, not a traceback."""
    odd = _renamed_release(tmp_path, releases, "nul-release", "org/news\x00x")
    result = _cli("publish", str(odd), cwd=tmp_path / "work")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "to ./releases/nul-release:" in result.stderr
    assert sorted(path.name for path in (tmp_path / "work" / "releases").iterdir()) == ["nul-release"]
    assert (tmp_path / "work" / "releases" / "nul-release" / "v1.0.0" / "manifest.json").is_file()


def test_a_target_with_a_nul_byte_is_refused(tmp_path, releases):
    with pytest.raises(InputError, match="NUL"):
        parse_target(str(tmp_path / "releases" / "news\x00x"))
    with pytest.raises(InputError, match="NUL"):
        publish_release(releases["v1.0.0"], str(tmp_path / "news\x00x"))
    assert list(tmp_path.iterdir()) == []


def test_cli_dry_run_prints_no_load_line_as_if_published(tmp_path, releases):
    dry = _cli("publish", str(releases["v1.0.0"]), "--to", "./releases/news", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == ""  # no load_dataset line as if the version were there
    assert ('Not published (dry run). Once published, it loads with: '
            'load_dataset("./releases/news/v1.0.0", "documents")') in dry.stderr
    assert not (tmp_path / "releases").exists()


def test_cli_publish_names_each_file_once(tmp_path, releases):
    release = releases["v1.0.0"]
    files = sorted(json.loads((release / "manifest.json").read_text(encoding="utf-8"))["files"])
    assert len(files) > 3
    done = _cli("publish", str(release), "--to", "./releases/news", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'load_dataset("./releases/news/v1.0.0", "documents")'
    lines = done.stderr.splitlines()
    for rel in files:
        assert len([line for line in lines if line.split()[-1] == rel]) == 1, (rel, done.stderr)


def test_cli_a_manifest_name_with_terminal_escapes_is_printed_escaped(tmp_path, releases):
    """A name read from a release (an edited manifest) cannot send escape sequences to the terminal: publish's
    plan shows the ESC and CR characters as escapes."""
    odd = _renamed_release(tmp_path, releases, "esc-release", "org/news\x1b[2J\rx")
    result = _cli("publish", str(odd), "--dry-run", "--to", str(tmp_path / "target"), cwd=tmp_path / "work")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert "org/news\\x1b[2J\\x0dx" in result.stderr

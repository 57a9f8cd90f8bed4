"""The demo removes only folders it made (a .corpus-tools-demo file in them) and refuses anything else.

The whole demo runs in CI as `make demo`; these tests stop before Label Studio starts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corpus_tools.cli.demo import DEMO_MARK, NAME, DemoFailed, _make_folder, _previous_run, demo


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", "demo", *args], capture_output=True, text=True,
                          timeout=120)


def test_a_folder_the_demo_did_not_make_is_refused_and_kept(tmp_path):
    work = tmp_path / "mine"
    work.mkdir()
    (work / "notes.txt").write_text("keep me", encoding="utf-8")
    result = run_demo("--workdir", str(work), "--releases", str(tmp_path / "releases"))
    assert result.returncode == 3 and "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    assert f"{work} exists and was not made by the demo" in said and "--workdir" in said
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"]
    assert (work / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "releases").exists()  # refused before anything was made


def test_a_release_target_the_demo_did_not_make_is_refused_and_kept(tmp_path):
    target = tmp_path / "releases" / NAME
    (target / "v1.0.0").mkdir(parents=True)
    with pytest.raises(DemoFailed, match="--releases"):
        demo(tmp_path / "work", tmp_path / "releases", 8080, False)
    assert [p.name for p in target.iterdir()] == ["v1.0.0"]
    assert not (tmp_path / "work").exists()


def test_a_file_and_a_symlink_are_refused(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(DemoFailed, match="not made by the demo"):
        _previous_run(tmp_path / "file", "--workdir")
    made = tmp_path / "made"
    _make_folder(made)
    (tmp_path / "link").symlink_to(made)
    with pytest.raises(DemoFailed, match="not made by the demo"):
        _previous_run(tmp_path / "link", "--workdir")


def test_a_folder_the_demo_made_is_the_previous_run(tmp_path):
    made = tmp_path / "w"
    _make_folder(made)
    assert (made / DEMO_MARK).is_file()
    assert _previous_run(made, "--workdir") == made
    assert _previous_run(tmp_path / "absent", "--workdir") is None


def test_a_workdir_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    result = run_demo("--workdir", str(tmp_path / "file" / "w"), "--releases", str(tmp_path / "releases"))
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert f"cannot create {tmp_path / 'file' / 'w'}" in " ".join(result.stderr.split())


def test_remove_tree_removes_read_only_folders_and_never_follows_links():
    import os
    import tempfile

    from corpus_tools.files import remove_tree

    tmp_path = Path(tempfile.mkdtemp(prefix="remove-tree-"))  # pytest's folders are private to root
    os.chmod(tmp_path, 0o755)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep", encoding="utf-8")
    made = tmp_path / "made"
    (made / "v1.0.0" / "data").mkdir(parents=True)
    (made / "v1.0.0" / "data" / "a.parquet").write_bytes(b"x")
    (made / "link").symlink_to(outside)
    os.chmod(made / "v1.0.0" / "data" / "a.parquet", 0o444)  # as a local publish leaves a version
    os.chmod(made / "v1.0.0" / "data", 0o555)
    os.chmod(made / "v1.0.0", 0o555)
    if os.geteuid() == 0:  # root ignores permissions: remove as an ordinary user who owns the files
        for path in (tmp_path, made, made / "v1.0.0", made / "v1.0.0" / "data", made / "v1.0.0" / "data" / "a.parquet"):
            os.chown(path, 65534, 65534)
        child = os.fork()
        if child == 0:
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                with pytest.raises(PermissionError):  # the plain removal fails on the read-only folders
                    import shutil

                    shutil.rmtree(made / "v1.0.0" / "data")
                remove_tree(made)
                code = 0
            finally:
                os._exit(code)
        assert os.waitpid(child, 0)[1] == 0
    else:
        remove_tree(made)
    assert not made.exists() and not made.is_symlink()
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "keep"
    remove_tree(made)  # absent: nothing to do
    remove_tree(tmp_path)

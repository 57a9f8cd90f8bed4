"""The one atomic write of a file (corpus_tools.files.AtomicFile)."""

from __future__ import annotations

import os
import stat

import pytest

from corpus_tools.files import AtomicFile, new_file_mode, write_file_atomically


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_finished_block_replaces_the_target_and_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    with AtomicFile(out) as handle:
        handle.write("نص\r\n")
        assert out.read_text(encoding="utf-8") == "previous\n"  # readers see the old file until the rename
    assert out.read_bytes() == "نص\r\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_failing_block_never_touches_an_existing_target(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt), AtomicFile(out, fsync=True) as handle:
        handle.write("half")
        raise KeyboardInterrupt
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_discard_keeps_the_target_and_removes_the_temporary_file(tmp_path):
    out = tmp_path / "out.bin"
    writer = AtomicFile(out, binary=True)
    with writer as handle:
        handle.write(b"\x00\x01")
        writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_permissions_and_names(tmp_path):
    seen: list[str] = []
    with AtomicFile(tmp_path / "index.json", permissions=0o644, prefix=".tmp-", suffix=".json") as handle:
        seen += [p.name for p in tmp_path.iterdir()]
        handle.write("{}\n")
    assert len(seen) == 1 and seen[0].startswith(".tmp-") and seen[0].endswith(".json")
    assert _mode(tmp_path / "index.json") == 0o644
    write_file_atomically(tmp_path / "secret.json", "{}", permissions=0o600)
    assert _mode(tmp_path / "secret.json") == 0o600
    write_file_atomically(tmp_path / "plain.txt", b"x", permissions=new_file_mode())
    assert _mode(tmp_path / "plain.txt") == 0o666 & ~_umask()
    write_file_atomically(tmp_path / "default.txt", "x")
    assert _mode(tmp_path / "default.txt") == 0o600  # tempfile.mkstemp's owner-only mode, kept unless asked


def test_a_missing_folder_is_an_oserror_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError), AtomicFile(tmp_path / "missing" / "out.txt"):
        pass
    assert list(tmp_path.iterdir()) == []


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_a_failing_rename_removes_the_temporary_file(tmp_path):
    out = tmp_path / "out"
    (out / "inside").mkdir(parents=True)  # a folder that is not empty cannot be replaced by a file
    with pytest.raises(OSError), AtomicFile(out) as handle:
        handle.write("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert out.is_dir()

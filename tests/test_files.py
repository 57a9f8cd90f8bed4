"""The one atomic write of a file (corpus_tools.files.AtomicFile)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from corpus_tools.files import (
    AtomicFile,
    current_umask,
    new_file_mode,
    new_folder_mode,
    remove_dead_temporaries,
    write_file_atomically,
)


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
        seen += sorted(p.name for p in tmp_path.iterdir())
        handle.write("{}\n")
    assert len(seen) == 2 and seen[0].startswith(".tmp-") and seen[0].endswith(".json")
    assert seen[1] == seen[0] + ".lock"  # held while the file is written: the mark of a live writer
    assert _mode(tmp_path / "index.json") == 0o644
    write_file_atomically(tmp_path / "secret.json", "{}", permissions=0o600)
    assert _mode(tmp_path / "secret.json") == 0o600
    write_file_atomically(tmp_path / "plain.txt", b"x", permissions=new_file_mode())
    assert _mode(tmp_path / "plain.txt") == 0o666 & ~_umask()
    write_file_atomically(tmp_path / "default.txt", "x")
    assert _mode(tmp_path / "default.txt") == 0o666 & ~_umask()  # what open() gives, unless asked


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


def test_the_umask_is_read_without_being_changed(tmp_path):
    previous = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert (new_file_mode(), new_folder_mode()) == (0o640, 0o750)
        assert os.umask(0o027) == 0o027  # still set: reading it did not change it
    finally:
        os.umask(previous)


def _hold_lock(path) -> subprocess.Popen:
    """Another process that holds the lock of ``path`` (as a writer still running does) until it is killed."""
    code = ("import sys, time\nfrom filelock import FileLock\n"
            "lock = FileLock(sys.argv[1] + '.lock', timeout=0)\nlock.acquire()\n"
            "print('held', flush=True)\ntime.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


def test_only_the_temporaries_of_dead_writers_of_the_same_target_are_removed(tmp_path):
    out = tmp_path / "out.jsonl"
    live = tmp_path / ".out.jsonl.0000abcd.tmp"  # its writer is running
    dead = tmp_path / ".out.jsonl.1111abcd.tmp"  # its writer was killed: its lock file is left, nobody holds it
    alone = tmp_path / ".out.jsonl.2222abcd.tmp"  # killed after taking its lock, before making the file
    other = tmp_path / ".other.jsonl.3333abcd.tmp"  # another target's
    odd = tmp_path / ".out.jsonl.not-hex!.tmp"  # not a name claim_temporary gives
    for path in (live, dead, other, odd):
        path.write_text("partial", encoding="utf-8")
    (tmp_path / (dead.name + ".lock")).write_text("", encoding="utf-8")
    (tmp_path / (alone.name + ".lock")).write_text("", encoding="utf-8")
    holder = _hold_lock(live)
    try:
        assert remove_dead_temporaries(out, suffix=".tmp") == [dead]
        with AtomicFile(out) as handle:  # what every write does first
            handle.write("new\n")
    finally:
        holder.kill()
        holder.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.jsonl", live.name, live.name + ".lock", other.name, odd.name])
    with AtomicFile(out) as handle:  # its writer is dead now
        handle.write("again\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.jsonl", other.name, odd.name])


def test_a_killed_write_is_cleaned_up_by_the_next_write_of_the_same_file(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("previous\n", encoding="utf-8")
    code = ("import sys, time\nfrom corpus_tools.files import AtomicFile\n"
            "with AtomicFile(sys.argv[1]) as f:\n    f.write('half'); f.flush(); print('writing', flush=True);"
            " time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "writing\n"
    finally:
        proc.kill()
        proc.wait()
    assert len(list(tmp_path.iterdir())) == 3  # out.txt, the temporary file and its lock
    assert out.read_text(encoding="utf-8") == "previous\n"
    write_file_atomically(out, "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"] and out.read_text(encoding="utf-8") == "new\n"

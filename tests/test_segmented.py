"""The segment driver's workers (validate and build): an I/O error in a worker, or in this process, is one
``Error:`` line and exit 3, never a traceback; a file that changed since it was cut is read as a stream."""

from __future__ import annotations

import errno
import sys

import pytest
from build_inputs import simple_export, write_export

from corpus_tools.errors import InputError
from corpus_tools.ontology import load_ontology
from corpus_tools.validate import segmented
from corpus_tools.validate.segmented import SegmentsUnreadable, SegmentWorker, TaskChecks, WorkerPool, checked_segments
from corpus_tools.validate.segments import Segment, iter_segments


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(exit code, stderr) of ``corpus-tools ARGV`` run through the console entry point in this process (its
    worker processes are forked from it, so they see the test's monkeypatches)."""
    from corpus_tools.cli.app import main

    capsys.readouterr()
    saved = sys.argv
    sys.argv = ["corpus-tools", *argv]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    return code, capsys.readouterr().err


def _eio(self: Segment, f: object) -> bytes:  # a disk that fails under the worker
    raise OSError(errno.EIO, "Input/output error")


@pytest.mark.parametrize("workers", [1, 2])
def test_cli_an_io_error_in_a_validate_worker_is_one_error_line(tmp_path, monkeypatch, capsys, workers):
    from corpus_tools.validate import driver

    export = write_export(tmp_path / "export.json", simple_export(6))
    monkeypatch.setattr(Segment, "read", _eio)
    monkeypatch.setattr(driver, "pool_size", lambda _: workers)  # the command's default is this process alone
    code, err = run_main(["validate", str(export)], capsys)
    assert "Traceback" not in err
    assert (code, err.splitlines()) == (3, [f"Error: cannot read {export}: Input/output error"])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_cli_an_io_error_in_a_build_worker_is_one_error_line_and_writes_nothing(tmp_path, monkeypatch, capsys,
                                                                                workers):
    export = write_export(tmp_path / "export.json", simple_export(6))
    out = tmp_path / "releases" / "v1.0.0"
    out.parent.mkdir()
    monkeypatch.setattr(Segment, "read", _eio)
    code, err = run_main(["build", str(export), "--version", "1.0.0", "--out", str(out), "--name", "test/news",
                          "--workers", workers, "--quiet"], capsys)
    assert "Traceback" not in err
    assert (code, err.splitlines()) == (3, [f"Error: cannot read {export}: Input/output error"])
    assert list(out.parent.iterdir()) == []


def test_a_worker_that_cannot_open_the_export_raises_input_error(tmp_path):
    """The workers open the export when they start (here: a path that vanished); the first job says so."""
    export = write_export(tmp_path / "export.json", simple_export(3))
    step = TaskChecks(load_ontology())
    with WorkerPool(step, tmp_path / "vanished.json", None, 2, stage="validate") as pool, \
            pytest.raises(InputError, match=f"^cannot read {tmp_path / 'vanished.json'}: No such file or directory$"):
        list(checked_segments(export, step, pool=pool))


def test_an_export_that_vanished_is_input_error_not_os_error(tmp_path):
    step = TaskChecks(load_ontology())
    with pytest.raises(InputError, match="^cannot read .*missing.json: No such file or directory$"):
        list(checked_segments(tmp_path / "missing.json", step))
    with pytest.raises(InputError, match="^cannot read .*missing.json: No such file or directory$"):
        SegmentWorker(step, tmp_path / "missing.json", None).__enter__()


def test_an_export_cut_shorter_after_it_was_cut_is_read_as_a_stream(tmp_path):
    export = write_export(tmp_path / "export.json", simple_export(6))
    segments = list(iter_segments(export, target_bytes=1024))
    assert len(segments) > 1
    with open(export, "r+b") as f:
        f.truncate(segments[-1].offset + 1)
    with SegmentWorker(TaskChecks(load_ontology()), export, None) as worker, \
            pytest.raises(SegmentsUnreadable, match="the file is shorter than expected"):
        worker.work(segments[-1])


def test_a_spool_that_cannot_be_written_is_output_error(tmp_path, monkeypatch):
    from corpus_tools.errors import OutputError

    export = write_export(tmp_path / "export.json", simple_export(3))
    (segment,) = iter_segments(export)

    def full(self, directory):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(segmented.CheckedSegment, "spool", full)
    with SegmentWorker(TaskChecks(load_ontology()), export, tmp_path) as worker, \
            pytest.raises(OutputError, match=f"^cannot write {tmp_path}: No space left on device$"):
        worker.work(segment)


def _eio_scan(path, *args):  # module level: a worker process unpickles it by name
    raise OSError(errno.EIO, "Input/output error")


def test_cli_an_io_error_in_the_build_workers_release_checks_is_located(tmp_path, monkeypatch, capsys):
    """The build's release checks scan its files in its worker processes: an I/O error there is a located problem
    of the file, and the build refuses the release (exit 1)."""
    from corpus_tools.release import scan as release_scan

    export = write_export(tmp_path / "export.json", simple_export(6))
    out = tmp_path / "releases" / "v1.0.0"
    out.parent.mkdir()
    monkeypatch.setattr(release_scan, "scan_file", _eio_scan)
    code, err = run_main(["build", str(export), "--version", "1.0.0", "--out", str(out), "--name", "test/news",
                          "--workers", "2", "--quiet"], capsys)
    assert "Traceback" not in err
    located = sorted(line for line in err.splitlines() if line.startswith("error:"))
    files = sorted({line.split("] ", 1)[1].split(":", 1)[0] for line in located})
    assert files and all(f.startswith("data/") and f.endswith(".parquet") for f in files)
    assert located == [f"error: [release-file-unreadable] {f}: {f} cannot be read (Input/output error); make it"
                       " readable (or build the release again) and check it again." for f in files]
    assert code == 1 and list(out.parent.iterdir()) == []


def test_cli_a_write_error_in_the_builds_closing_threads_is_one_error_line(tmp_path, monkeypatch, capsys):
    """The build closes its shard writers in threads (their last row groups): a full disk there is exit 3."""
    from corpus_tools.build.shards import ShardWriter

    def full(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    export = write_export(tmp_path / "export.json", simple_export(6))
    out = tmp_path / "releases" / "v1.0.0"
    out.parent.mkdir()
    monkeypatch.setattr(ShardWriter, "close", full)
    code, err = run_main(["build", str(export), "--version", "1.0.0", "--out", str(out), "--name", "test/news",
                          "--quiet"], capsys)
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert code == 3 and line.startswith(f"Error: cannot write the Parquet files in {out.parent}/.v1.0.0.")
    assert line.endswith(": No space left on device") and list(out.parent.iterdir()) == []

"""Run the CLI as an ordinary user (uid/gid 65534) inside a forked copy of the test process.

The sandbox runs as root, and root reads and writes whatever the permission bits say, so a permission test run
as root proves nothing.  The interpreter's own files may be out of that user's reach, so the command is first
run once as root with ``warm`` arguments (same code path, files it may use) to import every module it needs;
the fork then inherits them.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

NOBODY = 65534


def _main_exit_code(argv: list[str]) -> int:
    from corpus_tools.cli.app import main

    sys.argv = ["corpus-tools", *argv]
    try:
        main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def run_cli_as_nobody(argv: list[str], *, warm: list[str] | None = None) -> tuple[int, str]:
    """(exit code, stdout and stderr) of ``corpus-tools ARGV`` run as uid 65534 (as the current user when it is
    not root: permission bits already apply to it)."""
    as_root = os.geteuid() == 0
    if warm is not None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _main_exit_code(warm)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.close(read_end)
            if as_root:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            stream = os.fdopen(write_end, "w", encoding="utf-8")
            sys.stdout = sys.stderr = stream
            try:
                code = _main_exit_code(argv)
            except BaseException:  # a traceback is what the tests look for
                import traceback

                traceback.print_exc()
                code = 98
            stream.flush()
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as pipe:
        output = pipe.read()
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status), output


def give(path: Path) -> None:
    """Make ``path`` belong to the user :func:`run_cli_as_nobody` runs as (nothing to do when that is the current
    user)."""
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)


@contextlib.contextmanager
def shared_tmp() -> Iterator[Path]:
    """A temporary folder the unprivileged user can traverse (pytest's tmp_path is root's, mode 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="corpus-tools-nobody-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)

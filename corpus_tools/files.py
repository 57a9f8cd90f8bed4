"""File-system helpers shared by the stages: one atomic write of a file (:class:`AtomicFile`), one rename that never
replaces its target (build, local publish), and the removal of folders they made (local publish, demo)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

_RENAME_NOREPLACE = 1  # renameat2(2) flag: fail with EEXIST when the target exists
_AT_FDCWD = -100


def rename_no_replace(source: Path, target: Path) -> None:
    """``rename`` that never replaces ``target``, not even an empty folder (which a plain ``rename`` of a folder
    replaces): Linux ``renameat2`` with ``RENAME_NOREPLACE``; elsewhere, or on a file system without it, a check
    just before the rename.  Raises ``FileExistsError`` when ``target`` exists."""
    try:
        import ctypes

        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(code, os.strerror(code), str(target))
    if target.exists() or target.is_symlink():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    os.rename(source, target)


def new_file_mode() -> int:
    """The permissions ``open(path, "w")`` gives a new file: ``0o666`` less the process umask."""
    umask = os.umask(0)  # the umask can only be read by setting it
    os.umask(umask)
    return 0o666 & ~umask


class AtomicFile:
    """A file written under a temporary name in the target's folder and renamed onto the target when the ``with``
    block ends without an exception, so readers see the old file or the whole new one, never a part.

    ``with AtomicFile(path) as f:`` yields the open temporary file (text, UTF-8 with ``\\n`` line ends, or
    ``binary``).  On an exception in the block, or after :meth:`discard`, the temporary file is removed and an
    existing target is left untouched.  ``permissions`` is set on the temporary file (``None`` keeps the owner-only
    ``0o600`` of :func:`tempfile.mkstemp`; :func:`new_file_mode` gives what ``open`` would); ``fsync`` forces the
    bytes to disk before the rename.  Failures to create, write or rename are the ``OSError`` they are: callers
    choose what they mean (a failure to run, or only no cache).
    """

    def __init__(self, path: str | os.PathLike[str], *, binary: bool = False, permissions: int | None = None,
                 fsync: bool = False, prefix: str | None = None, suffix: str = ".tmp") -> None:
        self.path = Path(path)
        self._binary = binary
        self._permissions = permissions
        self._fsync = fsync
        self._prefix = f".{self.path.name}." if prefix is None else prefix
        self._suffix = suffix
        self._tmp: str | None = None
        self._file: IO | None = None
        self._discarded = False

    def __enter__(self) -> IO:
        fd, self._tmp = tempfile.mkstemp(prefix=self._prefix, suffix=self._suffix, dir=self.path.parent)
        try:
            if self._permissions is not None:
                os.fchmod(fd, self._permissions)
            self._file = (os.fdopen(fd, "wb") if self._binary
                          else os.fdopen(fd, "w", encoding="utf-8", newline="\n"))
        except BaseException:
            os.close(fd)
            self._remove_tmp()
            raise
        return self._file

    def discard(self) -> None:
        """Leave the target as it is: the temporary file is removed when the block ends."""
        self._discarded = True

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        assert self._file is not None and self._tmp is not None
        try:
            if exc_type is None and not self._discarded:
                if self._fsync:
                    self._file.flush()
                    os.fsync(self._file.fileno())
                self._file.close()
                os.replace(self._tmp, self.path)
                self._tmp = None
        finally:
            self._file.close()  # a second close does nothing
            self._remove_tmp()

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None


def write_file_atomically(path: str | os.PathLike[str], data: str | bytes, *, permissions: int | None = None,
                          fsync: bool = False, prefix: str | None = None, suffix: str = ".tmp") -> None:
    """Write ``data`` (text or bytes) to ``path`` in one :class:`AtomicFile` with these options."""
    with AtomicFile(path, binary=isinstance(data, bytes), permissions=permissions, fsync=fsync, prefix=prefix,
                    suffix=suffix) as out:
        out.write(data)


def _make_writable(func, path, _exc_info) -> None:  # rmtree onerror: read-only folders cannot be emptied otherwise
    os.chmod(os.path.dirname(path) or ".", stat.S_IRWXU)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, stat.S_IRWXU)
    func(path)


def remove_tree(path: Path) -> None:
    """Remove a folder if it exists, including read-only files and folders (a published local release is
    read-only).  Symbolic links inside are removed, never followed."""
    if path.exists():
        shutil.rmtree(path, onerror=_make_writable)  # onexc is 3.12+


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file (another spelling, a symbolic or a hard link); False when either is
    missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False

"""File-system helpers shared by the stages: one atomic write of a file (:class:`AtomicFile`), one rename that never
replaces its target (build, local publish), and the removal of folders they made (local publish, demo).

Temporary files and folders (an :class:`AtomicFile`'s, a build's ``.building`` folder) are made beside their target
by :func:`claim_temporary` under a held lock (``NAME.lock``, an ``flock`` the kernel drops when the process dies,
even by SIGKILL); :func:`remove_dead_temporaries` removes those of a target whose lock nobody holds, so a rerun
cleans up after a killed one and never touches the temporary of a writer still running.  New files and folders
get the permissions the umask gives (:func:`new_file_mode`, :func:`new_folder_mode`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar

from filelock import FileLock, Timeout

T = TypeVar("T")

_RENAME_NOREPLACE = 1  # renameat2(2) flag: fail with EEXIST when the target exists
_AT_FDCWD = -100


CACHE_ENV = "CORPUS_TOOLS_CACHE"


def cache_root() -> Path:
    """The one cache folder of corpus-tools, outside any clone: ``$CORPUS_TOOLS_CACHE``, else ``corpus-tools`` in
    ``$XDG_CACHE_HOME`` (default ``~/.cache``).  It holds the Label Studio virtualenv and template, the task index
    of imports, the release Features and the tokenizer's character classes, each in its own entry."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "corpus-tools"


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


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it: Linux's ``/proc/self/status`` ``Umask:`` line; elsewhere
    set and set back under a lock (threads of this module never see the moment it is 0)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        umask = os.umask(0o077)
        os.umask(umask)
    return umask


def new_file_mode() -> int:
    """The permissions ``open(path, "w")`` gives a new file: ``0o666`` less the process umask."""
    return 0o666 & ~current_umask()


def new_folder_mode() -> int:
    """The permissions ``mkdir`` gives a new folder: ``0o777`` less the process umask."""
    return 0o777 & ~current_umask()


# -- temporaries that a rerun can remove --------------------------------------------------------------------------

_TOKEN_BYTES = 4  # 8 hex digits in a temporary's name
_LOCK_SUFFIX = ".lock"


def _lock_of(path: Path) -> FileLock:
    """The lock a writer holds on its temporary from before it exists until after it is renamed or removed."""
    return FileLock(str(path) + _LOCK_SUFFIX, timeout=0)


def unlock_temporary(lock: FileLock) -> None:
    """Release a temporary's lock and remove its lock file (once the temporary is renamed or removed)."""
    lock.release()
    Path(lock.lock_file).unlink(missing_ok=True)


def _default_prefix(target: Path) -> str:
    return f".{target.name}."


def claim_temporary(target: Path, create: Callable[[Path], T], *, suffix: str,
                    prefix: str | None = None) -> tuple[Path, T, FileLock]:
    """A new temporary ``PREFIX + 8 hex digits + SUFFIX`` beside ``target`` (prefix ``.NAME.`` by default), made by
    ``create(path)`` (which must fail with ``FileExistsError`` when the name is taken) while this process holds its
    lock.  Returns the path, what ``create`` returned and the held lock (release it with :func:`unlock_temporary`
    once the temporary is renamed or removed).  Raises ``OSError`` when the folder cannot be written."""
    if not target.parent.is_dir():  # the lock would make it
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(target.parent))
    prefix = _default_prefix(target) if prefix is None else prefix
    for _ in range(100):
        path = target.parent / f"{prefix}{secrets.token_hex(_TOKEN_BYTES)}{suffix}"
        lock = _lock_of(path)
        try:
            lock.acquire()
        except Timeout:
            if Path(lock.lock_file).exists():  # that name is another writer's
                continue
            raise PermissionError(errno.EACCES, "cannot create files there (is it writable?)",
                                  str(target.parent)) from None
        try:
            made = create(path)
        except FileExistsError:
            lock.release()
            continue
        except BaseException:
            unlock_temporary(lock)
            raise
        return path, made, lock
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def remove_dead_temporaries(target: Path, *, suffix: str, prefix: str | None = None) -> list[Path]:
    """Remove the temporaries of ``target`` (named as :func:`claim_temporary` names them) whose writers died: a
    temporary whose lock this process can take.  A writer still running holds its lock, so its temporary stays;
    a lock that cannot even be opened (another user's) is left too.  Returns the files and folders removed.
    Raises ``OSError`` when a dead temporary cannot be removed."""
    parent = target.parent
    if not parent.is_dir():
        return []
    prefix = _default_prefix(target) if prefix is None else prefix
    pattern = glob.escape(prefix) + "[0-9a-f]" * (2 * _TOKEN_BYTES) + glob.escape(suffix)
    # a lock file alone: a writer killed between taking its lock and making its temporary, or after removing it
    locks = {Path(str(path).removesuffix(_LOCK_SUFFIX)) for path in parent.glob(pattern + _LOCK_SUFFIX)}
    removed = []
    for path in sorted(set(parent.glob(pattern)) | locks):
        lock = _lock_of(path)
        try:
            lock.acquire()
        except (Timeout, OSError):  # a writer in progress, or not ours to open
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, onerror=_make_writable)
                removed.append(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
                removed.append(path)
        finally:
            unlock_temporary(lock)
    return removed


def _create_file(permissions: int | None) -> Callable[[Path], int]:
    def create(path: Path) -> int:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)  # less umask
        if permissions is not None:
            try:
                os.fchmod(fd, permissions)
            except BaseException:
                os.close(fd)
                os.unlink(path)
                raise
        return fd

    return create


class AtomicFile:
    """A file written under a temporary name in the target's folder and renamed onto the target when the ``with``
    block ends without an exception, so readers see the old file or the whole new one, never a part.

    ``with AtomicFile(path) as f:`` yields the open temporary file (text, UTF-8 with ``\\n`` line ends, or
    ``binary``).  On an exception in the block, or after :meth:`discard`, the temporary file is removed and an
    existing target is left untouched.  ``permissions`` is set on the temporary file (``None``: what ``open`` gives,
    ``0o666`` less the umask); ``fsync`` forces the bytes to disk before the rename.  The temporary is named and
    locked by :func:`claim_temporary`, and entering the block first removes what writers of the same target that
    were killed left (:func:`remove_dead_temporaries`).  With ``replace`` False an existing target is never
    replaced: the rename raises ``FileExistsError`` (:func:`rename_no_replace`).  Failures to create, write or rename
    are the ``OSError`` they are: callers choose what they mean (a failure to run, or only no cache).
    """

    def __init__(self, path: str | os.PathLike[str], *, binary: bool = False, permissions: int | None = None,
                 fsync: bool = False, prefix: str | None = None, suffix: str = ".tmp", replace: bool = True) -> None:
        self.path = Path(path)
        self._replace = replace
        self._binary = binary
        self._permissions = permissions
        self._fsync = fsync
        self._prefix = f".{self.path.name}." if prefix is None else prefix
        self._suffix = suffix
        self._tmp: Path | None = None
        self._lock: FileLock | None = None
        self._file: IO | None = None
        self._discarded = False

    @property
    def temporary(self) -> Path | None:
        """The temporary file being written (inside the block)."""
        return self._tmp

    def __enter__(self) -> IO:
        with contextlib.suppress(OSError):  # a leftover that cannot be removed does not stop this write
            remove_dead_temporaries(self.path, prefix=self._prefix, suffix=self._suffix)
        self._tmp, fd, self._lock = claim_temporary(self.path, _create_file(self._permissions), prefix=self._prefix,
                                                    suffix=self._suffix)
        try:
            self._file = (os.fdopen(fd, "wb") if self._binary
                          else os.fdopen(fd, "w", encoding="utf-8", newline="\n"))
        except BaseException:
            # an interrupt inside fdopen may come after the half-made file object closed fd: a second close then
            # fails with EBADF, which must not replace the interrupt
            with contextlib.suppress(OSError):
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
                if self._replace:
                    os.replace(self._tmp, self.path)
                else:
                    rename_no_replace(self._tmp, self.path)
                self._tmp = None
        finally:
            self._file.close()  # a second close does nothing
            self._remove_tmp()

    def _remove_tmp(self) -> None:
        try:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
                self._tmp = None
        finally:
            if self._lock is not None:
                unlock_temporary(self._lock)
                self._lock = None


def write_file_atomically(path: str | os.PathLike[str], data: str | bytes, *, permissions: int | None = None,
                          fsync: bool = False, prefix: str | None = None, suffix: str = ".tmp",
                          replace: bool = True) -> None:
    """Write ``data`` (text or bytes) to ``path`` in one :class:`AtomicFile` with these options."""
    with AtomicFile(path, binary=isinstance(data, bytes), permissions=permissions, fsync=fsync, prefix=prefix,
                    suffix=suffix, replace=replace) as out:
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


def _file_on_the_way(path: Path) -> Path | None:
    """The first of ``path``'s folders (from the root down) that exists and is not a folder, or None."""
    return next((p for p in reversed(Path(path).parents) if p.exists() and not p.is_dir()), None)


def write_failure(path: str | os.PathLike[str], exc: OSError) -> str:
    """Why writing ``path`` failed, in words: ``X is a file, not a folder`` when one of its folders is a file (the
    system says "File exists" or "Not a directory" then), else the system's own reason."""
    blocking = _file_on_the_way(Path(path))
    return f"{blocking} is a file, not a folder" if blocking is not None else exc.strerror or str(exc)


def folder_missing(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be created in its folder (``folder X does not exist``, ``X is a file, not a folder``), or
    None when the folder is there."""
    parent = Path(path).parent
    if parent.is_dir():
        return None
    blocking = _file_on_the_way(Path(path))
    return f"{blocking} is a file, not a folder" if blocking is not None else f"folder {parent} does not exist"


READ_PIECE = 1 << 20  # read(n) allocates n bytes before it reads one: a bounded read takes a piece at a time


def read_at_most(handle: IO[bytes], limit: int) -> bytes:
    """The first ``limit`` bytes of ``handle`` (all of it when shorter), read a piece at a time.  A reader of a small
    file asks for one byte more than it takes, so that a device that never ends (``/dev/zero``) or a huge file is
    known for what it is without being read whole."""
    pieces = []
    while limit > 0 and (piece := handle.read(min(limit, READ_PIECE))):
        pieces.append(piece)
        limit -= len(piece)
    return b"".join(pieces)

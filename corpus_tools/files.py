"""File-system helpers shared by the stages that publish a folder in one rename (build, local publish) and remove
the folders they made (local publish, demo)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

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

"""File-system helpers shared by the stages that publish a folder in one rename (build, local publish)."""

from __future__ import annotations

import errno
import os
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

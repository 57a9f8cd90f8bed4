"""Annotator pseudonyms that only the holder of a secret key can recompute.

A release names each annotator ``annotator-`` + the first :data:`PSEUDONYM_HEX` hex digits of
HMAC-SHA256(key, normalised identity).  The identity is the e-mail address (stripped, lower-cased) or the Label
Studio user id as a decimal string; without the key, guessing an address does not give its pseudonym.  The same key
gives the same pseudonyms in every release, so annotators can be followed across releases.

The key lives with the maintainer, never in a release (:func:`load_or_create_key`): ``$CORPUS_TOOLS_PSEUDONYM_KEY_FILE``
when set, else ``$XDG_CONFIG_HOME/corpus-tools/pseudonym.key`` (``~/.config/...``).  It is made on first use (32
random bytes written as 64 hex digits, mode 0600, in a folder made 0700) and reused afterwards; a key file that
cannot be read or is malformed is an :class:`~corpus_tools.errors.InputError`, never replaced.  :func:`key_id`
names a key (8 hex digits of its sha256) so a release can say which key made it without giving the key away.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from corpus_tools.errors import InputError, OutputError
from corpus_tools.files import read_at_most, write_file_atomically

KEY_FILE_ENV = "CORPUS_TOOLS_PSEUDONYM_KEY_FILE"
KEY_BYTES = 32
KEY_FILE_BYTES = 4096  # 64 hex digits and some white space; more (a device such as /dev/zero) is no key file
PSEUDONYM_HEX = 16  # 64 bits: no two annotators of a team share one
PREFIX = "annotator-"


def identity(value: object) -> str | None:
    """The normalised identity a pseudonym is made from: an e-mail stripped and lower-cased, a user id as its
    decimal string, a Label Studio user object (``completed_by``) by its e-mail, else its id; None for nothing."""
    if isinstance(value, Mapping):
        value = value.get("email") or value.get("id")
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if "@" in text:
        text = text.lower()
    return text or None


def pseudonym(value: str | int | Mapping[str, object] | None, *, key: bytes) -> str | None:
    """``annotator-`` + the first :data:`PSEUDONYM_HEX` hex digits of HMAC-SHA256(``key``, identity of ``value``),
    or None when ``value`` names nobody."""
    ident = identity(value)
    if ident is None:
        return None
    return PREFIX + hmac.new(key, ident.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


def key_id(key: bytes) -> str:
    """Which key made a release: the first 8 hex digits of its sha256 (the key cannot be recovered from it)."""
    return hashlib.sha256(key).hexdigest()[:8]


def default_key_path() -> Path:
    """``$CORPUS_TOOLS_PSEUDONYM_KEY_FILE`` when set, else ``corpus-tools/pseudonym.key`` in ``$XDG_CONFIG_HOME``
    (default ``~/.config``)."""
    given = os.environ.get(KEY_FILE_ENV)
    if given:
        return Path(given).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "corpus-tools" / "pseudonym.key"


def parse_key(data: bytes, path: Path) -> bytes:
    """The key in a key file's bytes (64 hex digits, surrounding white space allowed); InputError otherwise."""
    try:
        text = data.decode("ascii").strip()
        if len(text) == 2 * KEY_BYTES:
            return bytes.fromhex(text)
    except (UnicodeDecodeError, ValueError):
        pass
    raise _malformed(path)


def _malformed(path: Path) -> InputError:
    return InputError(f"the pseudonym key file {path} is malformed (it must hold {2 * KEY_BYTES} hex digits); restore"
                     " it from your backup, or move it away to start new pseudonyms (annotators can then no longer"
                     " be followed across releases)")


def read_key(path: Path) -> bytes:
    """The key of an existing key file; InputError when it cannot be read or is malformed."""
    try:
        with path.open("rb") as handle:
            data = read_at_most(handle, KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the pseudonym key file {path}: {exc.strerror or exc}") from exc
    if len(data) > KEY_FILE_BYTES:
        raise _malformed(path)
    return parse_key(data, path)


def load_or_create_key(path: Path | None = None) -> bytes:
    """The pseudonym key in ``path`` (default :func:`default_key_path`), made there on first use: 32 random bytes
    as hex, mode 0600, the folder made 0700, written atomically and never over a key file that appeared meanwhile.
    An existing key file is never replaced: unreadable or malformed, it is an InputError."""
    path = Path(path) if path is not None else default_key_path()
    if path.exists() or path.is_symlink():
        return read_key(path)
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)  # mkdir's mode is less the umask
        write_file_atomically(path, secrets.token_bytes(KEY_BYTES).hex() + "\n", permissions=0o600, fsync=True,
                              replace=False)
    except FileExistsError:  # another process made it first: use that one
        return read_key(path)
    except OSError as exc:
        raise OutputError(f"cannot create the pseudonym key file {path}: {exc.strerror or exc}") from exc
    return read_key(path)

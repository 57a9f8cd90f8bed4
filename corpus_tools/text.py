"""Small text helpers shared by every stage: character classes, hashing, secret redaction."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata

# Bidi controls that are reported when found in raw text (kept, never at a span edge).
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
BOM = "\ufeff"
TATWEEL = "\u0640"


def is_format_char(ch: str) -> bool:
    """True for Unicode Cf characters (bidi marks, BOM, ZWJ/ZWNJ)."""
    return unicodedata.category(ch) == "Cf"


def is_edge_forbidden(ch: str) -> bool:
    """Characters that may never sit at a span edge: whitespace and Cf characters."""
    return ch.isspace() or is_format_char(ch)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


SECRET_ENV_VARS = ("LABEL_STUDIO_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "LS_API_KEY")
# scheme://USERINFO@ in a URL (e.g. HF_ENDPOINT=http://user:token@host): the credentials, never a path or query
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#@'\"<>]+)@")


def _hub_token() -> str | None:
    """The token huggingface_hub would send (``HF_TOKEN``, else the ``hf auth login`` file), once it is imported:
    before that nothing has read the login file, and importing it here would slow every message down."""
    if "huggingface_hub" not in sys.modules:
        return None
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # noqa: BLE001 - redaction must never fail the message it protects
        return None


def redact(message: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace every known secret by ``***``: the ``secrets`` given, the secret env vars, the token huggingface_hub
    would use, and the credentials of any ``scheme://user:password@`` URL (the password also wherever else it
    appears)."""
    values = [s for s in secrets if s]
    values += [os.environ[name] for name in SECRET_ENV_VARS if os.environ.get(name)]
    if token := _hub_token():
        values.append(token)
    values += [password for m in _URL_USERINFO.finditer(message) if (password := m.group(2).partition(":")[2])]
    message = _URL_USERINFO.sub(r"\1***@", message)
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= 4:
            message = message.replace(value, "***")
    return message


_SURROGATE = re.compile("[\ud800-\udfff]")


# What a terminal must not be sent raw: the C0 controls but tab and line feed (ESC starts escape sequences, CR
# overwrites the line), DEL, the C1 controls, and lone surrogates (no UTF-8 writer takes them).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str, *, in_json: bool = False) -> str:
    """``text`` as it may go to a terminal: every lone surrogate written readably (``\\xNN`` for a byte that was not
    UTF-8 in a file name or argument, which Python decodes to U+DC80..U+DCFF, ``\\uNNNN`` for any other), and every
    control character but tab and line feed as ``\\xNN`` (so a name or message read from a file cannot move the
    cursor or recolour the terminal); unchanged (and cheap) when there is none.  What it returns always encodes as
    UTF-8.  ``in_json``: ``text`` is JSON, whose strings hold the surrogates (its control characters are escaped
    already), so the backslash is written escaped (the string then reads ``\\xNN``)."""
    if not _UNPRINTABLE.search(text):
        return text
    slash = "\\\\" if in_json else "\\"

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        if code < 0xD800:
            return f"{slash}x{code:02x}"
        return f"{slash}x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"{slash}u{code:04x}"

    return _UNPRINTABLE.sub(escape, text)


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` cannot be written as UTF-8 (a lone surrogate: bytes that were not UTF-8, or an escape)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def lone_surrogate(value: object, path: str = "$") -> str | None:
    """The JSON path of the first string (or key) in ``value`` that holds a lone UTF-16 surrogate, which
    ``json.loads`` lets through from an escape such as ``\\udc00`` and no UTF-8 writer accepts; None if none."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _SURROGATE.search(key):
                return path
            found = lone_surrogate(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None

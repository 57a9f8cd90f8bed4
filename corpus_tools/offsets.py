"""Pure offset helpers for the validator: UTF-16 detection, edge trimming, clitic-aware word edges, characters
that are never at a span edge (punctuation, a leading tatweel) or never in a name (digits, emoji).

Offsets are code points, end-exclusive (see :mod:`corpus_tools.spans`).  The left-edge rule follows
../shared notes on Arabic span rules: the character before a span must be a non-word character, or
the end of an allowed proclitic sequence (و ف ب ل ك, stacks وب ول فب فل وك), with harakat allowed on
the proclitic and an optional tatweel after it.
"""

from __future__ import annotations

import unicodedata

import regex

from corpus_tools.text import TATWEEL

ALLOWED_PROCLITICS = frozenset({"و", "ف", "ب", "ل", "ك", "وب", "ول", "فب", "فل", "وك"})

_ASTRAL = regex.compile(r"[\U00010000-\U0010FFFF]")
_WHITESPACE_RUN = regex.compile(r"\s+")

_category = unicodedata.category


def as_offset(value: object) -> int | None:
    """An offset as int, or None when it is not a non-negative integer (the schema reports those).  An integral
    float (``13.0``) is the integer it writes, as JSON Schema counts it: what validation accepts, every reader
    reads as the same span."""
    if type(value) is int:
        return value if value >= 0 else None
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    return None


def _word_char(ch: str) -> bool:
    cat = _category(ch)
    return cat[0] in "LM" or cat == "Nd" or ch == "\u200c" or ch == "\u200d"


def _edge_forbidden(ch: str) -> bool:
    return ch.isspace() or _category(ch) == "Cf"


def _edge_punctuation(ch: str) -> bool:
    return _category(ch)[0] == "P"


_PICTOGRAPHIC = regex.compile(r"\p{Extended_Pictographic}")


def _not_in_name(ch: str) -> bool:
    return _category(ch) == "Nd" or _PICTOGRAPHIC.match(ch) is not None


class _CharTable(dict):
    """A memo of a character predicate: ``table[ch]`` is one dict lookup once ``ch`` was seen."""

    _LIMIT = 8192  # distinct characters remembered; more are computed each time

    def __init__(self, predicate) -> None:
        super().__init__()
        self._predicate = predicate

    def __missing__(self, ch: str) -> bool:
        value = self._predicate(ch)
        if len(self) < self._LIMIT:
            self[ch] = value
        return value


WORD_CHAR = _CharTable(_word_char)
"""``WORD_CHAR[ch]``: a character of a word as the tokenizer counts it (letters, marks, decimal digits, ZWNJ/ZWJ)."""
EDGE_FORBIDDEN = _CharTable(_edge_forbidden)
"""``EDGE_FORBIDDEN[ch]``: whitespace or a Cf character (bidi mark, BOM, ZWJ/ZWNJ), never allowed at a span edge."""
EDGE_PUNCTUATION = _CharTable(_edge_punctuation)
"""``EDGE_PUNCTUATION[ch]``: punctuation (Unicode P*: brackets, quotes, ، . : -), never allowed at a span edge."""
NOT_IN_NAME = _CharTable(_not_in_name)
"""``NOT_IN_NAME[ch]``: a decimal digit (any script) or an emoji (Extended_Pictographic), never part of a name."""


# The fast path of the semantic checks looks up short slices of the text around a span in the memos below
# rather than single characters: indexing a non-Latin-1 string makes a new one-character string and hashes it
# each time, so one slice and one lookup cost less than several.  Each memo answers exactly what the full
# checks (left_edge_prefix, right_edge_rest, is_edge_forbidden) would accept; False or None means "let the
# full checks decide".

LEFT_WINDOW = 2
"""Characters before a span start in a :data:`LEFT_EDGE` key."""
PREFIX_WINDOW = 5
"""Characters before a span start in a :data:`PROCLITIC_BEFORE` key (``وَلـ`` needs 5 with the space before it)."""


def _proclitic(before: str, window: int) -> bool | None:
    # ``before`` is text[max(0, start - window):start]; its last character and the span's first are word characters.
    k = len(before)
    while k and WORD_CHAR[before[k - 1]]:
        k -= 1
    if k == 0 and len(before) == window:
        return None  # the word may begin before the window: not sure
    return _bare(before[k:]) in ALLOWED_PROCLITICS


def _left_edge(key: str) -> bool | None:
    first = key[-1]
    if EDGE_FORBIDDEN[first] or EDGE_PUNCTUATION[first] or (first == TATWEEL and len(key) > 1 and WORD_CHAR[key[-2]]):
        return False  # (a tatweel inside a word: after a proclitic it goes with it, else the start is inside a word)
    if len(key) == 1 or not WORD_CHAR[key[-2]] or not WORD_CHAR[first]:
        return True
    return _proclitic(key[:-1], LEFT_WINDOW)


def _right_edge(key: str) -> bool:
    last = key[0]
    return (
        not EDGE_FORBIDDEN[last]
        and not EDGE_PUNCTUATION[last]
        and (len(key) == 1 or not WORD_CHAR[last] or not WORD_CHAR[key[1]])
    )


# Plain dicts, filled by learn_edges: the fast path's ``LEFT_EDGE[key]`` raises KeyError for a key not seen yet,
# which sends the span to the full checks, and those call learn_edges (a dict subclass with __missing__ would cost
# more on every lookup).
LEFT_EDGE: dict[str, bool | None] = {}
"""``LEFT_EDGE[text[max(0, start - LEFT_WINDOW) : start + 1]]``: True when a span may start at ``start`` (its
first character is not whitespace, Cf or punctuation, and starts a word or follows an allowed proclitic, without
the proclitic's tatweel), None when the word before may begin outside the key (ask :data:`PROCLITIC_BEFORE`),
False when the start is wrong."""
RIGHT_EDGE: dict[str, bool] = {}
"""``RIGHT_EDGE[text[end - 1 : end + 1]]``: True when a span may end at ``end`` (its last character is not
whitespace, Cf or punctuation, and ends a word or the text)."""
PROCLITIC_BEFORE: dict[str, bool | None] = {}
"""``PROCLITIC_BEFORE[text[max(0, start - PREFIX_WINDOW) : start]]`` where :data:`LEFT_EDGE` is None: True when the
word part before ``start`` is an allowed proclitic sequence, False when not, None when not sure."""
NAME_TEXT: dict[str, bool] = {}
"""``NAME_TEXT[text[start:end]]``: True when the span text holds no digit and no emoji (:data:`NOT_IN_NAME`)."""
_EDGE_KEYS = 65536  # keys each memo remembers at most; spans with other keys always take the full checks
_NAME_KEY_CHARS = 64  # longer span texts are not remembered (they always take the full checks)


def learn_edges(text: str, start: int, end: int) -> None:
    """Put the keys of the span ``start``-``end`` (offsets that fit ``text``, not empty) in the memos above."""
    if len(LEFT_EDGE) < _EDGE_KEYS:
        key = text[start - LEFT_WINDOW if start > LEFT_WINDOW else 0 : start + 1]
        if key not in LEFT_EDGE:
            LEFT_EDGE[key] = _left_edge(key)
        if LEFT_EDGE[key] is None and len(PROCLITIC_BEFORE) < _EDGE_KEYS:
            key = text[start - PREFIX_WINDOW if start > PREFIX_WINDOW else 0 : start]
            if key not in PROCLITIC_BEFORE:
                PROCLITIC_BEFORE[key] = _proclitic(key, PREFIX_WINDOW)
    if len(RIGHT_EDGE) < _EDGE_KEYS:
        key = text[end - 1 : end + 1]
        if key not in RIGHT_EDGE:
            RIGHT_EDGE[key] = _right_edge(key)
    if len(NAME_TEXT) < _EDGE_KEYS and end - start <= _NAME_KEY_CHARS:
        key = text[start:end]
        if key not in NAME_TEXT:
            NAME_TEXT[key] = not_in_name(key) is None


def _bare(prefix: str) -> str:
    """A word prefix without harakat (Mn) and without a trailing tatweel."""
    return "".join(ch for ch in prefix if _category(ch) != "Mn").rstrip(TATWEEL)


def is_word_char(ch: str) -> bool:
    return WORD_CHAR[ch]


def is_edge_forbidden(ch: str) -> bool:
    return EDGE_FORBIDDEN[ch]


def is_edge_punctuation(ch: str) -> bool:
    return EDGE_PUNCTUATION[ch]


def digit_and_emoji(segment: str) -> tuple[int | None, int | None]:
    """The indexes in ``segment`` of its first decimal digit and of its first emoji (None when it has none)."""
    digit = emoji = None
    if not_in_name(segment) is not None:
        for k, ch in enumerate(segment):
            if NOT_IN_NAME[ch]:
                if _category(ch) == "Nd":
                    digit = k if digit is None else digit
                elif emoji is None:
                    emoji = k
    return digit, emoji


def not_in_name(segment: str) -> int | None:
    """The index in ``segment`` of its first digit or emoji (never part of a name), or None."""
    for k, ch in enumerate(segment):
        if NOT_IN_NAME[ch]:
            return k
    return None


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """``start``/``end`` moved inwards past whitespace and Cf characters (may become empty)."""
    while start < end and is_edge_forbidden(text[start]):
        start += 1
    while end > start and is_edge_forbidden(text[end - 1]):
        end -= 1
    return start, end


def collapse_whitespace(text: str) -> str:
    """Every whitespace run as one space: how Label Studio may store ``value.text`` (LS#3078)."""
    return _WHITESPACE_RUN.sub(" ", text)


def utf16_to_code_points(text: str, start16: int, end16: int) -> tuple[int, int] | None:
    """Code-point offsets for offsets counted in UTF-16 units; None if the text has no character
    outside the BMP before ``end16`` (the units are then the same) or an offset splits a surrogate pair."""
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    if not astral:
        return None

    def convert(offset16: int) -> int | None:
        shift = 0
        for k, index in enumerate(astral):
            unit = index + k  # the UTF-16 position of this character's high surrogate
            if unit + 1 == offset16:
                return None  # inside the surrogate pair
            if unit + 2 <= offset16:
                shift += 1
            else:
                break
        return offset16 - shift

    start, end = convert(start16), convert(end16)
    if start is None or end is None or (start, end) == (start16, end16):
        return None
    return start, end


def word_start(text: str, index: int) -> int:
    """Where the word holding the character before ``index`` starts."""
    while index > 0 and is_word_char(text[index - 1]):
        index -= 1
    return index


def word_end(text: str, index: int) -> int:
    """Where the word holding the character at ``index`` ends."""
    size = len(text)
    while index < size and is_word_char(text[index]):
        index += 1
    return index


def left_edge_prefix(text: str, start: int) -> str | None:
    """The part of a word before ``start`` when it is not an allowed proclitic sequence, else None."""
    if start == 0 or not is_word_char(text[start - 1]) or not is_word_char(text[start]):
        return None
    prefix = text[word_start(text, start) : start]
    return None if _bare(prefix) in ALLOWED_PROCLITICS else prefix


def right_edge_rest(text: str, end: int) -> str | None:
    """The rest of the word after ``end`` when the span ends inside a word, else None."""
    if end >= len(text) or end == 0 or not is_word_char(text[end]) or not is_word_char(text[end - 1]):
        return None
    return text[end : word_end(text, end)]


def utf16_repair(text: str, start: int, end: int, stored: str, *, lenient: bool) -> tuple[int, int] | None:
    """Code-point offsets when ``start``/``end`` only select ``stored`` once read as UTF-16 units.

    ``lenient`` also accepts a stored text that differs by collapsed whitespace (Label Studio's
    ``value.text``).  Returns None when the code-point reading already matches or nothing does.
    """
    if end <= len(text) and start <= end and text[start:end] == stored:
        return None
    repaired = utf16_to_code_points(text, start, end)
    if repaired is None:
        return None
    fixed = text[repaired[0] : repaired[1]]
    if fixed == stored or (lenient and collapse_whitespace(fixed) == collapse_whitespace(stored)):
        return repaired
    return None

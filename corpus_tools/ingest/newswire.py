"""The newswire text layout, as pure functions over the stored text.

A raw article is a title line, an empty line, a dateline line, then one paragraph per line::

    تنسيق استخباراتي بين دمشق وموسكو وبغداد وطهران

    نيويورك ـ عواصم ـ (الوطن) ـ وكالات:
    تسعى روسيا للتنسيق ...

The dateline is places separated by standalone dashes (a tatweel ``ـ`` or ``-``, ``–``, ``—``
with spaces around it), the source paper in parentheses, then agencies, ending with a colon.
Every offset is a code point into the text, end-exclusive: ``text[start:end]`` is the line.
:func:`parse_newswire` only says where the parts of a text lie.

One title rule for every input format: the title is annotatable, so it is always part of the text.  A text
file's title is its first non-blank line.  A JSONL or CSV record whose title comes from its own field gets
the same layout (:func:`text_with_title`): the title, an empty line, then the body, unless the body already
starts with the title's line(s).  Either way the record's ``title`` is the text's first non-blank line(s),
exactly as stored.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

# A standalone dash between dateline segments: tatweel, hyphen, en or em dash, with spaces around.
_SEPARATOR = regex.compile(r"\s+[\u0640\-\u2013\u2014]+\s+")
_PARENTHESISED = regex.compile(r"^\((.+)\)$", regex.DOTALL)
_MAX_DATELINE_CHARS = 160
_MAX_SEGMENT_WORDS = 6

# Agencies recognised in a dateline without a parenthesised paper (compared without spaces and dots).
_AGENCY_WORDS = frozenset(
    w.replace(" ", "").replace(".", "")
    for w in (
        "وكالات", "وكالة", "رويترز", "أ ف ب", "ا ف ب", "د ب أ", "د ب ا", "أ ب", "ا ب", "يو بي آي", "يو بي اي",
        "أسوشيتد برس", "اسوشيتد برس", "الأناضول", "سبوتنيك", "شينخوا", "قنا", "واس", "وام", "كونا", "بترا",
        "سانا", "إرنا", "ارنا", "مينا", "قدس برس", "الوكالات", "أ.ش.أ", "أ ش أ",
    )
)


@dataclass(frozen=True)
class Dateline:
    """A parsed dateline line; ``text == article_text[start:end]``."""

    text: str
    start: int
    end: int
    places: tuple[str, ...]
    paper: str | None
    agencies: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "places": list(self.places),
            "paper": self.paper,
            "agencies": list(self.agencies),
        }


@dataclass(frozen=True)
class NewswireParts:
    """Where the parts of an article lie. ``has_layout`` is False when no dateline follows the title."""

    title: str
    dateline: Dateline | None
    paragraphs: tuple[tuple[int, int], ...]
    has_layout: bool
    reason: str = ""


def is_blank(line: str) -> bool:
    """True when a line holds only whitespace and format (Cf) characters such as bidi marks."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in line)


def line_ranges(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every line of a LF-only text, newline excluded (other separators stay inside lines)."""
    ranges: list[tuple[int, int]] = []
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            ranges.append((start, len(text)))
            return ranges
        ranges.append((start, end))
        start = end + 1


def _is_agency(segment: str) -> bool:
    key = segment.replace(" ", "").replace(".", "")
    return key in _AGENCY_WORDS or segment.startswith(("وكالة ", "وكالات "))


def _unparenthesise(segment: str) -> str:
    match = _PARENTHESISED.match(segment)
    return match.group(1).strip() if match else segment


def parse_dateline(line: str, start: int = 0) -> Dateline | None:
    """The dateline in one line (``start`` = its offset in the text), or None when the line is not one.

    ``نيويورك ـ عواصم ـ (الوطن) ـ وكالات:`` gives places ``نيويورك, عواصم``, paper ``الوطن`` and agencies
    ``وكالات``.  Without a parenthesised paper, trailing segments that name a known agency are agencies.
    """
    body = line.strip()
    if not body.endswith(":") or len(body) > _MAX_DATELINE_CHARS:
        return None
    body = body[:-1].strip()
    segments = [s.strip() for s in _SEPARATOR.split(body)]
    if not body or any(not s or len(s.split()) > _MAX_SEGMENT_WORDS for s in segments):
        return None
    paper_at = next((i for i, s in enumerate(segments) if _PARENTHESISED.match(s)), None)
    if paper_at is None and len(segments) == 1 and len(body.split()) > 3:
        return None  # a short sentence ending in a colon, not a one-place dateline
    if paper_at is not None:
        places = segments[:paper_at]
        paper: str | None = _unparenthesise(segments[paper_at])
        agencies = [_unparenthesise(s) for s in segments[paper_at + 1 :]]
    else:
        cut = len(segments)
        while cut > 0 and _is_agency(segments[cut - 1]):
            cut -= 1
        places, paper, agencies = segments[:cut], None, segments[cut:]
    return Dateline(line, start, start + len(line), tuple(places), paper, tuple(agencies))


def clean_title(title: str | None) -> str | None:
    """A title field as it goes into the text: CRLF and CR as LF, without the blank lines around it; None when it
    is missing or blank (the text's first non-blank line is then the title, as in a text file)."""
    if title is None:
        return None
    lines = title.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = [i for i, line in enumerate(lines) if not is_blank(line)]
    return "\n".join(lines[kept[0] : kept[-1] + 1]) if kept else None


def starts_with_title(body: str, title: str) -> bool:
    """True when the body's first line(s) are the title (line ends compared as LF)."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return body == title or body.startswith(title + "\n")


def text_with_title(title: str, body: str) -> str:
    """The text of a record whose title (from :func:`clean_title`) comes from its own field: the body when it
    starts with the title already, else the title, an empty line, then the body (the newswire text layout)."""
    return body if starts_with_title(body, title) else f"{title}\n\n{body}"


def parse_with_title(text: str, title: str) -> NewswireParts:
    """The parts of a record's text made by :func:`text_with_title`: the title first, then the body, whose first
    non-blank line may be a dateline and whose every other non-blank line is a paragraph."""
    if not text.startswith(title):
        raise ValueError("the text does not start with the title")
    at = len(title)
    body = parse_newswire(text[at:], has_title=False)
    dateline = body.dateline
    if dateline is not None:
        dateline = Dateline(dateline.text, dateline.start + at, dateline.end + at, dateline.places, dateline.paper,
                            dateline.agencies)
    paragraphs = tuple((start + at, end + at) for start, end in body.paragraphs)
    return NewswireParts(title, dateline, paragraphs, has_layout=True)


def parse_newswire(text: str, *, has_title: bool = True) -> NewswireParts:
    """Title, dateline and paragraph offsets of a LF-only article text.

    With ``has_title`` (plain-text files), the first non-blank line is the title; when the next non-blank
    line is a dateline the layout is recognised and every later non-blank line is a paragraph.  Otherwise
    ``has_layout`` is False and every non-blank line but the title is a paragraph.  With
    ``has_title=False`` (a record whose title comes from another field), the first non-blank line may be
    a dateline and every other non-blank line is a paragraph.
    """
    lines = [(s, e) for s, e in line_ranges(text) if not is_blank(text[s:e])]
    if not has_title:
        dateline = parse_dateline(text[lines[0][0] : lines[0][1]], lines[0][0]) if lines else None
        body = lines[1:] if dateline else lines
        return NewswireParts("", dateline, tuple(body), has_layout=True)
    if not lines:
        return NewswireParts("", None, (), has_layout=False, reason="the text has no non-blank line")
    title = text[lines[0][0] : lines[0][1]]
    if len(lines) > 1:
        start, end = lines[1]
        dateline = parse_dateline(text[start:end], start)
        if dateline is not None:
            return NewswireParts(title, dateline, tuple(lines[2:]), has_layout=True)
        reason = "the line after the title is not a dateline (places ـ (paper) ـ agencies:)"
    else:
        reason = "the text has a title line only"
    return NewswireParts(title, None, tuple(lines[1:]), has_layout=False, reason=reason)

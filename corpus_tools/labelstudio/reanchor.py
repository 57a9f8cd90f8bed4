"""Label Studio regions moved from an article's old text onto its edited text, through a character diff.

:func:`unchanged_blocks` finds the stretches the edit left alone (``difflib.SequenceMatcher`` opcodes over code
points, without its junk heuristic, which would treat frequent characters such as spaces as junk in texts over
200 characters).  :func:`reanchor_result` moves every span region of a result list: a span wholly inside one
unchanged block is shifted by that block's move; a span that touches a replaced or deleted stretch, or has an
insertion inside it, is removed, with every item of the same region (its per-region attributes) and every
relation that points at it.  Each removal comes back as a :class:`RemovedRegion` so that it can be reported.

A span whose ``value.text`` is not the old text at its offsets but is the new text's there is already on the new
text (a run interrupted after saving it, before the task's text was replaced) and is kept as it is, so a second
run changes nothing.
"""

from __future__ import annotations

import difflib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RemovedRegion:
    """A span (with its offsets, text and label on the old text) or a relation removed from a result list."""

    kind: str  # "span" or "relation"
    id: str | None
    start: int | None = None
    end: int | None = None
    text: str | None = None
    label: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "id": self.id, "start": self.start, "end": self.end, "text": self.text,
                "label": self.label}


def unchanged_blocks(old: str, new: str) -> list[tuple[int, int, int]]:
    """``(old start, old end, new start)`` of every stretch of ``old`` found unchanged in ``new``, in order."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [(i1, i2, j1) for tag, i1, i2, j1, _ in matcher.get_opcodes() if tag == "equal"]


def move_span(blocks: Sequence[tuple[int, int, int]], start: int, end: int) -> tuple[int, int] | None:
    """The offsets of ``[start, end)`` in the new text when it lies wholly in one unchanged block, else None."""
    k = bisect_right([b[0] for b in blocks], start) - 1
    if k < 0:
        return None
    i1, i2, j1 = blocks[k]
    if not (i1 <= start < end <= i2):
        return None
    return start - i1 + j1, end - i1 + j1


def _offsets(item: Mapping[str, object]) -> tuple[int, int] | None:
    value = item.get("value")
    if not isinstance(value, Mapping):
        return None
    start, end = value.get("start"), value.get("end")
    if type(start) is not int or type(end) is not int:
        return None
    return start, end


def _label(value: Mapping[str, object]) -> str | None:
    labels = value.get("labels")
    return str(labels[0]) if isinstance(labels, list) and labels else None


def reanchor_result(result: Sequence[Mapping[str, object]], old: str, new: str,
                    blocks: Sequence[tuple[int, int, int]] | None = None,
                    ) -> tuple[list[dict[str, object]], list[RemovedRegion]]:
    """``result`` with its spans moved from ``old`` onto ``new`` (``blocks``: :func:`unchanged_blocks`, computed
    when not given), and the regions removed; items without offsets (relations, choices) are kept unless they
    belong to or point at a removed span."""
    if blocks is None:
        blocks = unchanged_blocks(old, new)
    moved: dict[int, tuple[int, int]] = {}
    removed_ids: set[object] = set()
    removed: list[RemovedRegion] = []
    for k, item in enumerate(result):
        offsets = _offsets(item)
        if offsets is None:
            continue
        start, end = offsets
        value: Mapping[str, object] = item["value"]  # type: ignore[assignment]
        stored = value.get("text")
        if isinstance(stored, str) and old[start:end] != stored and new[start:end] == stored:
            moved[k] = offsets  # already on the new text
            continue
        target = move_span(blocks, start, end)
        if target is None:
            if item.get("id") is not None:
                removed_ids.add(item.get("id"))
            removed.append(RemovedRegion("span", _str(item.get("id")), start, end, old[start:end], _label(value)))
        else:
            moved[k] = target
    out: list[dict[str, object]] = []
    for k, item in enumerate(result):
        if k in moved:
            start, end = moved[k]
            value = dict(item["value"])  # type: ignore[call-overload]
            value.update(start=start, end=end, text=new[start:end])
            out.append({**item, "value": value})
        elif item.get("type") == "relation":
            if item.get("from_id") in removed_ids or item.get("to_id") in removed_ids:
                labels = item.get("labels")
                removed.append(RemovedRegion("relation", f"{item.get('from_id')}->{item.get('to_id')}",
                                             label=str(labels[0]) if isinstance(labels, list) and labels else None))
            else:
                out.append(dict(item))
        elif _offsets(item) is None and item.get("id") not in removed_ids:
            out.append(dict(item))
    return out, removed


def _str(value: object) -> str | None:
    return None if value is None else str(value)

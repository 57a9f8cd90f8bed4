"""Document-level splits that never move a document between releases.

A document's split is decided once, from its id alone: ``sha256(seed + "\\0" + id)`` read as
a number in [0, 1) falls into one of the ratio buckets, taken in their listed order (default
``train`` 0.8, ``validation`` 0.1, ``test`` 0.1).  The assignment is recorded in
``splits.json``::

    {"format": 1, "method": "sha256-bucket", "seed": "corpus-tools",
     "ratios": [["train", 0.8], ["validation", 0.1], ["test", 0.1]],
     "assignments": {"<document id>": "train", ...}}

Building with an earlier ``splits.json`` keeps every earlier assignment, including those of
documents that are no longer in the export (so a document that comes back lands where it
was), and uses the earlier seed and ratios for new documents only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from corpus_tools.errors import InputError
from corpus_tools.keys import KeyValues
from corpus_tools.schemas import bundled_pass
from corpus_tools.strictjson import StrictReader
from corpus_tools.strictjson import loads as json_loads

SPLITS_FORMAT = 1
SPLITS_METHOD = "sha256-bucket"
DEFAULT_SEED = "corpus-tools"
DEFAULT_RATIOS: tuple[tuple[str, float], ...] = (("train", 0.8), ("validation", 0.1), ("test", 0.1))
# datasets accepts split names matching \w+(\.\w+)* only, and refuses "all" (any case: the union of the splits);
# at most 64 characters, so that shard file names (NAME-00000-of-00001.parquet) stay within file-system limits.
SPLIT_NAME = re.compile(r"(?!(?i:all)\Z)(?=.{1,64}\Z)\w+(\.\w+)*")
SPLIT_NAME_RULE = "\\w+(\\.\\w+)*, at most 64 characters, not 'all'"


def bucket(doc_id: str, seed: str) -> float:
    """The document's position in [0, 1): the first 8 bytes of sha256(seed NUL id)."""
    digest = hashlib.sha256(f"{seed}\0{doc_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_ratios(ratios: tuple[tuple[str, float], ...]) -> None:
    """Raise ValueError unless the split names are valid and unique and the ratios sum to 1."""
    names = [name for name, _ in ratios]
    if not ratios or len(set(names)) != len(names):
        raise ValueError(f"split names must be unique and non-empty: {names}")
    for name, ratio in ratios:
        if not SPLIT_NAME.fullmatch(name):
            raise ValueError(f"split name {name!r} must be {SPLIT_NAME_RULE} (datasets refuses it otherwise)")
        if not 0 <= ratio <= 1:
            raise ValueError(f"ratio of {name!r} must lie in [0, 1], got {ratio}")
    if abs(sum(r for _, r in ratios) - 1) > 1e-9:
        raise ValueError(f"split ratios must sum to 1, got {sum(r for _, r in ratios)}")


def parse_ratios(spec: str) -> tuple[tuple[str, float], ...]:
    """``"train=80,validation=10,test=10"`` (percentages or fractions) as ordered ratios."""
    pairs: list[tuple[str, float]] = []
    for part in spec.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=RATIO, got {part!r}")
        try:
            pairs.append((name.strip(), float(value)))
        except ValueError as exc:
            raise ValueError(f"ratio of {name.strip()!r} is not a number: {value!r}") from exc
    total = sum(r for _, r in pairs)
    if total > 1 + 1e-9:  # percentages: they must make 100 (a forgotten split is not spread over the others)
        pairs = [(n, r / 100) for n, r in pairs]
        if abs(sum(r for _, r in pairs) - 1) > 1e-9:  # check_ratios' rule, said in the percentages given
            raise ValueError(f"split percentages must sum to 100, got {total:.12g}")
    ratios = tuple(pairs)
    check_ratios(ratios)
    return ratios


@dataclass
class SplitPlan:
    """The split rule plus every assignment made so far."""

    seed: str = DEFAULT_SEED
    ratios: tuple[tuple[str, float], ...] = DEFAULT_RATIOS
    assignments: dict[str, str] = field(default_factory=dict)
    earlier: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_ratios(self.ratios)

    @property
    def split_names(self) -> tuple[str, ...]:
        """Every split name, ratio order first, then names only found in earlier assignments."""
        names = [n for n, _ in self.ratios]
        names += sorted({s for s in self.assignments.values()} - set(names))
        return tuple(names)

    def rule_split(self, doc_id: str) -> str:
        """The split the hash rule gives, ignoring earlier assignments."""
        position = bucket(doc_id, self.seed)
        cumulative = 0.0
        nonzero = [(n, r) for n, r in self.ratios if r > 0]
        for name, ratio in nonzero:
            cumulative += ratio
            if position < cumulative:
                return name
        return nonzero[-1][0]

    def split_of(self, doc_id: str) -> str:
        """The document's split: its earlier assignment if any, else the rule's (not recorded: the build records
        every assignment on disk)."""
        split = self.assignments.get(doc_id)
        return self.rule_split(doc_id) if split is None else split

    def assign(self, doc_id: str) -> str:
        """The document's split: its earlier assignment if any, else the rule's (and record it)."""
        split = self.assignments.get(doc_id)
        if split is None:
            split = self.assignments[doc_id] = self.rule_split(doc_id)
        return split

    def to_dict(self) -> dict[str, object]:
        return {
            "format": SPLITS_FORMAT,
            "method": SPLITS_METHOD,
            "seed": self.seed,
            "ratios": [[n, r] for n, r in self.ratios],
            "assignments": dict(sorted(self.assignments.items())),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> SplitPlan:
        errors = bundled_pass("splits.schema.json").errors(data)  # compiled yes/no: 0.4 s less for 10k assignments
        if errors:
            raise ValueError(f"{errors[0].message} at {errors[0].json_path}")
        assignments = dict(data["assignments"])
        bad = sorted({s for s in assignments.values() if not SPLIT_NAME.fullmatch(s)})
        if bad:
            raise ValueError(f"invalid split names {bad}")
        return cls(
            seed=data["seed"],
            ratios=tuple((n, float(r)) for n, r in data["ratios"]),
            assignments=assignments,
            earlier=frozenset(assignments),
        )


def read_assignments(path: str | Path, store: KeyValues) -> SplitPlan:
    """The rule of a ``splits.json`` (seed and ratios, no assignments), its assignments put into ``store`` (id →
    ``(split, None)``, the last of a repeated id winning as in a dict), read as a stream: a release's
    assignments are never all in memory.  Raises ValueError (or :class:`ijson.JSONError`, OSError,
    UnicodeDecodeError) when the file is not a valid splits.json."""
    import ijson

    rest: dict[str, object] = {}
    bad: set[str] = set()
    with open(path, "rb") as f:
        events = ijson.parse(StrictReader(f), use_float=True)
        if next(events)[1] != "start_map":
            raise ValueError("splits.json is not a JSON object")
        for _, event, key in events:
            if event == "end_map":
                break
            _, event, value = next(events)
            if key == "assignments" and event == "start_map":
                _stream_assignments(events, path, store, bad)
                rest[key] = {}
            else:
                rest[key] = _json_value(event, value, events)
        for _ in events:  # ijson refuses anything after the object
            pass
    errors = bundled_pass("splits.schema.json").errors(rest)
    if errors:
        raise ValueError(f"{errors[0].message} at {errors[0].json_path}")
    if bad:
        raise ValueError(f"invalid split names {sorted(bad)}")
    return SplitPlan(seed=rest["seed"], ratios=tuple((n, float(r)) for n, r in rest["ratios"]))  # type: ignore


def _stream_assignments(events: Iterator, path: str | Path, store: KeyValues, bad: set[str]) -> None:
    pairs: list[tuple[str, tuple[str, None]]] = []
    for _, event, doc_id in events:
        if event == "end_map":
            break
        _, event, split = next(events)
        if event != "string" or not split:
            raise ValueError(f"the split of {doc_id!r} is not a non-empty string at $.assignments")
        if not SPLIT_NAME.fullmatch(split):
            bad.add(split)
        pairs.append((doc_id, (split, None)))
        if len(pairs) >= 10_000:
            store.put_many(pairs, replace=True)
            pairs.clear()
    store.put_many(pairs, replace=True)


def _json_value(event: str, value: object, events: Iterator) -> object:
    """The value whose first parse event is ``event``, built from the events that follow."""
    import ijson

    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1 if event in ("start_map", "start_array") else 0
    while depth:
        _, event, value = next(events)
        builder.event(event, value)
        depth += 1 if event in ("start_map", "start_array") else -1 if event in ("end_map", "end_array") else 0
    return builder.value


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"{twice!r} is a key twice in one object (a document listed twice would have two splits)")
    return out


def read_splits(path: str | Path) -> SplitPlan:
    """Load an earlier ``splits.json``; raise :class:`InputError` when it is unreadable or invalid."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json_loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read splits file {path}: {exc}") from exc
    try:
        json.loads(text, object_pairs_hook=_unique_keys)  # a document listed twice would be in two splits
        return SplitPlan.from_dict(data)
    except ValueError as exc:
        raise InputError(f"invalid splits file {path}: {exc}") from exc

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
was), and uses the earlier seed and ratios for new documents only.  :func:`read_splits` streams
the earlier assignments into a SQLite file that every process of the build looks documents up
in, a batch at a time (:meth:`SplitPlan.splits_of`): they are never all in memory.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from corpus_tools.errors import InputError
from corpus_tools.keys import KeyValues, KeyValuesFile, KeyValuesReader
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
    """The split rule plus the assignments made so far: an earlier ``splits.json``'s, on disk (``earlier``:
    document id → ``(split, position in the file)``, and ``earlier_names``, the split names they use), and those
    made in memory (``assignments``: :meth:`assign`, :meth:`from_dict`)."""

    seed: str = DEFAULT_SEED
    ratios: tuple[tuple[str, float], ...] = DEFAULT_RATIOS
    assignments: dict[str, str] = field(default_factory=dict)
    earlier: KeyValuesReader | None = None
    earlier_names: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_ratios(self.ratios)

    @property
    def split_names(self) -> tuple[str, ...]:
        """Every split name, ratio order first, then names only found in earlier assignments."""
        names = [n for n, _ in self.ratios]
        names += sorted({*self.assignments.values(), *self.earlier_names} - set(names))
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

    def splits_of(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """The documents' splits by id: each one's earlier assignment if any, else the rule's (not recorded: the
        build records every assignment on disk).  The earlier file is read once for all of them, a few hundred
        ids per query."""
        wanted = list(dict.fromkeys(doc_ids))
        found = self.earlier.get_many(wanted) if self.earlier is not None else {}
        out: dict[str, str] = {}
        for doc_id in wanted:
            earlier = found.get(doc_id)
            split = earlier[0] if earlier is not None else self.assignments.get(doc_id)
            out[doc_id] = self.rule_split(doc_id) if split is None else split  # type: ignore[assignment]
        return out

    def assign(self, doc_id: str) -> str:
        """The document's split: its earlier assignment if any, else the rule's (and record it)."""
        split = self.assignments[doc_id] = self.splits_of([doc_id])[doc_id]
        return split

    def recorded(self) -> Iterator[tuple[str, str]]:
        """Every assignment recorded: the earlier file's (by id, read from disk as a stream), then those made in
        memory."""
        if self.earlier is not None:
            for doc_id, (split, _) in self.earlier.items():
                yield doc_id, split  # type: ignore[misc]
        yield from self.assignments.items()

    def to_dict(self) -> dict[str, object]:
        """The rule and the assignments made in memory (an earlier file's stay on disk: the build's writer streams
        every assignment into ``splits.json``)."""
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
        return cls(seed=data["seed"], ratios=tuple((n, float(r)) for n, r in data["ratios"]), assignments=assignments)


def read_assignments(path: str | Path, store: KeyValues | KeyValuesFile, *, unique: bool = False) -> SplitPlan:
    """The rule of a ``splits.json`` (seed and ratios, and ``earlier_names``: the split names its assignments use),
    its assignments put into ``store`` (id → ``(split, None)``, the last of a repeated id winning as in a dict),
    read as a stream: a release's assignments are never all in memory.  ``unique``: a key found twice in one
    object is refused instead, and ``store`` holds id → ``(split, position)``, the position of the id among the
    assignments.  Raises ValueError (or :class:`ijson.JSONError`, OSError, UnicodeDecodeError) when the file is
    not a valid splits.json."""
    import ijson

    rest: dict[str, object] = {}
    names: set[str] = set()
    with open(path, "rb") as f:
        events = ijson.parse(StrictReader(f), use_float=True)
        if next(events)[1] != "start_map":
            raise ValueError("splits.json is not a JSON object")
        for _, event, key in events:
            if event == "end_map":
                break
            if unique and key in rest:
                raise ValueError(_twice(key))
            _, event, value = next(events)
            if key == "assignments" and event == "start_map":
                _stream_assignments(events, store, names, unique)
                rest[key] = {}
            else:
                rest[key] = _json_value(event, value, events)
        for _ in events:  # ijson refuses anything after the object
            pass
    errors = bundled_pass("splits.schema.json").errors(rest)
    if errors:
        raise ValueError(f"{errors[0].message} at {errors[0].json_path}")
    bad = sorted(name for name in names if not SPLIT_NAME.fullmatch(name))
    if bad:
        raise ValueError(f"invalid split names {bad}")
    return SplitPlan(seed=rest["seed"], ratios=tuple((n, float(r)) for n, r in rest["ratios"]),  # type: ignore
                     earlier_names=frozenset(names))


def _stream_assignments(events: Iterator, store: KeyValues | KeyValuesFile, names: set[str], unique: bool) -> None:
    pairs: list[tuple[str, tuple[str, int | None]]] = []
    position = 0
    for _, event, doc_id in events:
        if event == "end_map":
            break
        _, event, split = next(events)
        if event != "string" or not split:
            raise ValueError(f"the split of {doc_id!r} is not a non-empty string at $.assignments")
        names.add(split)
        pairs.append((doc_id, (split, position if unique else None)))
        position += 1
        if len(pairs) >= 10_000:
            _put_assignments(store, pairs, unique)
            pairs.clear()
    _put_assignments(store, pairs, unique)


def _put_assignments(store: KeyValues | KeyValuesFile, pairs: list[tuple[str, tuple[str, int | None]]],
                     unique: bool) -> None:
    if not unique:  # the last of a repeated id wins
        store.put_many(pairs, replace=True)
        return
    if store.put_many(pairs, replace=False) == len(pairs):  # every id new
        return
    stored = store.get_many(doc_id for doc_id, _ in pairs)  # an id's first position: a later one is a repeat
    raise ValueError(_twice(next(doc_id for doc_id, (_, at) in pairs if stored[doc_id][1] != at)))


def _twice(key: str) -> str:
    return f"{key!r} is a key twice in one object (a document listed twice would have two splits)"


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
        raise ValueError(_twice(next(key for key, _ in pairs if key in seen or seen.add(key))))
    return out


def read_splits(path: str | Path, store: str | Path) -> SplitPlan:
    """Load an earlier ``splits.json``: its rule, and its assignments written as a stream into the new SQLite file
    ``store`` (:attr:`SplitPlan.earlier`, which any process reads; the caller removes the file).  Raise
    :class:`InputError` when the file is unreadable or invalid (``store`` is then removed)."""
    import ijson

    path = Path(path)
    if path.exists() and not path.is_file():  # read twice when refused (see _refusal): /dev/zero never ends
        raise InputError(f"not a file: {path} (a folder, a pipe or a device); give the splits.json file")
    table = KeyValuesFile(store)
    try:
        plan = read_assignments(path, table, unique=True)
    except BaseException as exc:
        table.close()
        table.path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InputError(f"cannot read splits file {path}: {exc}") from exc
        if isinstance(exc, (ijson.JSONError, ValueError)):
            raise _refusal(path, exc) from exc
        raise
    return replace(plan, earlier=table.finish())


def _refusal(path: Path, exc: Exception) -> InputError:
    """The refusal of a splits file the stream found invalid, worded as the whole file read at once words it
    (json's message, the first key found twice, the schema's first error; else the stream's ``exc``): the file is
    read whole only when it is refused."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json_loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return InputError(f"cannot read splits file {path}: {error}")
    try:
        json.loads(text, object_pairs_hook=_unique_keys)  # a document listed twice would be in two splits
        SplitPlan.from_dict(data)
    except ValueError as error:
        return InputError(f"invalid splits file {path}: {error}")
    return InputError(f"invalid splits file {path}: {exc}")

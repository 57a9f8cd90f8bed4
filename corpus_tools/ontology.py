"""The ontology: entity and relation labels, loaded from ``annotations/ontology.yaml``.

The ontology is the single source of truth; :mod:`corpus_tools.artefacts` derives every
configuration from an :class:`Ontology`.  :func:`check_ontology` returns a
:class:`~corpus_tools.report.Report` of located problems; :func:`load_ontology` raises
:class:`~corpus_tools.errors.OntologyError` carrying that report.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from corpus_tools.errors import OntologyError
from corpus_tools.files import read_at_most
from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.schemas import data_path, validator_for
from corpus_tools.text import sha256_bytes
from corpus_tools.yamldata import MAX_BYTES as MAX_YAML_BYTES
from corpus_tools.yamldata import Dialect, line_of, read_mapping, shorten
from corpus_tools.yamldata import json_path as path_of

STAGE = "ontology"
ONTOLOGY_UNREADABLE = define_code(
    "ontology-unreadable", "error",
    "The ontology file is not valid YAML, not a mapping, nested too deeply, or its aliases repeat more values than"
    " an ontology needs (an alias bomb).",
    stage=STAGE,
)
ONTOLOGY_SCHEMA = define_code(
    "ontology-schema", "error", "The ontology does not match schemas/ontology.schema.json.", stage=STAGE
)
ONTOLOGY_DUPLICATE_LABEL = define_code(
    "ontology-duplicate-label", "error", "Two entities or relations share a label.", stage=STAGE
)
ONTOLOGY_UNDEFINED_ENTITY = define_code(
    "ontology-undefined-entity",
    "error",
    "A relation names, as head or tail, an entity type the ontology does not define.",
    stage=STAGE,
)
ONTOLOGY_DUPLICATE_HOTKEY = define_code(
    "ontology-duplicate-hotkey", "error", "Two entity labels share a hotkey.", stage=STAGE
)
ONTOLOGY_DUPLICATE_KEY = define_code(
    "ontology-duplicate-key", "error",
    "A key appears twice in one YAML mapping (YAML would silently keep the last); keep one.", stage=STAGE
)

OVERLAP_POLICIES = ("forbid", "nested", "any")

META_TYPES = ("string", "int", "float", "bool", "date")
"""The types of a declared meta field: its Arrow types are string, int64, float64, bool and date32."""
FIRST_CLASS_META = (("published", "date"), ("url", "string"), ("source_id", "string"))
"""The meta fields every ontology declares, first in the release's meta struct."""
RESERVED_META = ("task_id", "annotation_id", "model_version", "score", "adjudication")
"""Keys of a canonical document's ``meta`` that say where it came from, never article metadata."""
META_DATE_PATTERN = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_DATE = re.compile(META_DATE_PATTERN, re.ASCII)
_INT = re.compile(r"[+-]?\d{1,19}", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_TYPE_WORDS = {"string": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
               "date": "an ISO 8601 date (YYYY-MM-DD) or timestamp (YYYY-MM-DDTHH:MM:SS, maybe with Z or an offset)"}


def meta_type_words(kind: str) -> str:
    """What a value of meta type ``kind`` must be, for a message."""
    return _TYPE_WORDS[kind]


def meta_date(value: object) -> datetime.date | None:
    """The calendar date of an ISO 8601 date or timestamp string (the date as written, no time zone
    conversion), or None when ``value`` is no such string."""
    if type(value) is not str or not _DATE.fullmatch(value):
        return None
    try:
        datetime.datetime.fromisoformat(value)
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def meta_value_ok(kind: str, value: object) -> bool:
    """True when the JSON ``value`` is a value of meta type ``kind`` (null is a missing value: always allowed)."""
    if value is None:
        return True
    if kind == "string":
        return type(value) is str
    if kind == "int":
        return type(value) is int and -(2**63) <= value < 2**63
    if kind == "float":
        return type(value) in (int, float) and math.isfinite(value)
    if kind == "bool":
        return type(value) is bool
    return meta_date(value) is not None


def coerce_meta_value(kind: str, value: object) -> object:
    """``value`` as a JSON value of meta type ``kind``: a typed value as it is, or text (a CSV cell) parsed as an
    integer, a number or ``true``/``false``; raises ValueError when it is neither."""
    if type(value) is str and kind in ("int", "float", "bool"):
        text = value.strip()
        if kind == "int" and _INT.fullmatch(text):
            value = int(text)
        elif kind == "float" and _FLOAT.fullmatch(text):
            value = float(text)
        elif kind == "bool" and text.lower() in ("true", "false"):
            value = text.lower() == "true"
    if not meta_value_ok(kind, value):
        raise ValueError(f"must be {meta_type_words(kind)}")
    return value


@dataclass(frozen=True)
class EntityType:
    label: str
    name_ar: str
    name_en: str
    definition: str
    color: str
    hotkey: str


@dataclass(frozen=True)
class RelationType:
    label: str
    head: tuple[str, ...]
    tail: tuple[str, ...]
    symmetric: bool
    name_en: str = ""
    name_ar: str = ""
    definition: str = ""

    def allows(self, head_label: str, tail_label: str) -> bool:
        if head_label in self.head and tail_label in self.tail:
            return True
        return self.symmetric and tail_label in self.head and head_label in self.tail


@dataclass(frozen=True)
class Ontology:
    name: str
    version: str
    entities: tuple[EntityType, ...]
    relations: tuple[RelationType, ...]
    overlap: str = "nested"
    language: str = "ar"
    description: str = ""
    source_sha256: str = ""
    views: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, steps) of the views every release carries
    extra_meta: tuple[tuple[str, str], ...] = ()  # (name, type) of the declared meta fields after the first-class

    @property
    def meta_fields(self) -> tuple[tuple[str, str], ...]:
        """``(name, type)`` of every meta field of the release's meta struct: the first-class, then the declared."""
        return FIRST_CLASS_META + self.extra_meta

    @property
    def entity_labels(self) -> tuple[str, ...]:
        return tuple(e.label for e in self.entities)

    @property
    def relation_labels(self) -> tuple[str, ...]:
        return tuple(r.label for r in self.relations)

    @property
    def bio_labels(self) -> tuple[str, ...]:
        """BIO tag names: ``O``, then ``B-X``, ``I-X`` for each entity label in order."""
        tags = ["O"]
        for label in self.entity_labels:
            tags += [f"B-{label}", f"I-{label}"]
        return tuple(tags)

    def entity(self, label: str) -> EntityType | None:
        return next((e for e in self.entities if e.label == label), None)

    def relation(self, label: str) -> RelationType | None:
        return next((r for r in self.relations if r.label == label), None)


def default_ontology_path() -> Path:
    return data_path("ontology.yaml")


MAX_YAML_DEPTH = 64  # mappings and lists inside each other (an ontology needs four)
_YAML = Dialect(what="an ontology", noun="ontology", unreadable=ONTOLOGY_UNREADABLE, schema=ONTOLOGY_SCHEMA,
                duplicate=ONTOLOGY_DUPLICATE_KEY, mapping_hint="", depth=MAX_YAML_DEPTH,
                depth_hint="an ontology needs four")


def check_ontology(path: str | Path | None = None) -> tuple[Report, Ontology | None]:
    """Validate an ontology file; return the report and, when valid, the loaded ontology.

    The steps run in order and the first that finds a problem ends the check: read the YAML (one mapping of
    plain data), check it against ``ontology.schema.json``, check the labels against each other, build the
    :class:`Ontology`."""
    path = Path(path) if path is not None else default_ontology_path()
    file = str(path)
    report = Report()
    try:
        with path.open("rb") as handle:
            raw = read_at_most(handle, MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise OntologyError(f"cannot read ontology {path}: {exc.strerror or exc}") from exc
    read = read_mapping(raw, file, report, _YAML)  # composed once: its marks locate every later problem
    if read is None:
        return report, None
    root, data = read
    for check in (_check_schema, _check_labels):
        check(data, _Locator(file, root, report))
        if not report.valid:
            return report, None
    ontology = _data_to_ontology(data, source_sha256=sha256_bytes(raw))
    report.stats = {"entities": len(ontology.entities), "relations": len(ontology.relations)}
    return report, ontology


@dataclass(frozen=True)
class _Locator:
    """Adds problems located by their path in the data: the line of that path in the YAML, and its JSON path."""

    file: str
    root: yaml.MappingNode
    report: Report

    def add(self, code: str, message: str, where: list[object], json_path: str | None = None) -> None:
        self.report.add(make_problem(code, message, file=self.file, line=line_of(self.root, where),
                                     json_path=json_path if json_path is not None else path_of(where)))


def _check_schema(data: dict, locator: _Locator) -> None:
    from corpus_tools.schemas import bundled_pass

    if bundled_pass("ontology.schema.json").is_valid(data):  # jsonschema-rs; jsonschema locates errors
        return
    from jsonschema.exceptions import relevance

    for error in sorted(validator_for("ontology.schema.json").iter_errors(data), key=relevance):
        locator.add(ONTOLOGY_SCHEMA, f"{shorten(error.message)} (fix the value at {error.json_path}).",
                    list(error.absolute_path), json_path=error.json_path)


def _check_labels(data: dict, locator: _Locator) -> None:
    """Labels unique across entities and relations, hotkeys unique, relations naming defined entities only."""
    seen: dict[str, str] = {}
    for kind in ("entities", "relations"):
        for i, item in enumerate(data.get(kind, [])):
            label = item["label"]
            if label in seen:
                locator.add(ONTOLOGY_DUPLICATE_LABEL,
                            f"Label {label!r} is already defined in {seen[label]}; give each label a unique name.",
                            [kind, i, "label"])
            else:
                seen[label] = kind
    hotkeys: dict[str, str] = {}
    for i, item in enumerate(data["entities"]):
        key = item["hotkey"]
        if key in hotkeys:
            locator.add(ONTOLOGY_DUPLICATE_HOTKEY,
                        f"Hotkey {key!r} of {item['label']!r} is already used by {hotkeys[key]!r}; choose another key.",
                        ["entities", i, "hotkey"])
        hotkeys.setdefault(key, item["label"])
    entity_labels = {e["label"] for e in data["entities"]}
    for i, rel in enumerate(data.get("relations", [])):
        for side in ("head", "tail"):
            for j, label in enumerate(rel[side]):
                if label not in entity_labels:
                    locator.add(ONTOLOGY_UNDEFINED_ENTITY,
                                f"Relation {rel['label']!r} names {side} type {label!r}, which is not an entity"
                                " label; define it under entities or remove it.",
                                ["relations", i, side, j])


def _data_to_ontology(data: dict, *, source_sha256: str) -> Ontology:
    return Ontology(
        name=data["name"],
        version=data["version"],
        language=data.get("language", "ar"),
        description=data.get("description", ""),
        overlap=data.get("span_policy", {}).get("overlap", "nested"),
        views=tuple((str(name), tuple(steps)) for name, steps in (data.get("views") or {}).items()),
        extra_meta=tuple((str(name), str(kind)) for name, kind in (data.get("meta") or {}).items()),
        entities=tuple(EntityType(**e) for e in data["entities"]),
        relations=tuple(
            RelationType(
                label=r["label"],
                head=tuple(r["head"]),
                tail=tuple(r["tail"]),
                symmetric=r["symmetric"],
                name_en=r.get("name_en", ""),
                name_ar=r.get("name_ar", ""),
                definition=r.get("definition", ""),
            )
            for r in data.get("relations", [])
        ),
        source_sha256=source_sha256,
    )


def load_ontology(path: str | Path | None = None) -> Ontology:
    """Load and validate an ontology (the bundled default when ``path`` is None)."""
    report, ontology = check_ontology(path)
    if ontology is None:
        first = report.errors[0]
        raise OntologyError(
            f"invalid ontology {path or default_ontology_path()}: {first.location()}: {first.message}"
            + (f" (and {report.error_count - 1} more)" if report.error_count > 1 else ""),
            report,
        )
    return ontology

"""The ontology: entity and relation labels, loaded from ``annotations/ontology.yaml``.

The ontology is the single source of truth; :mod:`corpus_tools.generate` derives every
configuration from an :class:`Ontology`.  :func:`check_ontology` returns a
:class:`~corpus_tools.report.Report` of located problems; :func:`load_ontology` raises
:class:`~corpus_tools.errors.OntologyError` carrying that report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from corpus_tools._text import sha256_bytes
from corpus_tools.errors import OntologyError
from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.schemas import data_path, validator_for

STAGE = "ontology"
ONTOLOGY_UNREADABLE = define_code(
    "ontology-unreadable", "error", "The ontology file is not valid YAML or not a mapping.", stage=STAGE
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

OVERLAP_POLICIES = ("forbid", "nested", "any")


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


def _line_of(node: yaml.Node | None, path: list[object]) -> int | None:
    """The 1-based line of the YAML node at ``path`` (the deepest existing ancestor)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _json_path(path: list[object]) -> str:
    out = "$"
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_ontology(path: str | Path | None = None) -> tuple[Report, Ontology | None]:
    """Validate an ontology file; return the report and, when valid, the loaded ontology."""
    path = Path(path) if path is not None else default_ontology_path()
    report = Report()
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise OntologyError(f"cannot read ontology {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (libyaml's when installed)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        report.add(
            make_problem(
                ONTOLOGY_UNREADABLE,
                f"The ontology is not valid UTF-8 YAML ({getattr(exc, 'problem', None) or exc}); fix the syntax.",
                file=file,
                line=mark.line + 1 if mark is not None else None,
            )
        )
        return report, None
    if not isinstance(data, dict):
        report.add(make_problem(ONTOLOGY_UNREADABLE, "The ontology must be a YAML mapping.", file=file, line=1))
        return report, None

    def line(where: list[object]) -> int | None:  # the YAML node tree is composed only to locate a problem
        return _line_of(yaml.compose(text), where)

    from corpus_tools.validate_schema import bundled_pass

    if not bundled_pass("ontology.schema.json").is_valid(data):  # jsonschema-rs; jsonschema locates errors
        from jsonschema.exceptions import relevance

        for error in sorted(validator_for("ontology.schema.json").iter_errors(data), key=relevance):
            where = list(error.absolute_path)
            report.add(
                make_problem(
                    ONTOLOGY_SCHEMA,
                    f"{error.message} (fix the value at {error.json_path}).",
                    file=file,
                    line=line(where),
                    json_path=error.json_path,
                )
            )
    if not report.valid:
        return report, None

    def located(code: str, message: str, where: list[object]) -> None:
        report.add(make_problem(code, message, file=file, line=line(where), json_path=_json_path(where)))

    seen: dict[str, str] = {}
    for kind in ("entities", "relations"):
        for i, item in enumerate(data.get(kind, [])):
            label = item["label"]
            if label in seen:
                located(
                    ONTOLOGY_DUPLICATE_LABEL,
                    f"Label {label!r} is already defined in {seen[label]}; give each label a unique name.",
                    [kind, i, "label"],
                )
            else:
                seen[label] = f"{kind}"
    hotkeys: dict[str, str] = {}
    for i, item in enumerate(data["entities"]):
        key = item["hotkey"]
        if key in hotkeys:
            located(
                ONTOLOGY_DUPLICATE_HOTKEY,
                f"Hotkey {key!r} of {item['label']!r} is already used by {hotkeys[key]!r}; choose another key.",
                [ "entities", i, "hotkey"],
            )
        hotkeys.setdefault(key, item["label"])
    entity_labels = {e["label"] for e in data["entities"]}
    for i, rel in enumerate(data.get("relations", [])):
        for side in ("head", "tail"):
            for j, label in enumerate(rel[side]):
                if label not in entity_labels:
                    located(
                        ONTOLOGY_UNDEFINED_ENTITY,
                        f"Relation {rel['label']!r} names {side} type {label!r}, which is not an entity label;"
                        " define it under entities or remove it.",
                        ["relations", i, side, j],
                    )
    if not report.valid:
        return report, None

    ontology = Ontology(
        name=data["name"],
        version=data["version"],
        language=data.get("language", "ar"),
        description=data.get("description", ""),
        overlap=data.get("span_policy", {}).get("overlap", "nested"),
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
        source_sha256=sha256_bytes(raw),
    )
    report.stats = {"entities": len(ontology.entities), "relations": len(ontology.relations)}
    return report, ontology


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

"""Label maps: a source corpus's labels onto the ontology's (ANERcorp ``PERS`` → ``PER``), read from YAML.

A map is a YAML mapping checked against ``schemas/labelmap.schema.json``::

    labels: {PERS: PER, LOC: LOC, ORG: ORG}   # entity labels, source -> ontology
    relations: {located_in: PHYS.Located}     # relation labels
    drop: [MISC]                              # entity labels left out (and the relations that lose an argument)
    drop_relations: [other]                   # relation labels left out

A label the map does not name passes through unchanged.  :func:`read_label_map` returns the map, or None and
the located problems (file, line, JSON path) of a file that is not one: it is read as plain YAML data (no tags, no
aliases: a label map needs neither), so reading it never runs code or expands an alias bomb.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from corpus_tools.errors import InputError
from corpus_tools.ontology import _json_path, _line_of
from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.schemas import bundled_pass

STAGE = "interop"
LABELMAP_UNREADABLE = define_code(
    "labelmap-unreadable", "error",
    "The label map is not UTF-8 YAML holding one mapping of plain strings and lists (no tags, no aliases).",
    stage=STAGE,
)
LABELMAP_SCHEMA = define_code(
    "labelmap-schema", "error", "The label map does not match schemas/labelmap.schema.json.", stage=STAGE
)
LABELMAP_UNKNOWN_TARGET = define_code(
    "labelmap-unknown-target", "error",
    "The label map maps a label onto one the ontology does not define (a typo in the map, or another ontology).",
    stage=STAGE,
)

_TAG = "tag:yaml.org,2002:"
_MAX_DEPTH = 8  # a label map is two levels deep


@dataclass(frozen=True)
class LabelMap:
    """What a label map says: entity and relation label renames and the labels to leave out."""

    labels: Mapping[str, str] = field(default_factory=dict)
    relations: Mapping[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()
    drop_relations: frozenset[str] = frozenset()

    def entity_label(self, label: str) -> str | None:
        """The label a span of ``label`` gets, None when the map drops it."""
        return None if label in self.drop else self.labels.get(label, label)

    def relation_label(self, label: str) -> str | None:
        return None if label in self.drop_relations else self.relations.get(label, label)


class _Unreadable(Exception):
    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


def _plain(node: yaml.Node, depth: int = 0) -> object:
    """Plain data from a composed node: strings (a number or boolean is the text it is written as, since labels
    are text), lists and mappings with string keys; anything else is :class:`_Unreadable`."""
    if depth > _MAX_DEPTH:
        raise _Unreadable("Mappings and lists are nested too deeply for a label map (it has two levels).", node)
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _TAG + "null":
            return None
        if node.tag in (_TAG + "str", _TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "timestamp"):
            return node.value
    elif isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
        return [_plain(item, depth + 1) for item in node.value]
    elif isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
        out: dict[str, object] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag not in (_TAG + "str", _TAG + "int", _TAG + "bool"):
                raise _Unreadable("A key of the label map is not a label (merge keys and complex keys are not"
                                  " allowed); write it as plain text.", key)
            if key.value in out:
                raise _Unreadable(f"The key {key.value!r} is given twice in one mapping; keep one (YAML would keep"
                                  " the last silently).", key)
            out[key.value] = _plain(value, depth + 1)
        return out
    raise _Unreadable(f"The YAML tag {node.tag!r} is not allowed in a label map; write plain labels.", node)


class _NoAliases(yaml.SafeLoader):
    """Composes YAML refusing aliases: a label map needs none, and refusing them rules out an alias bomb (the pure
    Python loader: the C one composes in C; a label map is a few lines)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a label map",
                                              event.start_mark)
        return super().compose_node(parent, index)


def read_label_map(path: str | Path, report: Report, *, entity_labels: tuple[str, ...] | None = None,
                   relation_labels: tuple[str, ...] | None = None) -> LabelMap | None:
    """The label map in ``path``, or None with its located problems added to ``report``.  With the ontology's
    ``entity_labels`` and ``relation_labels``, a map onto a label the ontology lacks is a problem too.  Raises
    :class:`~corpus_tools.errors.InputError` when the file cannot be read at all."""
    path = Path(path)
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read label map {path}: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(raw.decode("utf-8"), Loader=_NoAliases)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        report.add(make_problem(
            LABELMAP_UNREADABLE,
            f"The label map is not valid UTF-8 YAML ({getattr(exc, 'problem', None) or exc}); fix the syntax.",
            file=file, line=mark.line + 1 if mark is not None else None,
        ))
        return None
    if not isinstance(root, yaml.MappingNode):
        report.add(make_problem(LABELMAP_UNREADABLE, "The label map must be a YAML mapping with the keys labels,"
                                " relations, drop or drop_relations.", file=file,
                                line=root.start_mark.line + 1 if root is not None else 1))
        return None
    try:
        data = _plain(root)
    except _Unreadable as exc:
        report.add(make_problem(LABELMAP_UNREADABLE, str(exc), file=file, line=exc.node.start_mark.line + 1))
        return None
    schema = bundled_pass("labelmap.schema.json")
    errors = schema.errors(data)
    for error in errors:
        where = list(error.absolute_path)
        report.add(make_problem(LABELMAP_SCHEMA, f"{error.message}; fix the value at {error.json_path} (see"
                                " docs/interop.md, Label maps).", file=file, line=_line_of(root, where),
                                json_path=error.json_path))
    if errors:
        return None
    assert isinstance(data, dict)
    found = LabelMap(labels=dict(data.get("labels") or {}), relations=dict(data.get("relations") or {}),
                     drop=frozenset(data.get("drop") or ()), drop_relations=frozenset(data.get("drop_relations") or ()))
    unknown = 0
    for key, known, kind in (("labels", entity_labels, "entity"), ("relations", relation_labels, "relation")):
        if known is None:
            continue
        for source, target in getattr(found, key).items():
            if target not in known:
                unknown += 1
                report.add(make_problem(
                    LABELMAP_UNKNOWN_TARGET,
                    f"{source!r} is mapped onto {target!r}, which is not an {kind} label of the ontology; use one of"
                    f" {', '.join(known)} (or drop it).",
                    file=file, line=_line_of(root, [key, source]), json_path=_json_path([key, source]),
                ))
    return None if unknown else found

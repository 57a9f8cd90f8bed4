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

from corpus_tools.errors import InputError
from corpus_tools.files import read_at_most
from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.schemas import bundled_pass
from corpus_tools.yamldata import MAX_BYTES as MAX_YAML_BYTES
from corpus_tools.yamldata import Dialect, json_path, line_of, read_mapping

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

_YAML = Dialect(what="a label map", noun="label map", unreadable=LABELMAP_UNREADABLE, schema=LABELMAP_UNREADABLE,
                duplicate=LABELMAP_UNREADABLE, mapping_hint=" with the keys labels, relations, drop or drop_relations",
                depth=8, depth_hint="a label map has two levels", scalars_as_text=True, aliases=False)


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


def read_label_map(path: str | Path, report: Report, *, entity_labels: tuple[str, ...] | None = None,
                   relation_labels: tuple[str, ...] | None = None) -> LabelMap | None:
    """The label map in ``path``, or None with its located problems added to ``report``.  With the ontology's
    ``entity_labels`` and ``relation_labels``, a map onto a label the ontology lacks is a problem too.  Raises
    :class:`~corpus_tools.errors.InputError` when the file cannot be read at all."""
    path = Path(path)
    file = str(path)
    try:
        with path.open("rb") as handle:
            raw = read_at_most(handle, MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read label map {path}: {exc.strerror or exc}") from exc
    read = read_mapping(raw, file, report, _YAML)  # labels are text: a number or boolean stays as written
    if read is None:
        return None
    root, data = read
    schema = bundled_pass("labelmap.schema.json")
    errors = schema.errors(data)
    for error in errors:
        where = list(error.absolute_path)
        report.add(make_problem(LABELMAP_SCHEMA, f"{error.message}; fix the value at {error.json_path} (see"
                                " docs/interop.md, Label maps).", file=file, line=line_of(root, where),
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
                    file=file, line=line_of(root, [key, source]), json_path=json_path([key, source]),
                ))
    return None if unknown else found

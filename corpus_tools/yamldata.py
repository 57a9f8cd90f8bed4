"""YAML held to plain data: one reader for every YAML file the toolkit reads (the ontology, label maps).

:func:`read_mapping` composes the file once (the node marks locate every later problem) and turns the node tree
into JSON-like data (dicts with string keys, lists, strings, numbers, booleans, None).  Each value that is no such
thing is a located problem (file, line, JSON path): a YAML tag such as ``!!binary`` or ``!!set``, a key that is
not a string, a merge key, a number JSON cannot hold, a key given twice.  A date (``2024-01-01``) stays the text it
is written as.  Aliases are either refused where they are written or followed within :data:`ALIAS_BUDGET`
repeated values in all (an alias bomb is refused at once instead of expanding to gigabytes), and nesting is
bounded, so reading a file never runs code and never explodes.

What a file's problems are called and how they read is the caller's (:class:`Dialect`): the ontology and a label
map report them under their own codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import yaml

from corpus_tools.report import Report, make_problem

MAX_BYTES = 10 << 20  # an ontology or a label map holds a few kilobytes; a device such as /dev/zero never ends
ALIAS_BUDGET = 10_000  # values that aliases may repeat in all; a billion-laughs file asks for hundreds of millions
MESSAGE_CHARS = 300  # a value quoted in a message is cut after this many characters

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_PLAIN_SCALARS = {_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null"}
_TEXT_SCALARS = {_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "timestamp"}


@dataclass(frozen=True)
class Dialect:
    """How one kind of file is read and how its problems are reported.

    ``what``: the file's kind in messages ("an ontology"), ``noun`` the same without its article ("ontology").
    ``unreadable``: the code of a file that cannot be read
    at all (not UTF-8 YAML, not a mapping, an alias bomb, too deep); ``schema``: of a value that is not plain
    data; ``duplicate``: of a key given twice.  ``mapping_hint``: what the top-level mapping should hold.
    ``depth``: how deep mappings and lists may nest, ``depth_hint`` what the file needs.  ``scalars_as_text``:
    numbers, booleans and dates are kept as the text they are written as (labels are text), and such keys are
    allowed.  ``aliases``: follow aliases (within the budget) or refuse them where they are written."""

    what: str
    noun: str
    unreadable: str
    schema: str
    duplicate: str
    mapping_hint: str
    depth: int
    depth_hint: str
    scalars_as_text: bool = False
    aliases: bool = True


class _Refused(Exception):
    """The YAML cannot be read at all (the dialect's ``unreadable`` code, at ``node``'s line)."""

    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


def line_of(node: yaml.Node | None, path: list[object]) -> int | None:
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


def json_path(path: list[object]) -> str:
    out = "$"
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out


def shorten(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


class _NoAliases(yaml.SafeLoader):
    """Composes YAML refusing aliases where they are written (the pure Python loader: the C one composes in C)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def compose_mapping(raw: bytes, file: str, report: Report, dialect: Dialect) -> yaml.MappingNode | None:
    """The YAML node tree of ``raw`` when it is UTF-8 YAML holding one mapping; else None and the problem."""
    try:
        root = yaml.compose(raw.decode("utf-8"), Loader=_LOADER if dialect.aliases else _NoAliases)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        report.add(make_problem(
            dialect.unreadable,
            f"The {dialect.noun} is not valid UTF-8 YAML ({getattr(exc, 'problem', None) or exc});"
            " fix the syntax.",
            file=file, line=mark.line + 1 if mark is not None else None,
        ))
        return None
    if not isinstance(root, yaml.MappingNode):
        report.add(make_problem(dialect.unreadable, f"The {dialect.noun} must be a YAML mapping"
                                f"{dialect.mapping_hint}.", file=file,
                                line=root.start_mark.line + 1 if root is not None else 1))
        return None
    return root


def plain_data(root: yaml.MappingNode, file: str, report: Report, dialect: Dialect) -> dict | None:
    """The mapping as plain JSON-like data; None when a value is no such thing (each one reported)."""
    reader = _PlainData(file, report, dialect)
    try:
        data = reader.build(root, [])
    except _Refused as exc:
        report.add(make_problem(dialect.unreadable, str(exc), file=file, line=exc.node.start_mark.line + 1))
        return None
    if reader.found:  # the problems of this file (the report may hold others)
        return None
    assert isinstance(data, dict)
    return data


def read_mapping(raw: bytes, file: str, report: Report, dialect: Dialect) -> tuple[yaml.MappingNode, dict] | None:
    """The composed mapping of ``raw`` (to locate later problems with :func:`line_of`) and its plain data; None
    when the file is not one mapping of plain data (the problems are in ``report``).  ``raw`` is read with
    :func:`~corpus_tools.files.read_at_most` (``MAX_BYTES + 1``): more than :data:`MAX_BYTES` is refused."""
    if len(raw) > MAX_BYTES:
        report.add(make_problem(dialect.unreadable, f"The {dialect.noun} file holds more than {MAX_BYTES:,} bytes,"
                                f" far more than {dialect.what} needs: give the YAML file itself.", file=file))
        return None
    root = compose_mapping(raw, file, report, dialect)
    data = plain_data(root, file, report, dialect) if root is not None else None
    return None if root is None or data is None else (root, data)


class _PlainData:
    """JSON-like data from a composed YAML node tree (see the module's docstring)."""

    def __init__(self, file: str, report: Report, dialect: Dialect) -> None:
        self.file = file
        self.report = report
        self.dialect = dialect
        self.seen: set[int] = set()
        self.budget = ALIAS_BUDGET
        self.constructor = yaml.constructor.SafeConstructor()
        self.found = False  # a problem was reported
        self.key_tags = {_TAG + "str", *((_TAG + "int", _TAG + "bool") if dialect.scalars_as_text else ())}

    def problem(self, code: str, message: str, node: yaml.Node, path: list[object], **details: object) -> None:
        self.found = True
        self.report.add(make_problem(code, message, file=self.file, line=node.start_mark.line + 1,
                                     json_path=json_path(path), details=details))

    def build(self, node: yaml.Node, path: list[object], repeated: bool = False) -> object:
        dialect = self.dialect
        if id(node) in self.seen:
            repeated = True  # reached again: through an alias
        else:
            self.seen.add(id(node))
        if repeated:
            self.budget -= 1
            if self.budget < 0:
                raise _Refused(f"The aliases (*name) repeat more than {ALIAS_BUDGET} values in all, far more than"
                               f" {dialect.what} needs; write the values out or remove the aliases.", node)
        if len(path) > dialect.depth:
            raise _Refused(f"Mappings and lists are nested more than {dialect.depth} levels deep;"
                           f" {dialect.depth_hint}.", node)
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            if tag in (_TAG + "str", _TAG + "timestamp") or (dialect.scalars_as_text and tag in _TEXT_SCALARS):
                return node.value  # a date stays the text it is written as
            if tag in _PLAIN_SCALARS:
                value = self.constructor.construct_object(node)
                if isinstance(value, float) and not math.isfinite(value):
                    self.problem(dialect.schema, f"{shorten(node.value)!r} is not a JSON number; write a finite"
                                 " number or quote it.", node, path)
                return value
        elif isinstance(node, yaml.SequenceNode) and tag == _TAG + "seq":
            return [self.build(item, [*path, i], repeated) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode) and tag == _TAG + "map":
            return self.mapping(node, path, repeated)
        self.problem(dialect.schema, f"The YAML tag {_short_tag(tag)} is not allowed in {dialect.what}; write plain"
                     " strings, numbers, booleans, lists and mappings (fix the value at"
                     f" {json_path(path)}).", node, path)
        return None

    def mapping(self, node: yaml.MappingNode, path: list[object], repeated: bool) -> dict[str, object]:
        dialect = self.dialect
        out: dict[str, object] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _TAG + "merge":
                self.problem(dialect.schema, f"Merge keys (<<) are not allowed in {dialect.what}; write the keys"
                             " out.", key_node, path)
                continue
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag in self.key_tags):
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else f"a {key_node.id}"
                self.problem(dialect.schema, f"The key {shorten(str(shown))!r} is not a string"
                             f" ({_short_tag(key_node.tag)}); quote it or remove it (fix the mapping at"
                             f" {json_path(path)}).", key_node, path)
                continue
            key = key_node.value
            if key in lines:
                self.problem(dialect.duplicate, f"The key {shorten(key)!r} is given twice in one mapping, on line"
                             f" {lines[key]} and line {line}; keep one (YAML would silently keep the last).",
                             key_node, [*path, key], key=key, first_line=lines[key])
                continue
            lines[key] = line
            out[key] = self.build(value_node, [*path, key], repeated)
        return out

"""The registry of interchange formats: one module per format, each defining ``FORMAT``
(:class:`~corpus_tools.interop.format.Format`).  Importing the registry imports every format module, so their
problem codes are registered; the CLI help and docs/interop.md are generated from it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Literal

from corpus_tools.errors import InputError
from corpus_tools.interop.format import Format

# The format modules of this package, in the order the help lists them.
FORMAT_MODULES: tuple[str, ...] = (
    "documents",
    "labelstudio",
    "tasks",
    "release",
    "conll",
    "brat",
    "doccano",
    "prodigy",
)


_FORMATS: dict[str, Format] = {}
for _module in FORMAT_MODULES:
    _fmt = importlib.import_module(f"corpus_tools.interop.{_module}").FORMAT
    _FORMATS[_fmt.name] = _fmt


def formats() -> dict[str, Format]:
    """Every registered format by name, in help order."""
    return dict(_FORMATS)


def get_format(name: str, direction: Literal["read", "write"]) -> Format:
    """The format ``name``, which must have a reader (``read``) or a writer (``write``); InputError otherwise."""
    known = formats()
    fmt = known.get(name)
    if fmt is None:
        raise InputError(f"unknown format {name!r}; known formats: {', '.join(known)}")
    if (fmt.reader if direction == "read" else fmt.writer) is None:
        can = [n for n, f in known.items() if (f.reader if direction == "read" else f.writer) is not None]
        raise InputError(f"format {name!r} cannot be {'read' if direction == 'read' else 'written'}; "
                         f"formats that can: {', '.join(can)}")
    return fmt


def parse_pair(pair: str) -> tuple[str, str]:
    """One ``--option KEY=VALUE`` as ``(KEY, VALUE)``; InputError when it is not of that form."""
    key, sep, value = pair.partition("=")
    if not sep or not key:
        raise InputError(f"option {pair!r} is not KEY=VALUE")
    return key, value


def reader_options(fmt: Format, pairs: Sequence[str]) -> dict[str, str]:
    """``--option KEY=VALUE`` pairs for ``fmt``'s reader (``read:KEY=VALUE`` accepted too), checked against the
    options it declares."""
    options = {}
    for pair in pairs:
        key, value = parse_pair(pair)
        options[key.removeprefix("read:")] = value
    check_options(fmt, options)
    return options


def check_options(fmt: Format, options: Mapping[str, str]) -> None:
    unknown = sorted(set(options) - set(fmt.options))
    if unknown:
        known = ", ".join(fmt.options) or "none"
        raise InputError(f"format {fmt.name!r} has no option {', '.join(unknown)}; its options: {known}")

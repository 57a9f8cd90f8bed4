"""The registry of interchange formats: one module per format, each defining ``FORMAT``
(:class:`~corpus_tools.interop.format.Format`).  Importing the registry imports every format module, so their
problem codes are registered; the CLI help and docs/interop.md are generated from it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Literal

from corpus_tools.errors import InputError
from corpus_tools.interop.format import Format

# The format modules of this package, in the order the help lists them.
FORMAT_MODULES: tuple[str, ...] = (
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


def check_options(fmt: Format, options: Mapping[str, str]) -> None:
    unknown = sorted(set(options) - set(fmt.options))
    if unknown:
        known = ", ".join(fmt.options) or "none"
        raise InputError(f"format {fmt.name!r} has no option {', '.join(unknown)}; its options: {known}")

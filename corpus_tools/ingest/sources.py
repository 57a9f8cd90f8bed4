"""What an ingest reader is given: one input file, and the run it reports to.

The readers (newswire text in the driver, JSONL and CSV in :mod:`corpus_tools.ingest.tabular`) take a
:class:`Source` and an :class:`IngestRun`; the driver's run implements the protocol, so the readers never
import the driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

Located = tuple[dict[str, object], dict[str, object]]  # an article and where it came from


@dataclass(frozen=True)
class Source:
    """One input file: where to read it, how to name it in problems, and its deterministic source_path."""

    path: str | None  # None is stdin
    display: str
    rel: str
    fmt: str


class IngestRun(Protocol):
    """The state of one ingest run as a reader sees it: options, statistics and the ways to report."""

    fields: Mapping[str, str]
    max_bytes: int
    stats: dict[str, object]
    meta_types: Mapping[str, str]  # the ontology's declared meta fields: name -> type

    def meta_undeclared(self, key: str, where: dict[str, object], **details: object) -> None: ...

    def problem(self, code: str, message: str, **location: object) -> None: ...

    def reject(self, code: str, message: str, **location: object) -> None: ...

    def reject_record(self, code: str, message: str, **location: object) -> None: ...

    def reject_binary(self, data: bytes, where: dict[str, object]) -> None: ...

    def open_input(self, src: Source) -> AbstractContextManager[BinaryIO]: ...

    def clean_text(self, raw: str, where: dict[str, object], *, text_lines: bool,
                   title: str | None = None) -> str | None: ...

    def make_article(self, text: str, src: Source, line: int | None, where: dict[str, object], *,
                     title: str | None, source: str | None, lang: str | None,
                     meta: dict[str, object] | None, source_id: str | None = None) -> dict[str, object] | None: ...




"""What every interchange format is made of: ``Format`` (a name, a reader and/or a writer, its options) and
the ``Context`` a reader or writer gets.

A reader turns a path (file or folder) into canonical :class:`~corpus_tools.spans.Document` records, and adds a
located problem (file, line, document id) to ``ctx.report`` for everything it cannot carry; a writer writes
documents to a path that the caller made for it (a temporary file or folder, renamed into place only when the
whole conversion succeeded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from corpus_tools.report import Report
from corpus_tools.spans import DEFAULT_SEGMENTATION, Document, Token
from corpus_tools.tokens import token_bounds

if TYPE_CHECKING:
    from corpus_tools.ontology import Ontology


@dataclass
class Context:
    """What a reader or writer may use besides its path: the report, the ontology when one was given (a writer
    that needs labels, such as brat's ``annotation.conf``, falls back to the labels it sees), the tokenizer's
    segmentation setting, and the format's own options (``--option KEY=VALUE``, declared in ``Format.options``)."""

    report: Report = field(default_factory=Report)
    ontology: Ontology | None = None
    segmentation: str = DEFAULT_SEGMENTATION
    options: Mapping[str, str] = field(default_factory=dict)


Reader = Callable[[Path, Context], Iterator[Document]]
Writer = Callable[[Iterable[Document], Path, Context], None]


@dataclass(frozen=True)
class Format:
    """One interchange format."""

    name: str
    summary: str  # one line, shown in the help
    reader: Reader | None = None
    writer: Writer | None = None
    output: Literal["file", "folder"] = "file"  # what the writer makes at its path
    options: Mapping[str, str] = field(default_factory=dict)  # option name → one-line help

    @property
    def directions(self) -> str:
        return "/".join(d for d, f in (("read", self.reader), ("write", self.writer)) if f is not None)


_TOKEN_BATCH = 256


def with_tokens(documents: Iterable[Document], segmentation: str) -> Iterator[tuple[Document, list[Token]]]:
    """Each document with its tokens, tokenized a batch at a time by the bulk tokenizer (the same tokens as
    :func:`corpus_tools.spans.tokenize`, in a few numpy calls per batch): what a writer of tokens uses."""
    batch: list[Document] = []

    def flush() -> Iterator[tuple[Document, list[Token]]]:
        starts, ends, counts = token_bounds([d.text for d in batch], segmentation)
        at = 0
        for doc, count in zip(batch, counts.tolist(), strict=True):
            text = doc.text
            yield doc, [Token(text[s:e], s, e) for s, e in zip(starts[at:at + count].tolist(),
                                                                ends[at:at + count].tolist(), strict=True)]
            at += count
        batch.clear()

    for doc in documents:
        batch.append(doc)
        if len(batch) >= _TOKEN_BATCH:
            yield from flush()
    if batch:
        yield from flush()

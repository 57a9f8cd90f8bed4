"""The readable reference of the tokens config, to test the one bulk path (corpus_tools.tokens.token_table) against.

Rows come from :func:`corpus_tools.spans.spans_to_bio` one document at a time and become a record batch through
``pa.RecordBatch.from_pylist``.  Nothing here shares code with ``token_table`` beyond the span model and the
segmentation rule's pattern.  :func:`word_widened` is an independent expectation of the widening (no tokenizer:
a span edge between two word characters moves out to the word's edge).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pyarrow as pa
import regex

from corpus_tools.spans import Span, spans_to_bio

_WORD_CHAR = regex.compile(r"[\p{L}\p{M}\p{Nd}\u200c\u200d]", regex.V1)


def _word(ch: str) -> bool:
    return _WORD_CHAR.fullmatch(ch) is not None


def word_widened(text: str, span: Span) -> Span:
    """``span`` widened to the edges of the words its edges fall inside (segmentation ``none``)."""
    start, end = span.start, span.end
    while 0 < start < len(text) and _word(text[start - 1]) and _word(text[start]):
        start -= 1
    while 0 < end < len(text) and _word(text[end - 1]) and _word(text[end]):
        end += 1
    return Span(start=start, end=end, label=span.label, id=span.id, text=text[start:end])


def reference_rows(docs: Sequence[tuple[str, str, Sequence[Span]]], schema: pa.Schema, bio_ids: Mapping[str, int],
                   *, segmentation: str = "none") -> tuple[pa.RecordBatch, list[int], Counter, Counter]:
    """The tokens rows of ``(id, text, spans)`` documents, tokens per document, and the unencodable and the
    widened spans as ``(document index, start, end, label, id)`` of the spans given."""
    rows, counts, unencodable, widened = [], [], Counter(), Counter()
    for index, (doc_id, text, spans) in enumerate(docs):
        bio = spans_to_bio(text, spans, segmentation)
        rows.append({"id": doc_id, "tokens": [t.text for t in bio.tokens],
                     "token_start": [t.start for t in bio.tokens], "token_end": [t.end for t in bio.tokens],
                     "ner_tags": [bio_ids[tag] for tag in bio.tags]})
        counts.append(len(bio.tokens))
        for span in bio.unencodable:
            unencodable[(index, span.start, span.end, span.label, span.id)] += 1
        for span in bio.widened:
            widened[(index, span.start, span.end, span.label, span.id)] += 1
    return pa.RecordBatch.from_pylist(rows, schema=schema), counts, unencodable, widened

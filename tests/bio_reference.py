"""The readable reference of the tokens config, to test the one bulk path (corpus_tools.tokens.token_table) against.

Rows come from :func:`corpus_tools.spans.spans_to_bio` one document at a time and become a record batch through
``pa.RecordBatch.from_pylist``; whole-token mode widens spans with bisect over the regex tokenizer's base tokens.
Nothing here shares code with ``token_table`` beyond the span model.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence

import pyarrow as pa

from corpus_tools.spans import Span, base_tokens, spans_to_bio


def whole_token_spans(text: str, spans: Sequence[Span]) -> list[Span]:
    """Each span widened to the base tokens its edges fall inside (ids and labels kept, text recomputed)."""
    tokens = base_tokens(text)
    starts, ends = [t.start for t in tokens], [t.end for t in tokens]
    out: list[Span] = []
    for span in spans:
        start, end = span.start, span.end
        i = bisect_right(starts, start) - 1
        if i >= 0 and start < ends[i]:
            start = starts[i]
        j = bisect_left(ends, end)
        if j < len(ends) and starts[j] < end:
            end = ends[j]
        out.append(Span(start=start, end=end, label=span.label, id=span.id, text=text[start:end]))
    return out


def reference_rows(docs: Sequence[tuple[str, str, Sequence[Span]]], schema: pa.Schema, bio_ids: Mapping[str, int],
                   *, whole_tokens: bool = False) -> tuple[pa.RecordBatch, list[int], Counter]:
    """The tokens rows of ``(id, text, spans)`` documents, tokens per document, and the unencodable spans as
    ``(document index, start, end, label, id)`` of the spans given (not the widened ones)."""
    rows, counts, unencodable = [], [], Counter()
    for index, (doc_id, text, spans) in enumerate(docs):
        encoded = whole_token_spans(text, spans) if whole_tokens else list(spans)
        original = {id(wide): span for wide, span in zip(encoded, spans, strict=True)}
        bio = spans_to_bio(text, encoded)
        rows.append({"id": doc_id, "tokens": [t.text for t in bio.tokens],
                     "token_start": [t.start for t in bio.tokens], "token_end": [t.end for t in bio.tokens],
                     "ner_tags": [bio_ids[tag] for tag in bio.tags]})
        counts.append(len(bio.tokens))
        for wide in bio.unencodable:
            span = original[id(wide)]
            unencodable[(index, span.start, span.end, span.label, span.id)] += 1
    return pa.RecordBatch.from_pylist(rows, schema=schema), counts, unencodable

"""Arrow record batches of the ``tokens`` config, built from arrays rather than Python objects.

``pa.RecordBatch.from_pylist`` would need one Python string per token and one int per offset
and tag (a 2,000-character article has about 350 tokens).  :func:`token_row` keeps a document's
token offsets and tag ids as numpy arrays (from :func:`corpus_tools.tokens.encode_bio_arrays`)
with the UTF-8 byte offset of every token, and :func:`tokens_batch` turns a chunk of such rows into
the Arrow arrays directly: the token strings are one gather from the texts' UTF-8 bytes.  The
batch equals what ``from_pylist`` builds from the same rows (values, schema and ``nbytes``; a test
holds them equal), so the Parquet files are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpus_tools.tokens import BioArrays


@dataclass(slots=True)
class TokenRow:
    """One row of the tokens config: the document id, its text in UTF-8 and the token arrays."""

    id: str
    utf8: bytes
    byte_starts: np.ndarray
    byte_ends: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    tags: np.ndarray

    def to_dict(self) -> dict[str, object]:
        """The row as ``from_pylist`` would take it."""
        text = self.utf8
        return {
            "id": self.id,
            "tokens": [text[s:e].decode("utf-8") for s, e in zip(self.byte_starts.tolist(), self.byte_ends.tolist(),
                                                                   strict=True)],
            "token_start": self.starts.tolist(),
            "token_end": self.ends.tolist(),
            "ner_tags": self.tags.tolist(),
        }


def token_row(doc_id: str, text: str, bio: BioArrays) -> TokenRow:
    """The tokens row of one document (the text must be valid Unicode: Arrow strings are UTF-8)."""
    codes = bio.codes
    width = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
    byte_at = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(width, out=byte_at[1:])
    return TokenRow(doc_id, text.encode("utf-8"), byte_at[bio.starts], byte_at[bio.ends], bio.starts, bio.ends,
                    bio.tags)


def _offsets(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=out[1:])
    return out


def tokens_batch(rows: Sequence[TokenRow], schema: pa.Schema) -> pa.RecordBatch:
    """One record batch of the tokens config (``schema``: its ``Features.arrow_schema``)."""
    list_offsets = pa.array(_offsets([len(r.starts) for r in rows]))
    # Token strings: gather every token's bytes from the concatenated texts.
    base = np.cumsum([0] + [len(r.utf8) for r in rows[:-1]], dtype=np.int64)
    byte_starts = np.concatenate([r.byte_starts + b for r, b in zip(rows, base.tolist(), strict=True)])
    lengths = np.concatenate([r.byte_ends for r in rows]) - np.concatenate([r.byte_starts for r in rows])
    string_offsets = _offsets(lengths)
    blob = np.frombuffer(b"".join(r.utf8 for r in rows), dtype=np.uint8)
    gather = np.arange(string_offsets[-1], dtype=np.int64) + np.repeat(byte_starts - string_offsets[:-1], lengths)
    strings = pa.StringArray.from_buffers(len(lengths), pa.py_buffer(string_offsets), pa.py_buffer(blob[gather]))

    def as_list(field: str, values: pa.Array) -> pa.ListArray:
        return pa.ListArray.from_arrays(list_offsets, values, type=schema.field(field).type)

    def numbers(field: str, arrays: list[np.ndarray]) -> pa.ListArray:
        value_type = schema.field(field).type.value_type
        return as_list(field, pa.array(np.concatenate(arrays).astype(value_type.to_pandas_dtype())))

    columns = {
        "id": pa.array([r.id for r in rows], type=schema.field("id").type),
        "tokens": as_list("tokens", strings),
        "token_start": numbers("token_start", [r.starts for r in rows]),
        "token_end": numbers("token_end", [r.ends for r in rows]),
        "ner_tags": numbers("ner_tags", [r.tags for r in rows]),
    }
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)

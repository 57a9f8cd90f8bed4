"""Problem codes of the ingest stage (registered here, imported by :mod:`corpus_tools.ingest.driver`)."""

from __future__ import annotations

from corpus_tools.report import define_code

STAGE = "ingest"
BOM_REMOVED = define_code(
    "ingest-bom-removed", "warning", "A leading UTF-8 byte order mark was removed before offsets were counted.",
    stage=STAGE,
)
LINE_ENDS_CONVERTED = define_code(
    "ingest-line-ends-converted", "warning", "CRLF or CR line ends were converted to LF before offsets were counted.",
    stage=STAGE,
)
INVALID_UTF8 = define_code(
    "ingest-invalid-utf8", "error",
    "The input is not valid UTF-8 (byte offset given) or holds a lone surrogate; re-encode it as UTF-8."
    " The file or record is skipped.",
    stage=STAGE,
)
EMPTY = define_code(
    "ingest-empty", "error", "The file or text is empty or holds only whitespace, or a CSV or JSONL file holds no"
    " record (a header row alone, blank lines); it is skipped.", stage=STAGE
)
BINARY = define_code(
    "ingest-binary", "error", "The file holds NUL bytes (binary data, or UTF-16); it is skipped.", stage=STAGE
)
TOO_LARGE = define_code(
    "ingest-too-large", "error",
    "The file (or JSONL line, or CSV text field) is larger than --max-bytes; it is skipped.", stage=STAGE,
)
UNREADABLE = define_code(
    "ingest-unreadable", "error", "A file or folder inside an input could not be read; it is skipped.", stage=STAGE
)
NOT_A_FILE = define_code(
    "ingest-not-a-file", "warning",
    "A folder holds an entry that is not a regular file (a named pipe, socket or device); it is skipped, never"
    " opened (reading a pipe would wait for a writer).",
    stage=STAGE,
)
BIDI_CONTROL = define_code(
    "ingest-bidi-control", "warning",
    "The text holds bidi control characters (LRM, RLM, ALM, embeddings, overrides, isolates) at the given"
    " positions; they are kept and must never sit at a span edge.",
    stage=STAGE,
)
BOM_IN_TEXT = define_code(
    "ingest-bom-in-text", "warning",
    "The text holds U+FEFF after its start (often from concatenated files); it is kept, at the given positions.",
    stage=STAGE,
)
NO_LAYOUT = define_code(
    "ingest-no-layout", "warning",
    "The text does not follow the newswire layout (title, empty line, dateline); the title is the first"
    " non-empty line and every other non-empty line is a paragraph.",
    stage=STAGE,
)
DUPLICATE = define_code(
    "ingest-duplicate", "warning", "The same text was already ingested from another source; it is written once.",
    stage=STAGE,
)
DUPLICATE_ID = define_code(
    "ingest-duplicate-id", "error",
    "Two records with different texts have the same source id (a mapped id field, or text files of the same name"
    " without extension), so they would get one article id; the later one is skipped. Give each its own id.",
    stage=STAGE,
)
BAD_JSON_LINE = define_code(
    "ingest-bad-json-line", "error", "A JSONL line is not valid JSON; it is skipped.", stage=STAGE
)
RECORD_NOT_OBJECT = define_code(
    "ingest-record-not-object", "error", "A JSONL line holds JSON that is not an object; it is skipped.", stage=STAGE
)
MISSING_FIELD = define_code(
    "ingest-missing-field", "error",
    "A record (or a CSV header) lacks the field mapped to the article text; map it with --field text=NAME."
    " The record (or file) is skipped.",
    stage=STAGE,
)
BAD_FIELD_TYPE = define_code(
    "ingest-bad-field-type", "error",
    "A mapped field has the wrong type (text, title, source and lang must be strings, id a string or an integer,"
    " meta an object);"
    " the record is skipped.",
    stage=STAGE,
)
BAD_CSV_ROW = define_code(
    "ingest-bad-csv-row", "error",
    "A CSV row cannot be parsed or has a different number of fields than the header; it is skipped.", stage=STAGE,
)
META_UNDECLARED = define_code(
    "ingest-meta-undeclared", "warning",
    "A record's meta holds a field the ontology does not declare (reported once per file and field, at its first"
    " record); the value is kept in the articles file, but a release leaves it out until the ontology declares it"
    " under meta:.",
    stage=STAGE, once_per="field",
)
META_TYPE = define_code(
    "ingest-meta-type", "error",
    "A declared meta field holds a value that does not parse as its declared type (string, int, float, bool, or a"
    " date: ISO 8601 YYYY-MM-DD or a timestamp); the record is skipped.",
    stage=STAGE,
)
INVALID_RECORD = define_code(
    "ingest-invalid-record", "error",
    "The Article record does not match schemas/article.schema.json (for example an empty lang); it is skipped.",
    stage=STAGE,
)

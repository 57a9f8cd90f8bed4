"""Problem codes of the ``validate`` stage (registered when :mod:`corpus_tools.validate.driver` is imported).

Codes are stable: never renamed, only deprecated.  Every message built with these codes says
how to fix the problem; the summaries below become docs/errors.md.
"""

from __future__ import annotations

from corpus_tools.report import define_code

STAGE = "validate"


def _code(code: str, severity: str, summary: str, *, once_per: str | None = None) -> str:
    return define_code(code, severity, summary, stage=STAGE, once_per=once_per)  # type: ignore[arg-type]


# --- the file as a whole -----------------------------------------------------------------------
EXPORT_EMPTY = _code("export-empty", "error", "The file is empty (0 bytes or only whitespace).")
EXPORT_INVALID_JSON = _code(
    "export-invalid-json", "error", "The file is not valid JSON at the given byte offset (syntax error, trailing"
    " data, a byte order mark)."
)
EXPORT_TRUNCATED = _code(
    "export-truncated", "error", "The file ends before the JSON is complete (an interrupted download or copy)."
)
EXPORT_INVALID_UTF8 = _code("export-invalid-utf8", "error", "The file holds bytes that are not UTF-8.")
EXPORT_NOT_ARRAY = _code(
    "export-not-array", "error", "The top-level JSON value is not an array of tasks (nor document JSONL)."
)
EXPORT_SCHEMA = _code(
    "export-schema", "error", "A task does not match the Label Studio export JSON Schema narrowed to the ontology."
)

# --- tasks ------------------------------------------------------------------------------------
TASK_NOT_OBJECT = _code("task-not-object", "error", "An item of the top-level array is not a JSON object.")
TASK_MISSING_TEXT = _code(
    "task-missing-text", "error", "A task has no text: `data.text` is missing, null, empty or not a string."
)
META_UNDECLARED = _code(
    "meta-undeclared", "warning", "An article's meta (a task's `data.meta`, a document's `meta`) holds a field the"
    " ontology does not declare: the release's meta struct leaves it out (reported once per file and field, at its"
    " first task or document; the counts count them all). Declare it under `meta:` in the ontology to keep it.",
    once_per="field",
)
META_TYPE = _code(
    "meta-type", "error", "A declared meta field holds a value that is not of its declared type (a date must be"
    " ISO 8601 `YYYY-MM-DD` or a timestamp), or `meta` is not an object."
)
TASK_DUPLICATE_ARTICLE_ID = _code(
    "task-duplicate-article-id", "error", "Two tasks carry the same `data.article_id` (the article was imported"
    " twice)."
)
TASK_DUPLICATE_ID = _code(
    "task-duplicate-id", "error", "Two tasks carry the same Label Studio `id` (an export edited by hand, or merged"
    " from two projects): task ids name tasks in every problem and in the release."
)
ANNOTATION_CANCELLED = _code(
    "annotation-cancelled", "warning", "An annotation was cancelled (skipped) by its annotator; it is left out."
)
ANNOTATION_EMPTY = _code("annotation-empty", "warning", "An annotation or prediction has an empty result.")
RESULT_UNKNOWN_FROM_NAME = _code(
    "result-unknown-from-name", "error", "A span's `from_name` is not the Labels control of the labeling config."
)
RESULT_UNKNOWN_TO_NAME = _code(
    "result-unknown-to-name", "error", "A span's `to_name` is not the Text object of the labeling config."
)

# --- spans ------------------------------------------------------------------------------------
SPAN_OUT_OF_RANGE = _code(
    "span-out-of-range", "error", "A span's start or end lies past the end of the text, or its end is before its"
    " start."
)
SPAN_EMPTY = _code("span-empty", "error", "A span has start == end (it covers no character).")
SPAN_TEXT_MISMATCH = _code(
    "span-text-mismatch", "error", "The span's stored text differs from `text[start:end]`."
)
SPAN_TEXT_WHITESPACE_COLLAPSED = _code(
    "span-text-whitespace-collapsed", "warning", "`value.text` differs from `text[start:end]` only by collapsed"
    " whitespace runs (Label Studio does this, LS#3078); the offsets are right and win."
)
SPAN_TEXT_MISSING = _code(
    "span-text-missing", "warning", "A span has no `value.text`, so its offsets cannot be cross-checked."
)
SPAN_UTF16_OFFSETS = _code(
    "span-utf16-offsets", "error", "A span's offsets count UTF-16 units (JavaScript), not code points; the"
    " repaired code-point offsets are in `details` (`validate --repair-utf16`)."
)
SPAN_EDGE_WHITESPACE = _code(
    "span-edge-whitespace", "error", "A span starts or ends with whitespace."
)
SPAN_EDGE_CONTROL = _code(
    "span-edge-control", "error", "A span starts or ends with an invisible format (Cf) character: a bidi mark,"
    " BOM, ZWJ or ZWNJ."
)
SPAN_EDGE_PUNCTUATION = _code(
    "span-edge-punctuation", "error", "A span starts or ends with punctuation (a full stop, comma, bracket, quote or"
    " dash): punctuation is never at a span edge (annotation guidelines §3.8)."
)
SPAN_EDGE_TATWEEL = _code(
    "span-edge-tatweel", "error", "A span starts with the tatweel (ـ, U+0640) written after a proclitic, which goes"
    " with the proclitic, outside the span (annotation guidelines §3.2)."
)
SPAN_CONTAINS_DIGIT = _code(
    "span-contains-digit", "error", "A span holds a decimal digit (of any script): digits are never part of a name"
    " (annotation guidelines §3.9)."
)
SPAN_CONTAINS_EMOJI = _code(
    "span-contains-emoji", "error", "A span holds an emoji or another pictograph (Unicode Extended_Pictographic):"
    " emoji are never part of a name (annotation guidelines §3.9)."
)
SPAN_LEFT_EDGE_INSIDE_WORD = _code(
    "span-left-edge-inside-word", "warning", "A span starts inside a word, after letters that are not a"
    " proclitic (و ف ب ل ك, وب ول فب فل وك, optional tatweel)."
)
SPAN_RIGHT_EDGE_INSIDE_WORD = _code(
    "span-right-edge-inside-word", "warning", "A span ends inside a word (an enclitic pronoun or a cut word)."
)
SPAN_MISSING_LABEL = _code("span-missing-label", "error", "A span has no label.")
SPAN_UNKNOWN_LABEL = _code("span-unknown-label", "error", "A span's label is not an entity label of the ontology.")
SPAN_MULTIPLE_LABELS = _code("span-multiple-labels", "error", "A span region carries more than one label.")
SPAN_OVERLAP = _code(
    "span-overlap", "error", "Two spans overlap in a way the ontology's overlap policy forbids (forbid: any"
    " overlap; nested: crossing spans)."
)
SPAN_DUPLICATE = _code(
    "span-duplicate", "error", "Two spans of one annotation have the same start, end and label."
)
SPAN_DUPLICATE_ID = _code(
    "span-duplicate-id", "error", "Two spans of one annotation share a region id, so relations are ambiguous."
)

# --- relations --------------------------------------------------------------------------------
RELATION_DANGLING = _code(
    "relation-dangling", "error", "A relation's from_id/to_id (head/tail) names no span of the same annotation."
)
RELATION_SELF = _code("relation-self", "error", "A relation links a span to itself.")
RELATION_MISSING_LABEL = _code("relation-missing-label", "error", "A relation has no label.")
RELATION_UNKNOWN_LABEL = _code(
    "relation-unknown-label", "error", "A relation's label is not a relation label of the ontology."
)
RELATION_MULTIPLE_LABELS = _code("relation-multiple-labels", "error", "A relation carries more than one label.")
RELATION_DOMAIN = _code(
    "relation-domain", "error", "The head (Arg-1) entity type is not allowed for this relation by the ontology."
)
RELATION_RANGE = _code(
    "relation-range", "error", "The tail (Arg-2) entity type is not allowed for this relation by the ontology."
)
RELATION_SYMMETRIC_DIRECTION = _code(
    "relation-symmetric-direction", "error", "The direction contradicts the relation's symmetry: `bi` on a"
    " directed relation, or a symmetric relation stored in both directions."
)
RELATION_INNER_SPAN = _code(
    "relation-inner-span", "error", "A relation's head or tail is a span nested inside another span: relations"
    " connect outermost spans only (annotation guidelines §4.3)."
)
RELATION_DUPLICATE = _code(
    "relation-duplicate", "error", "The same relation (head, label, tail) appears twice in one annotation."
)

# --- canonical document JSONL -----------------------------------------------------------------
DOCUMENT_INVALID_JSON = _code("document-invalid-json", "error", "A line of document JSONL is not valid JSON.")
DOCUMENT_NOT_OBJECT = _code("document-not-object", "error", "A line of document JSONL is not a JSON object.")
DOCUMENT_SCHEMA = _code(
    "document-schema", "error", "A document does not match schemas/document.schema.json."
)
DOCUMENT_DUPLICATE_ID = _code("document-duplicate-id", "error", "Two documents share an id.")

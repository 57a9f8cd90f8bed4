"""A release folder: its manifest, and the pre-publish checks (:func:`check_release`).

Layout of a release folder (what ``build`` writes and ``publish`` uploads)::

    README.md                                     dataset card: YAML configs + dataset_info, body
    data/<config>/<split>-NNNNN-of-NNNNN.parquet  one folder per config, shards per split
    splits.json                                   the split rule and every document's split
    manifest.json                                 name, version, ontology, input sha256, tool version,
                                                  configs (rows and files per split), and the sha256,
                                                  size and (Parquet) row count of every other file

Neither ``datasets`` nor the Hub checks that README metadata, Parquet schema and data agree
(a wrong ClassLabel list or an out-of-range id loads silently), so :func:`check_release` does,
returning a :class:`~corpus_tools.report.Report` of located problems.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path

from corpus_tools.errors import ReleaseError
from corpus_tools.files import write_file_atomically
from corpus_tools.report import define_code
from corpus_tools.schemas import bundled_pass
from corpus_tools.strictjson import loads as json_loads
from corpus_tools.text import sha256_file

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = "manifest.schema.json"
SPLITS_NAME = "splits.json"
CARD_NAME = "README.md"
REQUIRED_FILES = (CARD_NAME, MANIFEST_NAME, SPLITS_NAME)
DEFAULT_CONFIG = "documents"

STAGE = "release"
FILE_MISSING = define_code(
    "release-file-missing", "error",
    "A required file (README.md, manifest.json, splits.json) or a file listed in the manifest is missing.",
    stage=STAGE,
)
MANIFEST_INVALID = define_code(
    "release-manifest-invalid", "error", "manifest.json is unreadable or does not match its schema.", stage=STAGE
)
FILE_UNREADABLE = define_code(
    "release-file-unreadable", "error",
    "A file of the release folder cannot be read (its permissions, an I/O error, a folder in its place, or it"
    " vanished while it was checked).", stage=STAGE,
)
FILE_UNLISTED = define_code(
    "release-file-unlisted", "error", "A file in the release folder is not listed in manifest.json.", stage=STAGE
)
SYMLINK = define_code(
    "release-symlink", "error",
    "An entry of the release folder is a symbolic link: a release holds its files itself, so what is checked is"
    " what is published.", stage=STAGE,
)
SHA_MISMATCH = define_code(
    "release-sha-mismatch", "error",
    "A file's sha256 or size differs from manifest.json (the file changed after the build).", stage=STAGE,
)
TOKENIZER_UNKNOWN = define_code(
    "release-tokenizer-unknown", "warning",
    "manifest.json does not name the tokenizer (a release made before tokenizer version 2, whose tokens were also"
    " cut at annotated span edges): its tokens are not checked against the tokenizer; rebuild it.", stage=STAGE,
)
ONTOLOGY_MISMATCH = define_code(
    "release-ontology-mismatch", "error",
    "The release was built with another ontology (name, version or sha256) than the one given.", stage=STAGE,
)
CARD_INVALID = define_code(
    "release-card-invalid", "error",
    "README.md has no YAML front matter, or datasets cannot parse its configs or dataset_info.", stage=STAGE,
)
NO_DEFAULT = define_code(
    "release-no-default", "error", "The documents config is not the card's single default config.", stage=STAGE
)
CONFIG_MISMATCH = define_code(
    "release-config-mismatch", "error",
    "The card's configs, its dataset_info and manifest.json disagree on configs, splits or files.", stage=STAGE,
)
SPLIT_NAME = define_code(
    "release-split-name", "error",
    "A split name is not \\w+(\\.\\w+)* of at most 64 characters, or is 'all' (datasets refuses it).", stage=STAGE
)
DATA_FILES_UNMATCHED = define_code(
    "release-data-files-unmatched", "error", "A data_files pattern of the card matches no file.", stage=STAGE
)
DATA_FILES_OVERLAP = define_code(
    "release-data-files-overlap", "error", "A data file is matched by two data_files patterns.", stage=STAGE
)
DATA_FILE_ORPHAN = define_code(
    "release-data-file-orphan", "error", "A Parquet file is matched by no data_files pattern.", stage=STAGE
)
SCHEMA_MISMATCH = define_code(
    "release-schema-mismatch", "error",
    "A Parquet file's schema or its huggingface metadata differs from the config's Features.", stage=STAGE,
)
CARD_FEATURES = define_code(
    "release-card-features", "error",
    "The card's dataset_info features differ from the config's Features (README metadata wins silently).",
    stage=STAGE,
)
LAYOUT_COLUMNS = define_code(
    "release-layout-columns", "error",
    "A config's card features lack columns this corpus-tools writes in every release and checks (a release of"
    " another layout, such as one an older version built); that config's files are not checked. Build the"
    " release again, or check it with the version that built it.", stage=STAGE,
)
ROW_COUNT = define_code(
    "release-row-count", "error",
    "A split's row count differs from num_examples in the card or manifest.json.", stage=STAGE,
)
LABEL_RANGE = define_code(
    "release-label-out-of-range", "error", "A ClassLabel id is missing or outside [0, number of names).",
    stage=STAGE,
)
SPAN_TEXT = define_code(
    "release-span-text", "error", "An entity's offsets lie outside the text or text[start:end] != its text.",
    stage=STAGE,
)
RELATION_DANGLING = define_code(
    "release-relation-dangling", "error", "A relation's head or tail is not an entity id of the same document.",
    stage=STAGE,
)
TOKEN_OFFSETS = define_code(
    "release-token-offsets", "error",
    "A tokens row has lists of different lengths, or a token whose length differs from end - start.",
    stage=STAGE,
)
CROSS_CONFIG = define_code(
    "release-cross-config", "error",
    "Configs disagree: tokens rows are not the documents rows, or relation counts differ.", stage=STAGE,
)
TOKENS_DOCUMENT = define_code(
    "release-tokens-document", "error",
    "A tokens row is not its documents row (same split, same position): another id, a token that is not"
    " text[token_start:token_end], or ner_tags that do not decode to the document's entities.", stage=STAGE,
)
VIEW_DOCUMENT = define_code(
    "release-view-document", "error",
    "A row of a view's documents config (documents-NAME) is not its documents row on that view: another id or"
    " text_sha256, a text that is not the documents text normalised with the view's steps, or entities and"
    " relations that are not the documents' ones moved onto the view.", stage=STAGE,
)
RELATIONS_DOCUMENT = define_code(
    "release-relations-document", "error",
    "A relations row is not the relation of the documents config it stands for (its document, id, label, head"
    " and tail ids, and their entities' offsets, texts and labels).", stage=STAGE,
)
SPLITS_INVALID = define_code(
    "release-splits-invalid", "error", "splits.json is unreadable or does not match its schema.", stage=STAGE
)
SPLIT_ASSIGNMENT = define_code(
    "release-split-assignment", "error",
    "A document is in another split than splits.json assigns (or is not assigned at all).", stage=STAGE,
)
DUPLICATE_TEXT = define_code(
    "release-duplicate-text", "error", "Two documents in different splits have exactly the same text (leakage).",
    stage=STAGE,
)
NOT_UTF8 = define_code(
    "release-not-utf8", "error",
    "A string in a data file is not valid UTF-8 (Parquet readers do not check it; datasets fails on it).",
    stage=STAGE,
)
TEXT_SHA256 = define_code(
    "release-text-sha256", "error",
    "A documents row's text_sha256 is not the sha256 of its text's UTF-8 bytes: the text or the hash was changed"
    " after the build; rebuild the release.", stage=STAGE,
)
DUPLICATE_ID = define_code(
    "release-duplicate-id", "error", "A document id appears twice in the documents config.", stage=STAGE
)


# ------------------------------------------------------------------------------------------ manifest
def release_files(root: Path) -> list[str]:
    """Every file of a release folder except manifest.json, as sorted POSIX relative paths."""
    out = []
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            rel = (Path(dirpath) / filename).relative_to(root).as_posix()
            if rel != MANIFEST_NAME:
                out.append(rel)
    return sorted(out)


def release_symlinks(root: Path) -> list[str]:
    """Every symbolic link in a release folder (files and folders, not followed), as sorted relative paths."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                out.append(path.relative_to(root).as_posix())
    return sorted(out)


def is_release_path(rel: object) -> bool:
    """True for a manifest path that stays inside the release folder: relative POSIX parts, none empty, ``.`` or
    ``..`` (``/etc/passwd``, ``../x`` and ``data//x`` are not).  check-release reports the others, diff refuses them."""
    if not isinstance(rel, str) or not rel or "\\" in rel or rel.startswith("/") or ":" in rel.split("/", 1)[0]:
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def manifest_paths_outside(manifest: dict) -> list[str]:
    """The paths in a (schema-valid) manifest's ``files`` and ``configs`` that leave the release folder, sorted."""
    listed = set(manifest.get("files") or {})
    listed |= {f for splits in (manifest.get("configs") or {}).values() for entry in splits.values()
               for f in entry.get("files") or []}
    return sorted(rel for rel in listed if not is_release_path(rel))


def dumps_manifest(manifest: dict) -> str:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8, trailing newline."""
    return json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_manifest(root: Path, core: dict) -> dict:
    """Write ``manifest.json``: ``core`` plus ``files`` (sha256, bytes, Parquet rows) of every other file."""
    import pyarrow.parquet as pq

    files: dict[str, dict[str, object]] = {}
    for rel in release_files(root):
        path = root / rel
        entry: dict[str, object] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        if rel.endswith(".parquet"):
            entry["rows"] = pq.ParquetFile(path).metadata.num_rows
        files[rel] = entry
    manifest = {**core, "files": files}
    write_file_atomically(root / MANIFEST_NAME, dumps_manifest(manifest))
    return manifest


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a release folder; :class:`ReleaseError` when it is missing or invalid."""
    path = Path(directory) / MANIFEST_NAME
    try:
        data = json_loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReleaseError(f"{directory} is not a release folder: {MANIFEST_NAME} is missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"cannot read {path}: {exc}") from exc
    errors = bundled_pass(MANIFEST_SCHEMA).errors(data)
    if errors:
        raise ReleaseError(f"invalid {path}: {errors[0].message} at {errors[0].json_path}")
    return data


def match_data_files(patterns: dict[tuple[str, str], list[str]], files: list[str]) -> dict[str, list[tuple]]:
    """For each file, the (config, split) keys whose patterns match it (paths relative to the root)."""
    matches: dict[str, list[tuple]] = {f: [] for f in files}
    for key, globs in patterns.items():
        for pattern in globs:
            for f in files:
                if f.count("/") == pattern.count("/") and fnmatch.fnmatchcase(f, pattern):
                    if key not in matches[f]:
                        matches[f].append(key)
    return matches

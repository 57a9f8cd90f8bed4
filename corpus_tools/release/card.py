"""The dataset card (``README.md``) of a release: YAML metadata generated from the Features, and a body.

The YAML front matter is laid out as the ``datasets`` classes that also parse it write it
(``MetadataConfigs`` for ``configs``, ``DatasetInfosDict`` for ``dataset_info``; a test compares
the two), from the same ``datasets.Features`` that give the Parquet schema (through
:mod:`corpus_tools.features`, so no ``datasets`` import), so the three never disagree.  Nothing here
reads the clock: the card is byte-identical when rebuilt from the same inputs (a date appears
only when the caller passes one).
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corpus_tools.artefacts import ontology_to_glossary
from corpus_tools.ontology import Ontology
from corpus_tools.release.stats import ReleaseStats

if TYPE_CHECKING:
    from datasets import Features

    from corpus_tools.features import ReleaseFeatures
    from corpus_tools.release.diff import ReleaseDiff
    from corpus_tools.release.splits import SplitPlan

DEFAULT_CONFIG = "documents"
DEFAULT_LICENSE = "unknown"
DEFAULT_RIGHTS = (
    "The article texts are copyrighted newswire (newspaper and agency copy). Rights not cleared: the texts are"
    " not licensed for redistribution by this release; clear them with the copyright holders before publishing"
    " this dataset publicly or training on it commercially."
)
CHANGELOG_START = "<!-- changelog:start -->"
CHANGELOG_END = "<!-- changelog:end -->"

CONFIG_DESCRIPTIONS = {
    "documents": "one row per article: text, metadata, entity spans (code-point offsets) and relations",
    "tokens": "one row per article: clitic-aware tokens with offsets and BIO `ner_tags` (flat layer only)",
    "relations": "one row per relation: the head and tail spans with their labels, and the document id",
    "annotations": "one row per annotator's annotation (including cancelled ones), for disagreement research",
}


@dataclass
class SplitLayout:
    """One config's split as written: its rows, Arrow size and Parquet files (relative paths)."""

    num_examples: int
    num_bytes: int
    files: list[str]
    file_bytes: int = 0


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` value for ``n`` examples."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    for bound, name in bounds:
        if n < bound:
            return name
    return "n>1T" if n >= 10**12 else "1B<n<10B"


def data_files_pattern(config: str, split: str) -> str:
    return f"data/{config}/{split}-*.parquet"


def card_metadata(
    *,
    name: str,
    features: dict[str, Features] | ReleaseFeatures,
    layout: dict[str, dict[str, SplitLayout]],
    license: str,
    documents: int,
) -> dict[str, object]:
    """The YAML front matter as a dict, exactly as datasets' writers produce it, without importing datasets.

    ``features`` is :func:`corpus_tools.features.release_features` (or the ``datasets.Features``
    per config).  The keys and their order are those of ``huggingface_hub.DatasetCardData.to_dict``
    after ``MetadataConfigs.to_dataset_card_data`` (configs sorted by name, ``config_name`` first) and
    ``DatasetInfosDict.to_dataset_card_data`` (a list sorted by config name, or one mapping when a
    single config has rows); ``tests/test_card.py`` compares it with those writers.
    """
    yaml_features = _yaml_features(features)
    data: dict[str, object] = {
        "annotations_creators": ["expert-generated"],
        "language_creators": ["found"],
        "language": ["ar"],
        "license": license,
        "multilinguality": ["monolingual"],
        "size_categories": [size_category(documents)],
        "source_datasets": ["original"],
        "task_categories": ["token-classification"],
        "task_ids": ["named-entity-recognition"],
        "pretty_name": pretty_name(name),
        "language_details": "arb",
        "tags": ["arabic", "news", "named-entity-recognition", "relation-extraction"],
    }
    configs: dict[str, dict[str, object]] = {}
    infos: dict[str, dict[str, object]] = {}
    for config, splits in layout.items():
        nonempty = {s: lay for s, lay in splits.items() if lay.num_examples > 0}
        if not nonempty:
            continue
        entry: dict[str, object] = {
            "data_files": [{"split": s, "path": data_files_pattern(config, s)} for s in nonempty]
        }
        if config == DEFAULT_CONFIG:
            entry["default"] = True
        configs[config] = entry
        infos[config] = {
            "config_name": config,
            "features": copy.deepcopy(yaml_features[config]),
            "splits": [{"name": s, "num_bytes": lay.num_bytes, "num_examples": lay.num_examples}
                       for s, lay in nonempty.items()],
            "download_size": sum(lay.file_bytes for lay in nonempty.values()),
            "dataset_size": sum(lay.num_bytes for lay in nonempty.values()),
        }
    if configs:
        data["configs"] = [{"config_name": c, **configs[c]} for c in sorted(configs)]
    if len(infos) == 1:
        data["dataset_info"] = next(iter(infos.values()))
    elif infos:
        data["dataset_info"] = [infos[c] for c in sorted(infos)]
    return data


def _yaml_features(features: dict[str, Features] | ReleaseFeatures) -> dict[str, list]:
    from corpus_tools.features import ReleaseFeatures

    if isinstance(features, ReleaseFeatures):
        return features.yaml
    return {config: f._to_yaml_list() for config, f in features.items()}


def pretty_name(name: str) -> str:
    return name.rsplit("/", 1)[-1].replace("-", " ").replace("_", " ").strip().title() or name


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def changelog_entry(version: str, *, date: str | None, diff: ReleaseDiff | None, stats: ReleaseStats,
                    notes: tuple[str, ...] = ()) -> str:
    """One changelog entry: this version against the previous release (with ``notes``, extra bullets such as an
    ontology change), or a first-release summary."""
    title = f"### v{version}" + (f" ({date})" if date else "")
    entities = sum(sum(s.entities.values()) for s in stats.splits.values())
    relations = sum(sum(s.relations.values()) for s in stats.splits.values())
    totals = f"{stats.documents} documents, {entities} entities, {relations} relations"
    if diff is None:
        return f"{title}\n\n- First release: {totals}.\n"
    extra = "".join(f"- {note}\n" for note in notes)
    return f"{title}\n\n" + diff.summary_markdown(previous=f"v{diff.old_version}") + extra + f"- Totals: {totals}.\n"


def extract_changelog(card_text: str) -> str:
    """The changelog entries of an earlier card (the lines between the changelog marker lines), or ''."""
    lines = card_text.splitlines()  # the markers are whole lines: a name or rights text quoting one is not a marker
    marks = [line.strip() for line in lines]
    try:
        start = marks.index(CHANGELOG_START)
        end = marks.index(CHANGELOG_END, start + 1)
    except ValueError:
        return ""
    return "\n".join(lines[start + 1 : end]).strip("\n")


def render_body(
    *,
    name: str,
    version: str,
    ontology: Ontology,
    layout: dict[str, dict[str, SplitLayout]],
    stats: ReleaseStats,
    plan: SplitPlan,
    span_mode: str,
    license: str,
    rights: str,
    changelog: str,
    input_sha256: str,
    tool_version: str,
) -> str:
    """The Markdown body of the card."""
    split_names = [s for s in plan.split_names if s in stats.splits and stats.splits[s].documents]
    configs = [c for c, splits in layout.items() if any(lay.num_examples for lay in splits.values())]
    entities_total = sum(sum(s.entities.values()) for s in stats.splits.values())
    relations_total = sum(sum(s.relations.values()) for s in stats.splits.values())
    out: list[str] = [f"# {pretty_name(name)}", ""]
    out += [
        f"Arabic news articles annotated with named entities and the relations between them, following the"
        f" ontology `{ontology.name}` version `{ontology.version}` ({len(ontology.entities)} entity labels,"
        f" {len(ontology.relations)} relation labels). Release `v{version}` holds {stats.documents} documents,"
        f" {entities_total} entity spans and {relations_total} relations, in {len(split_names)} document-level"
        f" splits ({', '.join(split_names)}). Built with corpus-tools {tool_version} from a Label Studio export.",
        "",
        "## How to load",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        *[f'{config} = load_dataset("{name}", "{config}", revision="v{version}")' for config in configs],
        "```",
        "",
        f'Always pin `revision="v{version}"` (a release tag): `main` moves with every release. `revision` only works'
        " through the Hub; for a local copy of this folder, load the folder of the version you want.",
        "",
        "## Configs",
        "",
    ]
    rows = []
    for config in configs:
        counts = ", ".join(f"{s}: {lay.num_examples}" for s, lay in layout[config].items() if lay.num_examples)
        default = " (default)" if config == DEFAULT_CONFIG else ""
        rows.append([f"`{config}`{default}", CONFIG_DESCRIPTIONS.get(config, ""), counts])
    out += [_table(["Config", "Contents", "Rows per split"], rows), ""]
    out += [
        "Every config is Parquet with the `datasets` features in the `dataset_info` metadata above (labels are"
        " `ClassLabel`s; entities and relations are lists of structs). Offsets are `int32` code points.",
        "",
        "## Labels",
        "",
        ontology_to_glossary(ontology).rstrip("\n"),
        "",
        f"BIO tags in `tokens.ner_tags`: {', '.join(f'`{t}`' for t in ontology.bio_labels)}.",
        "",
        "## Statistics",
        "",
    ]
    rows = []
    for split in split_names:
        s = stats.splits[split]
        rows.append([split, s.documents, s.tokens, sum(s.entities.values()), sum(s.relations.values()),
                     sum(s.unencodable.values())])
    out += [_table(["Split", "Documents", "Tokens", "Entities", "Relations", "Unencodable spans"], rows), ""]
    out += ["Entities per label:", ""]
    rows = [[f"`{label}`", *[stats.splits[s].entities[label] for s in split_names]] for label in ontology.entity_labels]
    out += [_table(["Label", *split_names], rows), ""]
    out += ["Relations per label:", ""]
    rows = [[f"`{label}`", *[stats.splits[s].relations[label] for s in split_names]]
            for label in ontology.relation_labels]
    out += [_table(["Label", *split_names], rows), ""]
    unencodable = Counter()
    for s in stats.splits.values():
        unencodable.update(s.unencodable)
    out += [
        f"Unencodable spans: {sum(unencodable.values())}"
        + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(unencodable.items()))})" if unencodable else "")
        + ". A span that BIO cannot hold (nested inside or overlapping another span) is left out of"
        " `tokens.ner_tags` only; it is always in `documents` and `relations`.",
        "",
        "## Offsets, text and tokenisation",
        "",
        "- **Offset unit:** 0-based, end-exclusive **Unicode code points** into `text` (Python `text[start:end]`"
        " equals the entity's `text`). Not UTF-8 bytes (an Arabic letter is 2 bytes) and not UTF-16 units"
        " (JavaScript must convert for characters outside the BMP).",
        "- **Normalisation:** none. `text` is byte-identical to what annotators saw: no NFC/NFKC, tatweel"
        " (U+0640), harakat, bidi marks (U+200E, U+200F, U+061C) and Eastern Arabic digits are kept; alef,"
        " yaa and taa marbuta are not folded. Normalise in a derived view only, never before slicing.",
        "- **Clitic policy:** the proclitics و ف ب ل ك (and their stacks, and a tatweel after them) are outside"
        " the span; the article ال is inside; for the لل contraction the span starts at the second lam;"
        " enclitic pronouns are not annotated.",
        f"- **Overlap policy:** `{ontology.overlap}` (ontology `span_policy.overlap`). Relations are directed:"
        " `head` is ACE Arg-1, `tail` is Arg-2; a symmetric relation is stored once.",
        f"- **span_mode:** `{span_mode}`. "
        + (
            "Entity spans and BIO tags follow the annotated extents exactly; the tokenizer splits a proclitic"
            " from the name it is attached to (و | بيروت), so the proclitic is an `O` token."
            if span_mode == "exact"
            else "In `tokens`, every span is widened to the whole whitespace/punctuation tokens it touches, so a"
            " proclitic stays inside the entity token (ANERcorp/Wojood convention). This is lossy; `documents`"
            " keeps the exact spans."
        ),
        "- **Tokens:** words of letters, marks, digits and ZWJ/ZWNJ, or single punctuation/symbol characters"
        " (، ؛ ؟ « » are their own tokens); whitespace and format characters (bidi marks, BOM) are never part of"
        " a token. `token_start`/`token_end` are code-point offsets into the document's `text`.",
        "",
        "## Splits",
        "",
        f"Splits are by document, decided once from the article id: sha256(seed `{plan.seed}` + NUL + id) falls"
        f" into the ratio buckets {', '.join(f'{n} {r:g}' for n, r in plan.ratios)}. `splits.json` records every"
        " assignment; later releases reuse it, so a document never moves between splits. Exact-duplicate texts"
        " across splits are refused at build time (leakage audit)"
        + (f"; {stats.duplicate_texts} exact duplicates within one split remain." if stats.duplicate_texts else ".")
        + " Splits with no document are left out.",
        "",
        "## Annotation",
        "",
    ]
    sources = ", ".join(f"{k}: {v}" for k, v in sorted(stats.gold_sources.items())) or "none"
    left_out = ", ".join(f"{k}: {v}" for k, v in sorted(stats.left_out.items())) or "none"
    out += [
        f"Gold selection per task: the annotation marked as ground truth, else the only non-cancelled annotation,"
        f" else an adjudicated document from a gold file. Documents by gold source: {sources}. Tasks left out:"
        f" {left_out}. Predictions never become gold.",
        "",
    ]
    if stats.annotations:
        out += [
            f"{stats.annotations} annotations by {len(stats.annotators)}"
            f" annotator{'s' if len(stats.annotators) != 1 else ''} ({stats.cancelled} cancelled)"
            " are in the `annotations` config. Annotator e-mail addresses are replaced by pseudonyms.",
            "",
        ]
        rows = [[a, n] for a, n in sorted(stats.annotators.items())]
        out += [_table(["Annotator", "Annotations"], rows), ""]
    agreement = stats.agreement
    if agreement.pairs:
        out += [
            f"Inter-annotator agreement: pairwise exact-match F1 (same start, end and label) over"
            f" {agreement.pairs} annotator pairs on {agreement.documents} documents:"
            f" {_pct(agreement.f1())}%.",
            "",
        ]
        rows = [[f"`{label}`", _pct(agreement.f1(label))] for label in ontology.entity_labels if agreement.total[label]]
        out += [_table(["Label", "F1 %"], rows), ""]
    else:
        out += ["Inter-annotator agreement: not available (no task has two non-cancelled annotations).", ""]
    out += [
        "## Licence and rights",
        "",
        f"- **Licence of the annotations:** `{license}`.",
        f"- **Texts:** {rights}",
        "- **Personal data:** the texts are published news and name public figures; annotator identities are"
        " pseudonymised.",
        "",
        "## Changelog",
        "",
        CHANGELOG_START,
        changelog.strip("\n"),
        CHANGELOG_END,
        "",
        "## Provenance",
        "",
        f"- Ontology: `{ontology.name}` `{ontology.version}` (sha256 `{ontology.source_sha256}`)",
        f"- Input export sha256: `{input_sha256}`",
        f"- Built by corpus-tools `{tool_version}`; `manifest.json` lists the sha256 and row count of every file.",
        "",
    ]
    return "\n".join(out)


def render_card(metadata: dict[str, object], body: str) -> str:
    """README.md text: YAML front matter then the body.

    The YAML is written as ``huggingface_hub.utils.yaml_dump`` does (``yaml.dump`` with
    ``allow_unicode=True``), without importing huggingface_hub.
    """
    import yaml

    return "---\n" + yaml.dump(metadata, stream=None, allow_unicode=True, sort_keys=False).strip() + "\n---\n\n" + body

"""The dataset card (``README.md``) of a release: rendered by ``build``, read by the checks, merged by ``publish``.

One front matter reader (:func:`split_front_matter`, the regex huggingface_hub uses) serves all three.

The YAML front matter is laid out as the ``datasets`` classes that also parse it write it
(``MetadataConfigs`` for ``configs``, ``DatasetInfosDict`` for ``dataset_info``; a test compares
the two), from the same ``datasets.Features`` that give the Parquet schema (through
:mod:`corpus_tools.features`, so no ``datasets`` import), so the three never disagree.  Nothing here
reads the clock: the card is byte-identical when rebuilt from the same inputs (a date appears
only when the caller passes one).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from corpus_tools.artefacts import ontology_to_glossary, ontology_to_meta_table
from corpus_tools.errors import PublishError, ReleaseError
from corpus_tools.ontology import Ontology
from corpus_tools.release.splits import SPLIT_NAME
from corpus_tools.release.stats import AgreementFigures, ReleaseStats
from corpus_tools.spans import SEGMENTATION_RULES, TOKENIZER, TOKENIZER_VERSION

if TYPE_CHECKING:
    from datasets import Features

    from corpus_tools.features import ReleaseFeatures
    from corpus_tools.release.diff import ReleaseDiff
    from corpus_tools.release.splits import SplitPlan
    from corpus_tools.views import ViewSpec

DEFAULT_CONFIG = "documents"
DEFAULT_LICENSE = "unknown"
DEFAULT_RIGHTS = (
    "The article texts are copyrighted newswire (newspaper and agency copy). Rights not cleared: the texts are"
    " not licensed for redistribution by this release; clear them with the copyright holders before publishing"
    " this dataset publicly or training on it commercially."
)
CHANGELOG_START = "<!-- changelog:start -->"
CHANGELOG_END = "<!-- changelog:end -->"
# What a maintainer writes between these marker lines on the repository's card is kept by every publish
# (:func:`merge_card`); the release card renders one empty block after its summary.
MAINTAINER_START = "<!-- maintainer:start -->"
MAINTAINER_END = "<!-- maintainer:end -->"

CONFIG_DESCRIPTIONS = {
    "documents": "one row per article: text, metadata, entity spans (code-point offsets) and relations",
    "tokens": "one row per article: word tokens of the text alone (never of the labels) with offsets and BIO"
              " `ner_tags` (flat layer only)",
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
    segmentation: str,
    license: str,
    views: Sequence[ViewSpec] = (),
    rights: str,
    changelog: str,
    input_sha256: str,
    tool_version: str,
) -> str:
    """The Markdown body of the card: one section after another, each ending with a blank line."""
    split_names = [s for s in plan.split_names if s in stats.splits and stats.splits[s].documents]
    configs = [c for c, splits in layout.items() if any(lay.num_examples for lay in splits.values())]
    out = [
        *_summary(name, version, ontology, stats, split_names, tool_version),
        *_maintainer_block(),
        *_how_to_load(name, version, configs),
        *_configs_section(layout, configs),
        *_meta_section(ontology),
        *_labels_section(ontology),
        *_statistics_section(ontology, stats, split_names),
        *_conventions_section(ontology, segmentation),
        *_views_section(views, stats, split_names, ontology),
        *_splits_section(plan, stats),
        *_annotation_section(ontology, stats),
        *_licence_section(license, rights),
        *_changelog_section(changelog),
        *_provenance_section(ontology, input_sha256, tool_version),
    ]
    return "\n".join(out)


def _summary(name: str, version: str, ontology: Ontology, stats: ReleaseStats, split_names: list[str],
             tool_version: str) -> list[str]:
    entities_total = sum(sum(s.entities.values()) for s in stats.splits.values())
    relations_total = sum(sum(s.relations.values()) for s in stats.splits.values())
    return [
        f"# {pretty_name(name)}",
        "",
        f"Arabic news articles annotated with named entities and the relations between them, following the"
        f" ontology `{ontology.name}` version `{ontology.version}` ({len(ontology.entities)} entity labels,"
        f" {len(ontology.relations)} relation labels). Release `v{version}` holds {stats.documents} documents,"
        f" {entities_total} entity spans and {relations_total} relations, in {len(split_names)} document-level"
        f" splits ({', '.join(split_names)}). Built with corpus-tools {tool_version} from a Label Studio export.",
        "",
    ]


def _maintainer_block() -> list[str]:
    """The empty block whose content, written on the repository's card, every publish keeps."""
    return [MAINTAINER_START, MAINTAINER_END, ""]


def _how_to_load(name: str, version: str, configs: list[str]) -> list[str]:
    return [
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
    ]


def _configs_section(layout: dict[str, dict[str, SplitLayout]], configs: list[str]) -> list[str]:
    rows = []
    for config in configs:
        counts = ", ".join(f"{s}: {lay.num_examples}" for s, lay in layout[config].items() if lay.num_examples)
        default = " (default)" if config == DEFAULT_CONFIG else ""
        rows.append([f"`{config}`{default}", _config_description(config), counts])
    return [
        "## Configs",
        "",
        _table(["Config", "Contents", "Rows per split"], rows),
        "",
        "Every config is Parquet with the `datasets` features in the `dataset_info` metadata above (labels are"
        " `ClassLabel`s; entities and relations are lists of structs). Offsets are `int32` code points.",
        "",
    ]


def _config_description(config: str) -> str:
    base, _, view = config.partition("-")
    if view and base in ("documents", "tokens"):
        return f"`{base}` on the normalised view `{view}` (see *Normalised views*)"
    return CONFIG_DESCRIPTIONS.get(config, "")


def _views_section(views: Sequence[ViewSpec], stats: ReleaseStats, split_names: list[str],
                   ontology: Ontology) -> list[str]:
    if not views:
        return []
    out = [
        "## Normalised views",
        "",
        "Each view repeats `documents` and `tokens` on a normalised copy of the text: `documents-NAME` holds the"
        " normalised `text` with every entity moved onto it (`text[start:end]` is the normalised entity text) and"
        " the relations between them; `tokens-NAME` holds the tokens of the normalised text, tagged the same way"
        " as `tokens`. The original text and offsets stay in `documents`. The steps run in one fixed order"
        " (docs/views.md of corpus-tools).",
        "",
    ]
    for view in views:
        vanished: Counter[str] = Counter()
        tokens = 0
        for split in split_names:
            counts = stats.splits[split].views.get(view.name)
            if counts is not None:
                vanished.update(counts.vanished)
                tokens += counts.tokens
        steps = ", ".join(f"`{step}`" for step in view.steps)
        lost = (f"{sum(vanished.values())} entities ({', '.join(f'{k}: {v}' for k, v in sorted(vanished.items()))})"
                " consist only of characters the view deletes and are not in it, nor the relations that use them."
                if vanished else "Every entity is in the view.")
        out += [
            f"### `{view.name}`: {steps}",
            "",
            f"Configs `documents-{view.name}` and `tokens-{view.name}` ({tokens} tokens). {lost}",
            "",
            "Map a model's predictions on this view back to the original text with corpus-tools:",
            "",
            "```python",
            "from corpus_tools.views import normalise",
            "",
            f"view = normalise(original_text, {list(view.steps)!r})",
            "assert view.text == row[\"text\"]  # the text of the documents-" + view.name + " row",
            "start, end = view.span_to_original(pred_start, pred_end)  # offsets into original_text",
            "```",
            "",
        ]
    return out


def _meta_section(ontology: Ontology) -> list[str]:
    return [
        "## Article metadata",
        "",
        "The `meta` struct of `documents` holds the article metadata fields the ontology declares, each null when"
        " an article lacks it (a field the ontology does not declare is left out, with a warning at ingest,"
        " validate and build). A date is the calendar date as written (a timestamp's time of day is not kept).",
        "",
        ontology_to_meta_table(ontology).rstrip("\n"),
        "",
    ]


def _labels_section(ontology: Ontology) -> list[str]:
    return [
        "## Labels",
        "",
        ontology_to_glossary(ontology).rstrip("\n"),
        "",
        f"BIO tags in `tokens.ner_tags`: {', '.join(f'`{t}`' for t in ontology.bio_labels)}.",
        "",
    ]


def _statistics_section(ontology: Ontology, stats: ReleaseStats, split_names: list[str]) -> list[str]:
    totals = []
    for split in split_names:
        s = stats.splits[split]
        totals.append([split, s.documents, s.tokens, sum(s.entities.values()), sum(s.relations.values()),
                       sum(s.unencodable.values())])
    entities = [[f"`{label}`", *[stats.splits[s].entities[label] for s in split_names]]
                for label in ontology.entity_labels]
    relations = [[f"`{label}`", *[stats.splits[s].relations[label] for s in split_names]]
                 for label in ontology.relation_labels]
    unencodable, widened = Counter(), Counter()
    for s in stats.splits.values():
        unencodable.update(s.unencodable)
        widened.update(s.widened)
    entities_total = Counter()
    for s in stats.splits.values():
        entities_total.update(s.entities)
    encoding = [[f"`{label}`", entities_total[label], widened[label], unencodable[label]]
                for label in ontology.entity_labels]
    return [
        "## Statistics",
        "",
        _table(["Split", "Documents", "Tokens", "Entities", "Relations", "Unencodable spans"], totals),
        "",
        "Entities per label:",
        "",
        _table(["Label", *split_names], entities),
        "",
        "Relations per label:",
        "",
        _table(["Label", *split_names], relations),
        "",
        "Spans in `tokens.ner_tags`, per label: *widened* spans had an edge inside a token and tag the whole"
        " token (a proclitic attached to a name, as in ANERcorp); *unencodable* spans (nested in or overlapping"
        " another span, once widened) are left out of `ner_tags`. Both stay exact in `documents` and"
        " `relations`.",
        "",
        _table(["Label", "Spans", "Widened to token edges", "Unencodable (nesting)"], encoding),
        "",
        f"Widened spans: {sum(widened.values())}; unencodable spans: {sum(unencodable.values())}.",
        "",
    ]


def _conventions_section(ontology: Ontology, segmentation: str) -> list[str]:
    return [
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
        f"- **Tokens:** tokenizer `{TOKENIZER}` version {TOKENIZER_VERSION}, segmentation `{segmentation}`"
        " (recorded in `manifest.json` under `tokenizer`). A document's tokens are a function of its text alone,"
        " never of its annotations: words of letters, marks, digits and ZWJ/ZWNJ, or single punctuation/symbol"
        " characters (، ؛ ؟ « » are their own tokens); whitespace and format characters (bidi marks, BOM) are"
        " never part of a token. `token_start`/`token_end` are code-point offsets into the document's `text`."
        " Tokenize new text the same way with"
        f" `corpus_tools.spans.tokenize(text, segmentation=\"{segmentation}\")`.",
        f"- **Segmentation:** `{segmentation}`. " + SEGMENTATION_RULES[segmentation],
        "- **Spans in `tokens`:** a span whose edge falls inside a token tags the whole token (ANERcorp/Wojood"
        " convention: `وبغداد` is `B-GPE` for a span on `بغداد`); `documents` and `relations` keep the exact"
        " span.",
        "",
    ]


def _splits_section(plan: SplitPlan, stats: ReleaseStats) -> list[str]:
    return [
        "## Splits",
        "",
        f"Splits are by document, decided once from the article id: sha256(seed `{plan.seed}` + NUL + id) falls"
        f" into the ratio buckets {', '.join(f'{n} {r:g}' for n, r in plan.ratios)}. `splits.json` records every"
        " assignment; later releases reuse it, so a document never moves between splits. Exact-duplicate texts"
        " across splits are refused at build time (leakage audit)"
        + (f"; {stats.duplicate_texts} exact duplicates within one split remain." if stats.duplicate_texts else ".")
        + (f" {stats.near_duplicate_texts} near-duplicate pairs within splits." if stats.near_duplicate_texts else "")
        + " Splits with no document are left out.",
        "",
    ]


def _annotation_section(ontology: Ontology, stats: ReleaseStats) -> list[str]:
    sources = ", ".join(f"{k}: {v}" for k, v in sorted(stats.gold_sources.items())) or "none"
    left_out = ", ".join(f"{k}: {v}" for k, v in sorted(stats.left_out.items())) or "none"
    out = [
        "## Annotation",
        "",
        f"Gold selection per task: the adjudicated document of a `--gold` file, else the annotation marked as"
        f" ground truth, else the only non-cancelled annotation, else the task is left out. Documents by gold"
        f" source: {sources}. Tasks left out:"
        f" {left_out}. Predictions never become gold.",
        "",
    ]
    if stats.annotations:
        annotators = [[a, n] for a, n in sorted(stats.annotators.items())]
        out += [
            f"{stats.annotations} annotations by {len(stats.annotators)}"
            f" annotator{'s' if len(stats.annotators) != 1 else ''} ({stats.cancelled} cancelled)"
            " are in the `annotations` config. Annotator e-mail addresses are replaced by pseudonyms.",
            "",
            _table(["Annotator", "Annotations"], annotators),
            "",
        ]
    return out + _agreement_lines(ontology, stats.agreement)


def _agreement_lines(ontology: Ontology, agreement: AgreementFigures | None) -> list[str]:
    if agreement is None:
        return ["Inter-annotator agreement: not available (the release was built from canonical documents).", ""]
    return agreement.card_lines(ontology.entity_labels, ontology.relation_labels)


def _licence_section(license: str, rights: str) -> list[str]:
    return [
        "## Licence and rights",
        "",
        f"- **Licence of the annotations:** `{license}`.",
        f"- **Texts:** {rights}",
        "- **Personal data:** the texts are published news and name public figures; annotator identities are"
        " pseudonymised.",
        "",
    ]


def _changelog_section(changelog: str) -> list[str]:
    return ["## Changelog", "", CHANGELOG_START, changelog.strip("\n"), CHANGELOG_END, ""]


def _provenance_section(ontology: Ontology, input_sha256: str, tool_version: str) -> list[str]:
    return [
        "## Provenance",
        "",
        f"- Ontology: `{ontology.name}` `{ontology.version}` (sha256 `{ontology.source_sha256}`)",
        f"- Input export sha256: `{input_sha256}`",
        f"- Built by corpus-tools `{tool_version}`; `manifest.json` lists the sha256 and row count of every file.",
        "",
    ]


# -- front matter: one reader and one writer for render, read and merge ------------------------------------------

# huggingface_hub.repocard.REGEX_YAML_BLOCK, so a card splits here exactly as DatasetCard.load splits it.
YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")


def split_front_matter(text: str) -> tuple[str | None, str]:
    """The YAML text of a card's front matter (None when it has none) and the body after it."""
    match = YAML_BLOCK.search(text)
    if not match:
        return None, text
    return match.group(2), text[match.end():]


def load_yaml(text: str) -> object:
    """PyYAML's safe loader (the C one when PyYAML has it); raises yaml.YAMLError."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def dump_yaml(metadata: dict[str, object]) -> str:
    """The front matter's YAML as ``huggingface_hub.utils.yaml_dump`` writes it, without importing huggingface_hub."""
    import yaml

    return yaml.dump(metadata, stream=None, allow_unicode=True, sort_keys=False)


def render_card(metadata: dict[str, object], body: str) -> str:
    """README.md text: YAML front matter then the body."""
    return "---\n" + dump_yaml(metadata).strip() + "\n---\n\n" + body


def split_card(text: str) -> tuple[dict, str]:
    """Front matter (a dict, ``{}`` when absent) and body of a README; ValueError or yaml.YAMLError when unreadable."""
    yaml_text, body = split_front_matter(text)
    if yaml_text is None:
        return {}, text
    data = load_yaml(yaml_text)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("the card's metadata block is not a mapping")
    return data, body


# -- reading a card in the shape build writes, without datasets -------------------------------------------------

CONFIG_KEYS = {"config_name", "data_files", "default"}
INFO_KEYS = {"config_name", "features", "splits", "download_size", "dataset_size"}
SPLIT_KEYS = {"name", "num_bytes", "num_examples"}


@dataclass(frozen=True)
class SplitInfo:
    num_examples: int
    num_bytes: int


@dataclass(frozen=True)
class ConfigInfo:
    """The parts of a ``datasets.DatasetInfo`` the release checks read."""

    features: list | None  # the YAML features list (equal to the ontology's when given)
    splits: dict[str, SplitInfo] | None


@dataclass(frozen=True)
class BuiltCard:
    """What ``MetadataConfigs`` and ``DatasetInfosDict.from_dataset_card_data`` give for a card ``build`` wrote."""

    data: dict
    configs: dict[str, dict]
    infos: dict[str, ConfigInfo]
    raw_infos: list[dict]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_built_card(path: Path, expected_features: dict[str, list]) -> BuiltCard | None:
    """The card's configs and infos when it has the shape ``build`` writes, else None.

    That shape: ``configs`` items with ``config_name``, ``data_files`` as ``{split, path}`` items and
    ``default``; ``dataset_info`` entries with ``config_name``, ``features`` equal to the ontology's,
    complete ``splits``, sizes.  For any other card the caller uses datasets' parsers, so that every
    unusual card gets exactly their verdict and messages.
    """
    try:
        with path.open(mode="r", newline="", encoding="utf-8-sig") as f:
            content = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    yaml_text, _ = split_front_matter(content)
    if yaml_text is None:
        return None
    try:
        data = load_yaml(yaml_text)
    except Exception:  # noqa: BLE001 - datasets' path reports it
        return None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data) or "ignore_metadata_errors" in data:
        return None
    configs = _built_configs(data.get("configs"))
    infos = _built_infos(data.get("dataset_info"), expected_features)
    if configs is None or infos is None:
        return None
    raw = data.get("dataset_info") or []
    return BuiltCard(data=data, configs=configs, infos=infos, raw_infos=raw if isinstance(raw, list) else [raw])


def _built_configs(items: object) -> dict[str, dict] | None:
    if not isinstance(items, list) or not items:
        return None
    out: dict[str, dict] = {}
    for item in items:
        if not isinstance(item, dict) or not set(item) <= CONFIG_KEYS or not isinstance(item.get("config_name"), str):
            return None
        if item["config_name"] in out or not isinstance(item.get("default", False), bool):
            return None
        files = item.get("data_files")
        if not isinstance(files, list) or not files or not all(_is_built_data_files(entry) for entry in files):
            return None
        out[item["config_name"]] = {k: v for k, v in item.items() if k != "config_name"}
    return out


def _is_built_data_files(entry: object) -> bool:
    if not isinstance(entry, dict) or set(entry) != {"split", "path"} or not isinstance(entry["split"], str):
        return False
    if not SPLIT_NAME.fullmatch(entry["split"]):  # datasets refuses the whole card
        return False
    paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
    return bool(paths) and all(isinstance(p, str) for p in paths)


def _built_infos(value: object, expected_features: dict[str, list]) -> dict[str, ConfigInfo] | None:
    if value is None:
        return {}
    if isinstance(value, dict):
        entries = [value]
    elif isinstance(value, list) and all(isinstance(e, dict) for e in value):
        entries = value
    else:
        return None
    out: dict[str, ConfigInfo] = {}
    for entry in entries:
        name = entry.get("config_name", "default")
        if not set(entry) <= INFO_KEYS or not isinstance(name, str) or name in out:
            return None
        if any(entry.get(k) is not None and not _is_int(entry[k]) for k in ("download_size", "dataset_size")):
            return None
        features = entry.get("features")
        if features is not None and (name not in expected_features or features != expected_features[name]):
            return None
        splits = entry.get("splits")
        if splits is not None:
            splits = _built_splits(splits)
            if splits is None:
                return None
        out[name] = ConfigInfo(features=features, splits=splits)
    return out


def _built_splits(splits: object) -> dict[str, SplitInfo] | None:
    if not isinstance(splits, list):
        return None
    parsed: dict[str, SplitInfo] = {}
    for split in splits:
        if not isinstance(split, dict) or set(split) != SPLIT_KEYS or not isinstance(split["name"], str):
            return None
        if split["name"] in parsed or not (_is_int(split["num_examples"]) and _is_int(split["num_bytes"])):
            return None
        parsed[split["name"]] = SplitInfo(num_examples=split["num_examples"], num_bytes=split["num_bytes"])
    return parsed


def default_config_name(configs: dict[str, dict]) -> str | None:
    """``datasets.utils.metadata.MetadataConfigs.get_default_config_name``."""
    default = None
    for name, config in configs.items():
        if len(configs) == 1 or name == "default" or config.get("default"):
            if default is None:
                default = name
            else:
                raise ValueError(f"Dataset has several default configs: '{default}' and '{name}'.")
    return default


# -- merging with the card already on the Hub --------------------------------------------------------------------
# Policy (docs/publishing.md): never clobber the repository's card (huggingface_hub#3043).
# - ``configs`` and ``dataset_info`` always come from the release (they describe its files; a config the release
#   no longer has must disappear, or ``load_dataset`` would look for files that were deleted).
# - A key the release has no value for (``license: unknown``; a key the manifest's ``card_defaults`` names, such
#   as ``pretty_name`` derived from the folder name) takes the repository's value when it has one.
# - Every other key the release sets wins, except that lists are merged (the release's items first, then the
#   repository's extra items, e.g. a custom ``tags`` entry) and mappings are merged key by key.
# - Keys only the repository has (``thumbnail``, ``annotations_creators`` set in the web editor ...) are kept.
# - The Markdown body is the release's (it carries this version's counts and changelog), except the maintainer
#   blocks: what the repository's card holds between MAINTAINER_START and MAINTAINER_END lines replaces the
#   release's (empty) block of the same rank; further blocks follow the release's last one.
# When the merge adds nothing to the release's card, the release README is published byte for byte, so its
# sha256 matches the manifest.  Otherwise the merged README is written (the front matter re-rendered only when it
# changed); the merge is idempotent, so re-publishing the same release over its own merged card changes nothing.

RELEASE_OWNED = ("configs", "dataset_info")
CARD_DEFAULT_KEYS = ("license", "pretty_name")  # keys a build may fill with a default (manifest ``card_defaults``)


@dataclass(frozen=True)
class MergedCard:
    content: bytes
    kept_keys: list[str] = field(default_factory=list)  # keys (or list items) that came from the repo's card
    changed: bool = False  # True when content differs from the release README
    kept_sections: list[str] = field(default_factory=list)  # maintainer blocks that came from the repo's card


def card_defaults(manifest: dict) -> tuple[str, ...]:
    """The card keys a release's build filled with a default (its manifest's ``card_defaults``; none in releases
    built before it was recorded)."""
    listed = manifest.get("card_defaults")
    return tuple(key for key in CARD_DEFAULT_KEYS if isinstance(listed, list) and key in listed)


def _merge_value(release: object, repo: object, key: str, kept: list[str]) -> object:
    if isinstance(release, list) and isinstance(repo, list):
        extra = [item for item in repo if item not in release]
        kept += [f"{key}[{item!r}]" for item in extra]
        return [*release, *extra]
    if isinstance(release, dict) and isinstance(repo, dict):
        merged = dict(release)
        for sub, value in repo.items():
            if sub not in merged:
                merged[sub] = value
                kept.append(f"{key}.{sub}")
        return merged
    return release


def _no_value(key: str, value: object, defaults: Sequence[str]) -> bool:
    """The release has no value of its own for ``key``: a default the build filled in."""
    return key in defaults or (key == "license" and value == DEFAULT_LICENSE)


def merge_metadata(release: dict, repo: dict, defaults: Sequence[str] = ()) -> tuple[dict, list[str]]:
    """The merged front matter and the keys kept from ``repo`` (see the policy above); ``defaults``: the keys the
    release filled with a default (:func:`card_defaults`)."""
    kept: list[str] = []
    merged: dict = {}
    for key, value in release.items():
        if key in RELEASE_OWNED or key not in repo:
            merged[key] = value
        elif _no_value(key, value, defaults):
            merged[key] = repo[key]
            if repo[key] != value:
                kept.append(key)
        else:
            merged[key] = _merge_value(value, repo[key], key, kept)
    for key, value in repo.items():
        if key not in release and key not in RELEASE_OWNED:
            merged[key] = value
            kept.append(key)
    return merged, kept


def _maintainer_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """The (start marker, end marker) line numbers of each maintainer block; a start marker without its end marker
    opens no block."""
    blocks = []
    start = None
    for number, line in enumerate(lines):
        mark = line.strip()
        if start is None and mark == MAINTAINER_START:
            start = number
        elif start is not None and mark == MAINTAINER_END:
            blocks.append((start, number))
            start = None
    return blocks


def _block_text(text: str) -> str:
    """A block's content ending with a line end, so its end marker stays on a line of its own."""
    return text if text.endswith(("\n", "\r")) else text + "\n"


def merge_body(release_body: str, repo_body: str) -> tuple[str, list[str]]:
    """The release's body with the maintainer blocks of the repository's body (see the policy above), and the
    blocks kept (``maintainer block N``); blocks with nothing but blank lines are not carried."""
    repo_lines = repo_body.splitlines(keepends=True)
    carried = {rank: "".join(repo_lines[a + 1 : b]) for rank, (a, b) in enumerate(_maintainer_blocks(repo_lines))}
    carried = {rank: text for rank, text in carried.items() if text.strip()}
    if not carried:
        return release_body, []
    lines = release_body.splitlines(keepends=True)
    blocks = _maintainer_blocks(lines)
    extra = "".join(f"{MAINTAINER_START}\n{_block_text(text)}{MAINTAINER_END}\n"
                    for rank, text in carried.items() if rank >= len(blocks))
    if blocks:  # further blocks right after the release's last one
        at = blocks[-1][1] + 1
    else:  # a release card without a block (built before them): after the summary, before the first section
        at = next((n for n, line in enumerate(lines) if line.startswith("## ")), len(lines))
        extra += "\n" if at < len(lines) else ""
    out = [*lines[:at], extra, *lines[at:]]
    for rank, (a, b) in reversed(list(enumerate(blocks))):  # from the last, so earlier line numbers hold
        if rank in carried:
            out[a + 1 : b] = [_block_text(carried[rank])]
    return "".join(out), [f"maintainer block {rank + 1}" for rank in carried]


def merge_card(release_readme: bytes, repo_readme: bytes | None, *, defaults: Sequence[str] = ()) -> MergedCard:
    """Merge the release README with the repository's current README (``None`` when it has none); ``defaults``:
    the card keys the release's build filled with a default (:func:`card_defaults`).

    A repository README that is not UTF-8 is a :class:`PublishError` (decoding it with replacements would change
    the maintainer's text without a word)."""
    import yaml

    try:
        release_text = release_readme.decode("utf-8")
        release_meta, body = split_card(release_text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ReleaseError(f"the release README.md has an unreadable metadata block: {exc}") from exc
    if repo_readme is None:
        return MergedCard(release_readme)
    try:
        repo_text = repo_readme.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PublishError(f"the repository's README.md is not UTF-8 (byte 0x{repo_readme[exc.start]:02x} at offset"
                           f" {exc.start}); merging would change the card's text. Nothing was published: save the"
                           " card as UTF-8 on the Hub (or delete it) and publish again") from exc
    try:
        repo_meta, repo_body = split_card(repo_text)
    except (ValueError, yaml.YAMLError):
        repo_meta = {}  # an unreadable metadata block on the repo is replaced, not merged
        repo_body = split_front_matter(repo_text)[1]
    merged, kept = merge_metadata(release_meta, repo_meta, defaults)
    merged_body, sections = merge_body(body, repo_body)
    if merged == release_meta and merged_body == body:
        return MergedCard(release_readme)
    head = release_text[: len(release_text) - len(body)] if merged == release_meta else (
        "---\n" + dump_yaml(merged) + "---\n")
    text = head + merged_body
    return MergedCard(text.encode("utf-8"), kept, changed=True, kept_sections=sections)

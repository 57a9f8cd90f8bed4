"""card_metadata and render_card write, without datasets, exactly what datasets' own writers write."""

from __future__ import annotations

import json

import pytest
from datasets import DatasetInfo, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData
from huggingface_hub.utils import yaml_dump

from corpus_tools.artefacts import ontology_to_features
from corpus_tools.features import release_features
from corpus_tools.release.card import (
    DEFAULT_CONFIG,
    SplitLayout,
    card_metadata,
    data_files_pattern,
    pretty_name,
    render_card,
    size_category,
)


def reference_metadata(*, name, features, layout, license, documents) -> dict:
    """The card metadata built through datasets and huggingface_hub (the former implementation)."""
    data = DatasetCardData(
        pretty_name=pretty_name(name),
        language=["ar"],
        language_details="arb",
        license=license,
        multilinguality=["monolingual"],
        size_categories=[size_category(documents)],
        source_datasets=["original"],
        task_categories=["token-classification"],
        task_ids=["named-entity-recognition"],
        annotations_creators=["expert-generated"],
        language_creators=["found"],
        tags=["arabic", "news", "named-entity-recognition", "relation-extraction"],
    )
    configs = {}
    infos = {}
    for config, splits in layout.items():
        nonempty = {s: lay for s, lay in splits.items() if lay.num_examples > 0}
        if not nonempty:
            continue
        entry = {"data_files": [{"split": s, "path": data_files_pattern(config, s)} for s in nonempty]}
        if config == DEFAULT_CONFIG:
            entry["default"] = True
        configs[config] = entry
        split_dict = SplitDict()
        for split, lay in nonempty.items():
            split_dict.add(SplitInfo(name=split, num_bytes=lay.num_bytes, num_examples=lay.num_examples))
        infos[config] = DatasetInfo(
            features=features[config],
            splits=split_dict,
            download_size=sum(lay.file_bytes for lay in nonempty.values()),
            dataset_size=sum(lay.num_bytes for lay in nonempty.values()),
        )
    MetadataConfigs(configs).to_dataset_card_data(data)
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return data.to_dict()


def lay(rows: int, nbytes: int = 1000, file_bytes: int = 300) -> SplitLayout:
    return SplitLayout(num_examples=rows, num_bytes=nbytes, files=[f"x-{rows}.parquet"], file_bytes=file_bytes)


LAYOUTS = {
    "documents only": {"documents": {"train": lay(20)}},
    "tokens only (not the default)": {"tokens": {"train": lay(3), "test": lay(1)}},
    "empty splits left out": {
        "documents": {"train": lay(10), "validation": lay(0), "test": lay(2)},
        "tokens": {"train": lay(10), "validation": lay(0), "test": lay(2)},
        "relations": {"train": lay(0), "validation": lay(0), "test": lay(0)},
    },
    "all configs, several splits": {
        config: {"train": lay(80, 81_234), "validation": lay(10, 9_876), "test": lay(10, 10_001)}
        for config in ("documents", "tokens", "relations", "annotations")
    },
    "big numbers": {
        "annotations": {"train": lay(3_000_000_000, 2**45 + 7, 2**41)},
        "documents": {"train": lay(2_500_000_000, 2**44, 2**40), "test": lay(12_345_678, 2**33, 2**31)},
    },
    "nothing with rows": {"documents": {"train": lay(0)}},
    "config order given unsorted": {
        "tokens": {"test": lay(1), "train": lay(5)},
        "annotations": {"train": lay(7)},
        "documents": {"test": lay(1), "train": lay(5)},
    },
}


def ordered(value):
    """A value with every mapping turned into its list of items, so that key order counts."""
    if isinstance(value, dict):
        return [(k, ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


@pytest.mark.parametrize("case", list(LAYOUTS))
@pytest.mark.parametrize("documents", [0, 999, 10_000, 2_000_000_000])
def test_card_metadata_equals_datasets_writers(ontology, case, documents):
    layout = LAYOUTS[case]
    features = ontology_to_features(ontology)
    kwargs = {"name": "test-org/arabic-ner-news", "layout": layout, "license": "cc-by-4.0", "documents": documents}
    expected = reference_metadata(features=features, **kwargs)
    for given in (release_features(ontology), features):
        mine = card_metadata(features=given, **kwargs)
        assert ordered(mine) == ordered(expected)
        assert json.dumps(mine, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
        body = "# Title\n\nعربي ـ text\n"
        reference_card = "---\n" + yaml_dump(expected, sort_keys=False).strip() + "\n---\n\n" + body
        assert render_card(mine, body).encode("utf-8") == reference_card.encode("utf-8")


def test_card_metadata_does_not_share_the_cached_features(ontology):
    cached = release_features(ontology)
    before = json.dumps(cached.yaml)
    mine = card_metadata(name="x/y", features=cached, layout=LAYOUTS["documents only"], license="unknown",
                         documents=20)
    mine["dataset_info"]["features"].clear()
    assert json.dumps(cached.yaml) == before

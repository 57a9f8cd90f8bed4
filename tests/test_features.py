"""release_features: the datasets-computed Features fields, cached on disk, without datasets when warm."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus_tools import features as FC
from corpus_tools.artefacts import ontology_to_features
from corpus_tools.features import classlabel_columns
from corpus_tools.files import CACHE_ENV


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache" / "features"
    monkeypatch.setenv(CACHE_ENV, str(folder.parent))
    FC.release_features.cache_clear()
    yield folder
    FC.release_features.cache_clear()


def assert_same_as_datasets(value: FC.ReleaseFeatures, ontology) -> None:
    expected = ontology_to_features(ontology)
    assert set(value.schemas) == set(value.features) == set(value.yaml) == set(value.classlabels) == set(expected)
    for config, features in expected.items():
        assert value.schemas[config].equals(features.arrow_schema, check_metadata=True)
        assert value.schemas[config].metadata == features.arrow_schema.metadata
        # the same order too: the card's YAML is written in this order
        assert json.dumps(value.features[config]) == json.dumps(features.to_dict())
        assert json.dumps(value.yaml[config]) == json.dumps(features._to_yaml_list())
        assert value.classlabels[config] == classlabel_columns(features)


def test_fresh_memory_and_disk_values_equal_the_datasets_features(cache, ontology):
    fresh = FC.release_features(ontology)
    assert_same_as_datasets(fresh, ontology)
    files = list(cache.glob("*.json"))
    assert [f.name for f in files] == [f"{FC.cache_key(ontology)}.json"]
    assert FC.release_features(ontology) is fresh  # memoised in memory
    FC.release_features.cache_clear()
    from_disk = FC.release_features(ontology)
    assert from_disk is not fresh
    assert_same_as_datasets(from_disk, ontology)
    assert [p.name for p in cache.iterdir()] == [files[0].name]  # no temporary file left behind


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other format", "configs disagree", "empty"])
def test_a_corrupt_cache_file_is_recomputed_and_rewritten(cache, ontology, damage):
    FC.release_features(ontology)
    path = cache / f"{FC.cache_key(ontology)}.json"
    text = path.read_text(encoding="utf-8")
    original = json.loads(text)
    data = json.loads(text)
    if damage == "garbage":
        path.write_bytes(b"\xff\x00not json")
    elif damage == "truncated":
        path.write_text(text[: len(text) // 2], encoding="utf-8")
    elif damage == "other format":
        path.write_text(json.dumps({**data, "format": 0}), encoding="utf-8")
    elif damage == "configs disagree":
        data["yaml"].pop("tokens")
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text("", encoding="utf-8")
    FC.release_features.cache_clear()
    assert_same_as_datasets(FC.release_features(ontology), ontology)
    assert json.loads(path.read_text(encoding="utf-8")) == original  # rewritten


def test_an_unwritable_cache_folder_only_means_no_disk_cache(tmp_path, monkeypatch, ontology):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    FC.release_features.cache_clear()
    try:
        assert_same_as_datasets(FC.release_features(ontology), ontology)
    finally:
        FC.release_features.cache_clear()


def test_the_key_changes_with_the_ontology(ontology):
    key = FC.cache_key(ontology)
    assert FC.cache_key(ontology) == key
    assert FC.cache_key(dataclasses.replace(ontology, source_sha256="0" * 64)) != key
    fewer = dataclasses.replace(ontology, entities=ontology.entities[:-1])
    assert FC.cache_key(fewer) != key
    assert FC.cache_key(dataclasses.replace(ontology, relations=ontology.relations[::-1])) != key


def test_a_different_ontology_gets_its_own_features(cache, ontology):
    fewer = dataclasses.replace(ontology, entities=ontology.entities[:-1], relations=())
    value = FC.release_features(fewer)
    assert_same_as_datasets(value, fewer)
    assert value.yaml != FC.release_features(ontology).yaml
    assert len(list(cache.glob("*.json"))) == 2


WARM_SCRIPT = """
import sys
from corpus_tools.features import release_features
from corpus_tools.ontology import load_ontology
value = release_features(load_ontology())
print(sorted(value.schemas), "datasets" in sys.modules, "huggingface_hub" in sys.modules)
"""


def test_a_warm_cache_imports_neither_datasets_nor_huggingface_hub(tmp_path):
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", WARM_SCRIPT], env=env, capture_output=True, text=True,
                              check=True)
        return done.stdout.strip()

    configs = "['annotations', 'documents', 'relations', 'tokens']"
    assert run() == f"{configs} True True"  # cold: computed through datasets
    assert run() == f"{configs} False False"


def test_the_key_reads_the_datasets_version_without_importing_it() -> None:
    from importlib.metadata import version

    from corpus_tools.features import _datasets_version

    assert _datasets_version() == version("datasets")


@pytest.mark.parametrize("damage", ["none", "truncated", "flipped"])
def test_the_tokenizer_class_table_is_cached_and_a_damaged_copy_is_rebuilt(cache, damage, monkeypatch):
    import numpy as np

    from corpus_tools import tokens
    built = tokens._build_char_classes()
    # independent expectation: a few code points' classes under the tokenizer pattern
    assert built[ord("ب")] == tokens._WORD and built[ord("\u064b")] == tokens._WORD  # letter, fatha (mark)
    assert built[ord("،")] == tokens._PUNCT and built[ord(" ")] == 0 and built[ord("\u200f")] == 0
    tokens.char_classes.cache_clear()
    try:
        assert np.array_equal(tokens.char_classes(), built)  # built and written
        (path,) = cache.glob("char-classes-*.u8")
        data = bytearray(path.read_bytes())
        if damage == "truncated":
            path.write_bytes(bytes(data[:1000]))
        elif damage == "flipped":
            data[ord("ب")] = 0
            path.write_bytes(bytes(data))
        else:  # an intact copy is read, not built
            monkeypatch.setattr(tokens, "_build_char_classes", lambda: pytest.fail("built again"))
        tokens.char_classes.cache_clear()
        assert np.array_equal(tokens.char_classes(), built)
        assert path.read_bytes() == bytes(built.tobytes()) + __import__("hashlib").sha256(built.tobytes()).digest()
    finally:
        tokens.char_classes.cache_clear()


def test_one_cache_folder_holds_every_cache(tmp_path, monkeypatch):
    """``$CORPUS_TOOLS_CACHE`` moves every cache (Label Studio's virtualenv, the task index, the Features and
    the character classes); without it, ``$XDG_CACHE_HOME``; without either, ``~/.cache``."""
    from corpus_tools.files import cache_root
    from corpus_tools.labelstudio.importer import default_index_dir
    from corpus_tools.labelstudio.server import server_binary

    monkeypatch.delenv("LS_BIN", raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "cache"
    assert (cache_root(), FC.cache_dir(), default_index_dir()) == (root, root / "features", root / "task-index")
    assert server_binary().is_relative_to(root)
    monkeypatch.delenv(CACHE_ENV)
    assert FC.cache_dir() == tmp_path / "xdg" / "corpus-tools" / "features"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "corpus-tools"

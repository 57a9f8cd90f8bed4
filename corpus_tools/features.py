"""The release Features of an ontology without importing ``datasets`` (after the first time).

:func:`corpus_tools.artefacts.ontology_to_features` stays the single generator of the release
``datasets.Features``; importing ``datasets`` is slow (docs/benchmarks.md), so
:func:`release_features` keeps what the build and the release checks need from those Features
(Arrow schemas with their ``huggingface`` metadata, ``Features.to_dict()``, the card's YAML
``features`` lists and the ClassLabel columns) in memory and in one JSON file per key under
``features/`` of the cache folder (:func:`corpus_tools.files.cache_root`).

The key is the sha256 of the ontology's source sha256 and labels, the installed ``datasets``
version, the corpus-tools version and the bytes of ``artefacts.py`` and this module, so a change
to any of them computes the Features again.  A missing, unreadable or corrupt cache file is
recomputed; an unwritable cache folder only means no disk cache.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from corpus_tools.files import cache_root, write_file_atomically
from corpus_tools.ontology import Ontology

if TYPE_CHECKING:
    from datasets import Features

FORMAT = 1

ClassLabelColumn = tuple[str, str | None, int]
VIEW_CONFIGS = ("documents", "tokens")
"""The configs a normalised view repeats, as ``CONFIG-NAME``."""


def base_config(config: str) -> str:
    """The config whose columns ``config`` has: ``documents`` for ``documents-NAME``, itself otherwise."""
    base, sep, _ = config.partition("-")
    return base if sep and base in VIEW_CONFIGS else config


@dataclass(frozen=True)
class ReleaseFeatures:
    """What the release configs' ``datasets.Features`` give, per config name."""

    schemas: dict[str, pa.Schema]  # Features.arrow_schema, with the b"huggingface" metadata
    features: dict[str, dict]  # Features.to_dict()
    yaml: dict[str, list]  # Features._to_yaml_list(): the card's dataset_info features
    classlabels: dict[str, list[ClassLabelColumn]]  # classlabel_columns(Features)

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "schemas": {c: base64.b64encode(s.serialize().to_pybytes()).decode("ascii")
                        for c, s in self.schemas.items()},
            "features": self.features,
            "yaml": self.yaml,
            "classlabels": {c: [list(col) for col in cols] for c, cols in self.classlabels.items()},
        }

    def with_views(self, names: Sequence[str]) -> ReleaseFeatures:
        """These configs and, per view name, ``documents-NAME`` and ``tokens-NAME`` with the features of
        ``documents`` and ``tokens`` (a view changes the text, never the columns)."""
        extra = {f"{config}-{name}": config for name in names for config in VIEW_CONFIGS}
        if not extra:
            return self
        return ReleaseFeatures(
            schemas={**self.schemas, **{c: self.schemas[b] for c, b in extra.items()}},
            features={**self.features, **{c: self.features[b] for c, b in extra.items()}},
            yaml={**self.yaml, **{c: self.yaml[b] for c, b in extra.items()}},
            classlabels={**self.classlabels, **{c: self.classlabels[b] for c, b in extra.items()}},
        )

    @classmethod
    def from_json(cls, data: dict) -> ReleaseFeatures:
        if data.get("format") != FORMAT:
            raise ValueError(f"cache format {data.get('format')!r}")
        schemas = {c: pa.ipc.read_schema(pa.py_buffer(base64.b64decode(s))) for c, s in data["schemas"].items()}
        classlabels = {c: [(str(col), None if sub is None else str(sub), int(n)) for col, sub, n in cols]
                       for c, cols in data["classlabels"].items()}
        if not set(schemas) == set(data["features"]) == set(data["yaml"]) == set(classlabels):
            raise ValueError("cache entries name different configs")
        return cls(schemas=schemas, features=data["features"], yaml=data["yaml"], classlabels=classlabels)


def cache_dir() -> Path:
    """``features`` in the cache folder (:func:`corpus_tools.files.cache_root`)."""
    return cache_root() / "features"


@cache
def _code_sha() -> str:
    """The sha256 of the code that makes the Features: ``artefacts.py`` and this module."""
    from corpus_tools import artefacts

    digest = hashlib.sha256()
    for path in (Path(artefacts.__file__), Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _datasets_version() -> str:
    """The installed ``datasets`` version, read from its ``__init__.py`` (no import, no scan of every installed
    distribution's metadata); the metadata when that line is not found."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("datasets")
    if spec is None or spec.origin is None:
        return ""
    try:
        with open(spec.origin, encoding="utf-8") as f:
            match = re.search(r'^__version__ = "([^"]+)"', f.read(), re.MULTILINE)
    except OSError:
        match = None
    if match:
        return match[1]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("datasets")
    except PackageNotFoundError:
        return ""


def cache_key(ontology: Ontology) -> str:
    """The sha256 naming the cached Features of ``ontology`` with this code and this ``datasets``."""
    from corpus_tools import __version__

    parts = {
        "ontology_sha256": ontology.source_sha256,
        "entity_labels": list(ontology.entity_labels),
        "relation_labels": list(ontology.relation_labels),
        "bio_labels": list(ontology.bio_labels),
        "datasets": _datasets_version(),
        "corpus_tools": __version__,
        "code": _code_sha(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


def compute_release_features(ontology: Ontology) -> ReleaseFeatures:
    """The fields computed from ``generate.ontology_to_features`` (imports ``datasets``)."""
    from corpus_tools.artefacts import ontology_to_features

    features = ontology_to_features(ontology)
    return ReleaseFeatures(
        schemas={c: f.arrow_schema for c, f in features.items()},
        features={c: f.to_dict() for c, f in features.items()},
        yaml={c: f._to_yaml_list() for c, f in features.items()},
        classlabels={c: classlabel_columns(f) for c, f in features.items()},
    )


def _read(path: Path) -> ReleaseFeatures | None:
    try:
        return ReleaseFeatures.from_json(json.loads(path.read_text(encoding="utf-8")))
    except Exception:  # noqa: BLE001 - any unreadable or corrupt cache file is recomputed
        return None


def write_cache_file(path: Path, data: bytes) -> None:
    """Write a cache file atomically (a temporary file renamed); an unwritable folder only means no cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomically(path, data)
    except OSError:
        pass


def _write(path: Path, value: ReleaseFeatures) -> None:
    # key order matters (YAML order)
    write_cache_file(path, json.dumps(value.to_json(), ensure_ascii=False).encode("utf-8"))


@cache
def release_features(ontology: Ontology) -> ReleaseFeatures:
    """The release Features of ``ontology``: from memory (once per ontology and process), else the disk cache,
    else ``datasets``."""
    path = cache_dir() / f"{cache_key(ontology)}.json"
    value = _read(path)
    if value is None:
        value = compute_release_features(ontology)
        _write(path, value)
    return value


def classlabel_columns(features: Features) -> list[tuple[str, str | None, int]]:
    """``(column, struct field or None, number of names)`` for every ClassLabel, at most one list deep."""
    from datasets import ClassLabel, List, Sequence

    out: list[tuple[str, str | None, int]] = []
    for name, feature in features.items():
        inner = feature.feature if isinstance(feature, List | Sequence) else feature
        if isinstance(inner, ClassLabel):
            out.append((name, None, inner.num_classes))
        elif isinstance(inner, dict):
            out += [(name, sub, f.num_classes) for sub, f in inner.items() if isinstance(f, ClassLabel)]
    return out

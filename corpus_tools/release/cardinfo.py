"""Read a release card's ``configs`` and ``dataset_info`` without datasets or huggingface_hub.

:func:`read_light_card` accepts only a card in the shape ``build`` writes (YAML front matter
found as ``huggingface_hub.DatasetCard.load`` finds it; ``configs`` items with ``config_name``,
``data_files`` as ``{split, path}`` items and ``default``; ``dataset_info`` entries with
``config_name``, ``features`` equal to the ontology's, complete ``splits``, sizes) and returns
what ``MetadataConfigs.from_dataset_card_data`` and ``DatasetInfosDict.from_dataset_card_data``
would give for it.  Anything else returns None and the caller uses datasets' parsers, so that
every unusual card gets exactly their verdict and messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from corpus_tools.release.splits import SPLIT_NAME

# huggingface_hub.repocard.REGEX_YAML_BLOCK
YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
CONFIG_KEYS = {"config_name", "data_files", "default"}
INFO_KEYS = {"config_name", "features", "splits", "download_size", "dataset_size"}
SPLIT_KEYS = {"name", "num_bytes", "num_examples"}


@dataclass(frozen=True)
class LightSplit:
    num_examples: int
    num_bytes: int


@dataclass(frozen=True)
class LightInfo:
    """The parts of a ``datasets.DatasetInfo`` the release checks read."""

    features: list | None  # the YAML features list (equal to the ontology's when given)
    splits: dict[str, LightSplit] | None


@dataclass(frozen=True)
class LightCard:
    data: dict
    configs: dict[str, dict]
    infos: dict[str, LightInfo]
    raw_infos: list[dict]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _load_yaml(text: str) -> object:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def read_light_card(path: Path, expected_features: dict[str, list]) -> LightCard | None:
    """The card's configs and infos when it has the shape ``build`` writes, else None."""
    try:
        with path.open(mode="r", newline="", encoding="utf-8-sig") as f:
            content = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    match = YAML_BLOCK.search(content)
    if not match:
        return None
    try:
        data = _load_yaml(match.group(2))
    except Exception:  # noqa: BLE001 - datasets' path reports it
        return None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data) or "ignore_metadata_errors" in data:
        return None
    configs = _configs(data.get("configs"))
    infos = _infos(data.get("dataset_info"), expected_features)
    if configs is None or infos is None:
        return None
    raw = data.get("dataset_info") or []
    return LightCard(data=data, configs=configs, infos=infos, raw_infos=raw if isinstance(raw, list) else [raw])


def _configs(items: object) -> dict[str, dict] | None:
    if not isinstance(items, list) or not items:
        return None
    out: dict[str, dict] = {}
    for item in items:
        if not isinstance(item, dict) or not set(item) <= CONFIG_KEYS or not isinstance(item.get("config_name"), str):
            return None
        if item["config_name"] in out or not isinstance(item.get("default", False), bool):
            return None
        files = item.get("data_files")
        if not isinstance(files, list) or not files:
            return None
        for entry in files:
            if not isinstance(entry, dict) or set(entry) != {"split", "path"} or not isinstance(entry["split"], str):
                return None
            if not SPLIT_NAME.fullmatch(entry["split"]):  # datasets refuses the whole card
                return None
            paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
            if not paths or not all(isinstance(p, str) for p in paths):
                return None
        out[item["config_name"]] = {k: v for k, v in item.items() if k != "config_name"}
    return out


def _infos(value: object, expected_features: dict[str, list]) -> dict[str, LightInfo] | None:
    if value is None:
        return {}
    if isinstance(value, dict):
        entries = [value]
    elif isinstance(value, list) and all(isinstance(e, dict) for e in value):
        entries = value
    else:
        return None
    out: dict[str, LightInfo] = {}
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
            if not isinstance(splits, list):
                return None
            parsed: dict[str, LightSplit] = {}
            for split in splits:
                if not isinstance(split, dict) or set(split) != SPLIT_KEYS or not isinstance(split["name"], str):
                    return None
                if split["name"] in parsed or not (_is_int(split["num_examples"]) and _is_int(split["num_bytes"])):
                    return None
                parsed[split["name"]] = LightSplit(num_examples=split["num_examples"], num_bytes=split["num_bytes"])
            splits = parsed
        out[name] = LightInfo(features=features, splits=splits)
    return out


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

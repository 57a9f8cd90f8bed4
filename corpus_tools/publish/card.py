"""Merge a release's dataset card with the card already on the Hub (never clobber, huggingface_hub#3043).

Policy (documented in docs/publishing.md):

- ``configs`` and ``dataset_info`` always come from the release (they describe its files; a config the
  release no longer has must disappear, or ``load_dataset`` would look for files that were deleted).
- Every other key the release sets wins, except that lists are merged (the release's items first, then
  the repository's extra items, e.g. a custom ``tags`` entry) and mappings are merged key by key.
- Keys only the repository has (``thumbnail``, ``annotations_creators`` set in the web editor ...) are kept.
- The Markdown body is the release's: it carries this version's counts and changelog.

When the merge adds nothing to the release's metadata, the release README is published byte for byte,
so its sha256 matches the manifest.  Otherwise the merged README is re-rendered; the merge is
idempotent, so re-publishing the same release over its own merged card changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from corpus_tools.errors import ReleaseError

RELEASE_OWNED = ("configs", "dataset_info")


@dataclass(frozen=True)
class MergedCard:
    content: bytes
    kept_keys: list[str] = field(default_factory=list)  # keys (or list items) that came from the repo's card
    changed: bool = False  # True when content differs from the release README


def split_card(text: str) -> tuple[dict, str]:
    """Front matter (a dict, ``{}`` when absent) and body of a README."""
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    match = REGEX_YAML_BLOCK.search(text)
    if not match:
        return {}, text
    data = yaml.safe_load(match.group(2))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("the card's metadata block is not a mapping")
    return data, text[match.end():]


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


def merge_metadata(release: dict, repo: dict) -> tuple[dict, list[str]]:
    """The merged front matter and the keys kept from ``repo`` (see the module docstring)."""
    kept: list[str] = []
    merged: dict = {}
    for key, value in release.items():
        if key in RELEASE_OWNED or key not in repo:
            merged[key] = value
        else:
            merged[key] = _merge_value(value, repo[key], key, kept)
    for key, value in repo.items():
        if key not in release and key not in RELEASE_OWNED:
            merged[key] = value
            kept.append(key)
    return merged, kept


def merge_card(release_readme: bytes, repo_readme: bytes | None) -> MergedCard:
    """Merge the release README with the repository's current README (``None`` when it has none)."""
    try:
        release_meta, body = split_card(release_readme.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ReleaseError(f"the release README.md has an unreadable metadata block: {exc}") from exc
    if repo_readme is None:
        return MergedCard(release_readme)
    try:
        repo_meta, _ = split_card(repo_readme.decode("utf-8", errors="replace"))
    except (ValueError, yaml.YAMLError):
        repo_meta = {}  # an unreadable card on the repo is replaced, not merged
    merged, kept = merge_metadata(release_meta, repo_meta)
    if merged == release_meta:
        return MergedCard(release_readme)
    from huggingface_hub.utils import yaml_dump

    text = "---\n" + yaml_dump(merged, sort_keys=False) + "---\n" + body
    return MergedCard(text.encode("utf-8"), kept, changed=True)

"""The release card merged with the repository's: values the release does not have and the maintainer's blocks
are kept; everything the release owns is the release's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from release_factory import TEXTS_V1, write_export

from corpus_tools.build.driver import build_release
from corpus_tools.errors import PublishError
from corpus_tools.release.card import MAINTAINER_END, MAINTAINER_START, card_defaults, merge_card, split_card

START, END = MAINTAINER_START, MAINTAINER_END
SUMMARY = "# Arabic News\n\nSome counts.\n\n"
RELEASE_BODY = f"{SUMMARY}{START}\n{END}\n\n## How to load\n\nload it\n\n## Changelog\n\n### v1.1.0\n"
RELEASE_CARD = f"""---
license: unknown
pretty_name: Arabic News
tags:
- ner
configs:
- config_name: documents
  data_files:
  - split: train
    path: data/documents/train-*.parquet
---
{RELEASE_BODY}"""


def _repo(meta: str, body: str) -> bytes:
    return f"---\n{meta}---\n{body}".encode()


def test_a_licence_and_name_the_release_does_not_have_are_the_repositorys() -> None:
    repo = _repo("license: cc-by-4.0\npretty_name: Curated Name\n", "# old\n")
    merged = merge_card(RELEASE_CARD.encode(), repo, defaults=("license", "pretty_name"))
    meta, body = split_card(merged.content.decode())
    assert (meta["license"], meta["pretty_name"], merged.kept_keys) == ("cc-by-4.0", "Curated Name",
                                                                       ["license", "pretty_name"])
    assert meta["configs"] == split_card(RELEASE_CARD)[0]["configs"] and body == RELEASE_BODY
    # a name given to the build wins; "unknown" is never a value of its own, manifest or not
    merged = merge_card(RELEASE_CARD.encode(), repo)
    meta, _ = split_card(merged.content.decode())
    assert (meta["license"], meta["pretty_name"], merged.kept_keys) == ("cc-by-4.0", "Arabic News", ["license"])
    given = RELEASE_CARD.replace("license: unknown", "license: mit")
    meta, _ = split_card(merge_card(given.encode(), repo, defaults=("pretty_name",)).content.decode())
    assert (meta["license"], meta["pretty_name"]) == ("mit", "Curated Name")
    # the repository without those keys: the release's values, byte for byte
    assert merge_card(RELEASE_CARD.encode(), _repo("tags:\n- ner\n", "x\n"),
                      defaults=("license", "pretty_name")).content == RELEASE_CARD.encode()


def test_maintainer_blocks_are_carried_to_the_same_place() -> None:
    repo_body = (f"# Old title\n\n{START}\nContact: the team.\n\nCite us.\n{END}\n\nhand text\n\n"
                 f"{START}\n\n{END}\n{START}\nA third block.\n{END}\n")
    merged = merge_card(RELEASE_CARD.encode(), _repo("tags:\n- ner\n", repo_body))
    _, body = split_card(merged.content.decode())
    assert body == (f"{SUMMARY}{START}\nContact: the team.\n\nCite us.\n{END}\n{START}\nA third block.\n{END}\n"
                    "\n## How to load\n\nload it\n\n## Changelog\n\n### v1.1.0\n")
    assert merged.kept_sections == ["maintainer block 1", "maintainer block 3"] and merged.kept_keys == []
    assert merged.content.decode().startswith(RELEASE_CARD[: RELEASE_CARD.index(RELEASE_BODY)])  # front matter as is
    assert merge_card(RELEASE_CARD.encode(), merged.content).content == merged.content  # idempotent


def test_blank_or_unterminated_blocks_change_nothing() -> None:
    for repo_body in (f"{START}\n  \n{END}\n", f"{START}\nnever closed\n## How to load\n", f"{END}\nx\n{START}\n"):
        merged = merge_card(RELEASE_CARD.encode(), _repo("tags:\n- ner\n", repo_body))
        assert (merged.content, merged.kept_sections) == (RELEASE_CARD.encode(), [])


def test_a_release_card_without_a_block_gets_the_blocks_after_its_summary() -> None:
    old_release = RELEASE_CARD.replace(f"{START}\n{END}\n\n", "")
    crlf = _repo("tags:\n- ner\n", f"{START}\r\nContact: the team.\r\n{END}\r\n")
    merged = merge_card(old_release.encode(), crlf)
    _, body = split_card(merged.content.decode())
    assert body == (f"{SUMMARY}{START}\nContact: the team.\r\n{END}\n\n## How to load\n\nload it\n\n## Changelog\n\n"
                    "### v1.1.0\n")
    assert merge_card(old_release.encode(), merged.content).content == merged.content


def test_a_repository_card_that_is_not_utf8_is_an_error() -> None:
    prefix = _repo("license: cc-by-4.0\n", f"{START}\nCaf")
    repo = prefix + b"\xe9\n" + f"{END}\n".encode()
    with pytest.raises(PublishError, match=rf"not UTF-8 \(byte 0xe9 at offset {len(prefix)}\)"):
        merge_card(RELEASE_CARD.encode(), repo)


def test_the_manifest_names_the_card_keys_left_at_their_defaults(tmp_path: Path) -> None:
    export, splits = write_export(tmp_path / "input", TEXTS_V1)
    unnamed = build_release(export, version="1.0.0", out=tmp_path / "news" / "v1.0.0", splits=splits, workers=0)
    named = build_release(export, version="1.0.0", out=tmp_path / "named", splits=splits, workers=0,
                          name="org/news", license="cc-by-4.0")
    assert unnamed.manifest["card_defaults"] == ["license", "pretty_name"]
    assert card_defaults(json.loads((tmp_path / "news" / "v1.0.0" / "manifest.json").read_text())) == (
        "license", "pretty_name")
    assert named.manifest["card_defaults"] == [] and card_defaults({}) == ()
    readme = (tmp_path / "named" / "README.md").read_text(encoding="utf-8")
    assert f"\n\n{START}\n{END}\n\n## How to load\n" in readme

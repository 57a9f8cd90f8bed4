"""The ``release`` format: a release folder (what ``build`` writes), read.

The documents config of every split, in the manifest's order, read with pyarrow a batch at a time (a release of
any size is never held in memory).  Labels are the ClassLabel names the files carry; ``meta.split`` records the
split, and ``meta.dateline`` the dateline's places, paper and agencies (a release keeps no dateline text).  The
folder is not checked here: ``corpus-tools check-release`` does that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from corpus_tools.errors import InputError, ReleaseError
from corpus_tools.interop.format import Context, Format
from corpus_tools.release.diff import label_names
from corpus_tools.release.manifest import DEFAULT_CONFIG, manifest_paths_outside, read_manifest
from corpus_tools.spans import Document, Relation, Span

_COLUMNS = ["id", "title", "text", "source", "lang", "dateline_places", "dateline_paper", "dateline_agencies",
            "entities", "relations"]
_BATCH_ROWS = 1_000


def read_release(path: Path, ctx: Context) -> Iterator[Document]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_dir():
        raise InputError(f"{path} is not a release folder (a folder with manifest.json)")
    manifest = read_manifest(path)
    if manifest_paths_outside(manifest):
        raise ReleaseError(f"{path / 'manifest.json'} lists paths outside the release folder; `corpus-tools"
                           " check-release` reports them")
    for split, entry in manifest["configs"].get(DEFAULT_CONFIG, {}).items():
        for name in entry["files"]:
            file = path / name
            try:
                parquet = pq.ParquetFile(file)
                entity_names, relation_names = label_names(parquet.schema_arrow)
                for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=_COLUMNS):
                    for row in batch.to_pylist():
                        yield _row_to_document(row, split, entity_names, relation_names)
            except OSError as exc:  # pyarrow's I/O errors are OSErrors too
                raise InputError(f"cannot read {file}: {exc}") from exc
            except (pa.ArrowException, KeyError, TypeError, ValueError, IndexError) as exc:
                raise ReleaseError(f"{file} is not a documents file of a release ({type(exc).__name__}: {exc});"
                                   " `corpus-tools check-release` locates the problems") from exc


def _row_to_document(row: dict, split: str, entity_names: list[str], relation_names: list[str]) -> Document:
    text = row["text"]
    meta: dict[str, object] = {"split": split}
    dateline = {"places": row["dateline_places"] or [], "paper": row["dateline_paper"],
                "agencies": row["dateline_agencies"] or []}
    if dateline["places"] or dateline["paper"] or dateline["agencies"]:
        meta["dateline"] = dateline
    return Document(
        id=row["id"],
        text=text,
        title=row["title"] or "",
        source=row["source"] or "",
        lang=row["lang"] or "ar",
        entities=[Span(start=e["start"], end=e["end"], label=entity_names[e["label"]], id=e["id"],
                       text=text[e["start"]:e["end"]]) for e in row["entities"]],
        relations=[Relation(head=r["head"], tail=r["tail"], label=relation_names[r["label"]], id=r["id"] or "")
                   for r in row["relations"]],
        meta=meta,
    )


FORMAT = Format(
    name="release",
    summary="A release folder (`build`): the documents config of every split; meta.split records the split.",
    reader=read_release,
)

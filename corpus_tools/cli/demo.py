"""``corpus-tools demo``: the whole chain on the bundled sample corpus (what ``make demo`` runs).

Every step runs the real ``corpus-tools`` command in a subprocess, printed first as a maintainer
would type it, against a local Label Studio started for the demo and the local release target.
Only two steps go through the library instead of a command: reading the published releases
back with ``datasets.load_dataset`` (as an ML team would) and checking that v1.1.0 differs from
v1.0.0 exactly in the document the demo changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import err_console
from corpus_tools.errors import CorpusToolsError
from corpus_tools.files import remove_tree

PROJECT = "Arabic news sample"
NAME = "arabic-news-sample"
DATASET_NAME = f"corpus-tools/{NAME}"
CONFIGS = ("documents", "tokens", "relations", "annotations")
# The sample has 11 documents: the default 80/10/10 leaves its validation split empty (the split is a function of
# each document id), so the demo's first release asks for 60/20/20, which gives every split a document.
RATIOS = "train=60,validation=20,test=20"
# A normalised view (docs/views.md): the configs documents-plain and tokens-plain, with the offset map back
VIEW = "plain=tatweel,diacritics,alef,alef-maqsura"
DEMO_MARK = ".corpus-tools-demo"  # in every folder the demo makes: a later run removes only folders with it


class DemoFailed(CorpusToolsError):
    """A demo step did not do what it should."""


def _step(number: int, title: str) -> None:
    err_console.print(f"\n[bold cyan]Step {number}[/]: {title}", highlight=False)


def _run(args: list[str], *, env: dict[str, str], capture: bool = False) -> str:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    err_console.print(f"[dim]$ corpus-tools {shown}[/]", highlight=False)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "corpus_tools", *args], env=env, text=True,
        stdout=subprocess.PIPE if capture else None, stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise DemoFailed(f"`corpus-tools {shown}` exited with {result.returncode}")
    err_console.print(f"[dim]  ({time.monotonic() - started:.1f} s)[/]", highlight=False)
    return result.stdout or ""


def _previous_run(path: Path, option: str) -> Path | None:
    """``path`` when it is a folder an earlier demo run made (and may be removed), None when it does not exist;
    anything else there is refused: the demo removes only what it made."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_dir() or not (path / DEMO_MARK).is_file():
        raise DemoFailed(f"{path} exists and was not made by the demo (it has no {DEMO_MARK} file); the demo removes"
                         f" only the folders it made: choose another {option} or remove {path} yourself")
    return path


def _make_folder(path: Path) -> None:
    """Create a demo folder with the mark that lets the next demo run remove it."""
    try:
        path.mkdir(parents=True)
        (path / DEMO_MARK).write_text("Made by `corpus-tools demo`, which removes this folder when it runs again.\n",
                                      encoding="utf-8")
    except OSError as exc:
        raise DemoFailed(f"cannot create {path}: {exc.strerror or exc}") from exc


def _change_one_annotation(documents: Path, out: Path) -> dict[str, str]:
    """Relabel one span that no relation touches (GPE <-> LOC) in one document; write that document."""
    for line in documents.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        in_relations = {r["head"] for r in doc["relations"]} | {r["tail"] for r in doc["relations"]}
        for entity in doc["entities"]:
            if entity["id"] not in in_relations and entity["label"] in ("GPE", "LOC"):
                old = entity["label"]
                entity["label"] = "LOC" if old == "GPE" else "GPE"
                out.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
                return {"document": doc["id"], "entity": entity["id"], "text": entity["text"], "old": old,
                        "new": entity["label"]}
    raise DemoFailed("no span outside relations to relabel in the sample annotations")


def _summarise(release: Path) -> dict[str, dict]:
    """Load every config of a published release with datasets and summarise it."""
    from datasets import load_dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    summary: dict[str, dict] = {}
    for config in CONFIGS:
        ds = load_dataset(str(release), config)
        summary[config] = {split: ds[split] for split in ds}
    docs = summary["documents"]
    label_names = next(iter(docs.values())).features["entities"].feature["label"].names
    relation_names = next(iter(docs.values())).features["relations"].feature["label"].names
    entities: Counter[str] = Counter()
    relations: Counter[str] = Counter()
    for split in docs.values():
        for row in split:
            entities.update(label_names[e["label"]] for e in row["entities"])
            relations.update(relation_names[r["label"]] for r in row["relations"])
            for e in row["entities"]:  # the offset invariant, checked on what ML teams load
                if row["text"][e["start"]:e["end"]] != e["text"]:
                    raise DemoFailed(f"entity {e['id']} of {row['id']} does not match its text after loading")
    _show_view(release, docs)
    err_console.print("  documents per split: " + ", ".join(f"{s}={len(d)}" for s, d in docs.items()))
    err_console.print("  entities per label: " + ", ".join(f"{k}={v}" for k, v in sorted(entities.items())))
    err_console.print("  relations per label: " + ", ".join(f"{k}={v}" for k, v in sorted(relations.items())))
    for config in CONFIGS[1:]:
        err_console.print(f"  {config}: " + ", ".join(f"{s}={len(d)}" for s, d in summary[config].items()))
    return summary


def _show_view(release: Path, docs: dict) -> None:
    """Load the view's documents config and map one of its entities back to the original text, as a model's
    prediction on the view would be (``normalise(text, steps).span_to_original``)."""
    from datasets import load_dataset

    from corpus_tools.views import normalise, parse_view

    spec = parse_view(VIEW)
    viewed = load_dataset(str(release), f"documents-{spec.name}")
    shown = False
    for split, rows in viewed.items():
        for original, row in zip(docs[split], rows, strict=True):
            view = normalise(original["text"], spec.steps)
            if view.text != row["text"]:
                raise DemoFailed(f"the {spec.name} view of {row['id']} is not its text normalised")
            kept = {e["id"]: e for e in original["entities"]}
            for entity in row["entities"]:
                start, end = view.span_to_original(entity["start"], entity["end"])
                source = kept[entity["id"]]
                if (start, end) != (source["start"], source["end"]):
                    raise DemoFailed(f"entity {entity['id']} of {row['id']} does not map back to its offsets")
                if not shown and entity["text"] != source["text"]:
                    shown = True
                    err_console.print(f"  documents-{spec.name}: {entity['text']!r} at {entity['start']}:"
                                      f"{entity['end']} maps back to {source['text']!r} at {start}:{end}",
                                      highlight=False)


def _rows_by_id(summary: dict[str, dict]) -> dict[str, dict]:
    return {row["id"]: row for split in summary["documents"].values() for row in split}


def demo(workdir: Path, releases: Path, port: int, keep: bool) -> None:
    from corpus_tools.labelstudio import server as srv

    repo = Path(__file__).resolve().parents[2]
    sample = Path(os.path.relpath(repo / "annotations" / "sample"))
    if not (sample / "documents.jsonl").exists():
        raise DemoFailed(f"the sample corpus is missing: {sample}")
    target = releases / NAME
    ls_dir = workdir / "labelstudio"
    previous = [_previous_run(workdir, "--workdir"), _previous_run(target, "--releases")]
    if previous[0] is not None and srv.read_pid_file(ls_dir):
        srv.stop_server(ls_dir)
    for old in previous:
        if old is not None:
            err_console.print(f"Removing the previous demo run's {old}", highlight=False)
            remove_tree(old)
    _make_folder(workdir)
    _make_folder(target)
    _step(1, f"virtualenv ready: {sys.prefix}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    creds = ["--credentials", str(ls_dir / srv.CREDENTIALS_FILE)]
    if not srv.port_is_free(port):
        port = srv.free_port()
    started = False
    try:
        _step(2, "start a local Label Studio and set up the project from the ontology")
        _run(["ls", "up", "--detach", "--port", str(port), "--data-dir", str(ls_dir)], env=env)
        started = True
        _run(["ls", "setup", "--project", PROJECT, *creds], env=env)

        _step(3, "ingest the sample articles and import them as tasks")
        articles = workdir / "articles.jsonl"
        _run(["ingest", str(sample / "articles"), "--out", str(articles)], env=env)
        _run(["ls", "import", str(articles), "--project", PROJECT, *creds], env=env)
        _run(["ls", "import", str(articles), "--project", PROJECT, *creds], env=env)  # idempotent: adds nothing

        _step(4, "apply the sample annotations through the Label Studio API, as an annotator would")
        _run(["ls", "annotate", str(sample / "documents.jsonl"), "--project", PROJECT, *creds], env=env)

        _step(5, "export, validate, build v1.0.0 and publish it to the local release folder")
        export1, build1 = workdir / "export-1.json", workdir / "build" / "v1.0.0"
        _run(["ls", "export", "--project", PROJECT, "--out", str(export1), *creds], env=env)
        _run(["validate", str(export1)], env=env)
        _run(["build", str(export1), "--version", "1.0.0", "--out", str(build1), "--name", DATASET_NAME,
              "--ratios", RATIOS, "--view", VIEW], env=env)
        _run(["publish", str(build1), "--to", str(target)], env=env)

        _step(6, "load every config with datasets.load_dataset; map a span of the normalised view back")
        v1 = _summarise(target / "v1.0.0")
        if empty := [split for split in ("train", "validation", "test") if split not in v1["documents"]]:
            raise DemoFailed(f"v1.0.0 has no {', '.join(empty)} split")
        err_console.print(f'  load_dataset("{target / "v1.0.0"}", "documents")', highlight=False)

        _step(7, "change one annotation in Label Studio, build v1.1.0 with the previous splits, publish, diff")
        changed = workdir / "changed.jsonl"
        change = _change_one_annotation(sample / "documents.jsonl", changed)
        err_console.print(f"  relabel {change['text']!r} ({change['entity']}) in document {change['document']}:"
                          f" {change['old']} -> {change['new']}", highlight=False)
        _run(["ls", "annotate", str(changed), "--project", PROJECT, "--update", *creds], env=env)
        export2, build2 = workdir / "export-2.json", workdir / "build" / "v1.1.0"
        _run(["ls", "export", "--project", PROJECT, "--out", str(export2), *creds], env=env)
        _run(["build", str(export2), "--version", "1.1.0", "--out", str(build2), "--name", DATASET_NAME,
              "--previous", str(build1), "--view", VIEW], env=env)
        _run(["publish", str(build2), "--to", str(target)], env=env)
        _run(["diff", f"{target}@v1.0.0", f"{target}@v1.1.0"], env=env)
        _run(["releases", str(target)], env=env)
        v2 = _summarise(target / "v1.1.0")
        rows1, rows2 = _rows_by_id(v1), _rows_by_id(v2)
        differing = sorted(i for i in rows1.keys() | rows2.keys() if rows1.get(i) != rows2.get(i))
        if differing != [change["document"]]:
            raise DemoFailed(f"v1.1.0 should differ from v1.0.0 in {change['document']} only, not in {differing}")
        err_console.print(f"  v1.0.0 and v1.1.0 differ in exactly one document: {change['document']}")
        err_console.print("\nLoad a release with:", highlight=False)
        err_console.print(f'  load_dataset("{target / "v1.1.0"}", "documents")', highlight=False)
        err_console.print('  (on the Hub: load_dataset("ORG/NAME", "documents", revision="v1.1.0"))', highlight=False)
    finally:
        if started and not keep:
            _step(8, "stop the server")
            _run(["ls", "down", "--data-dir", str(ls_dir)], env=env)
    if keep:
        creds_data = srv.read_credentials(ls_dir / srv.CREDENTIALS_FILE)
        err_console.print(f"\nLabel Studio keeps running at {creds_data.url}; log in as {creds_data.email} with the"
                          f" password in {ls_dir / srv.CREDENTIALS_FILE}. Stop it with"
                          f" `corpus-tools ls down --data-dir {ls_dir}`.", highlight=False)
    err_console.print("\n[bold green]Demo finished.[/]")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        workdir: Annotated[Path, typer.Option("--workdir", help="Scratch folder for the demo run (recreated).",
                                              file_okay=False)] = Path(".demo"),
        releases: Annotated[Path, typer.Option("--releases", help="Local release target folder.", file_okay=False)]
        = Path("releases"),
        port: Annotated[int, typer.Option("--port", help="Port for Label Studio (a free one if busy).", min=1,
                                          max=65535)] = 8080,
        keep: Annotated[bool, typer.Option("--keep", help="Leave Label Studio running and print its login.")] = False,
    ) -> None:
        """Run the whole chain on the bundled sample corpus (what `make demo` runs).

        Starts a local Label Studio, sets up the project, ingests and imports the sample articles,
        applies the sample annotations through the API, exports, validates, builds (with a
        normalised view) and publishes v1.0.0 to the local release folder, loads every config with
        datasets, maps a span of the view back to the original text, changes one annotation, builds
        and publishes v1.1.0 with the same splits, prints the diff, and stops the server (unless
        --keep). The previous demo run's folders are removed first: only folders
        the demo made (they hold a .corpus-tools-demo file); anything else at --workdir or
        --releases/arabic-news-sample is refused (exit 3) and left as it is.
        """
        demo(workdir, releases, port, keep)

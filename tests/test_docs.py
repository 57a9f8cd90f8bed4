"""Docs as tests: every command has help and a docs section, every problem code is documented."""

from __future__ import annotations

import textwrap

from corpus_tools.artefacts import ontology_to_glossary
from corpus_tools.cli.docgen import (
    cli_commands,
    render_cli_md,
    render_errors_md,
    render_formats_table,
    render_interop_md,
    render_ontology_md,
)
from corpus_tools.report import all_codes


def test_errors_md_is_current(repo_root):
    assert (repo_root / "docs/errors.md").read_text(encoding="utf-8") == render_errors_md(), "run `make docs`"


def test_every_code_is_in_errors_md(repo_root):
    text = (repo_root / "docs/errors.md").read_text(encoding="utf-8")
    codes = all_codes()
    assert codes
    for code in codes:
        assert f"`{code}`" in text


def test_cli_md_is_current(repo_root):
    assert (repo_root / "docs/cli.md").read_text(encoding="utf-8") == render_cli_md(), "run `make docs`"


def test_every_command_has_help_and_a_docs_section(repo_root):
    cli_md = (repo_root / "docs/cli.md").read_text(encoding="utf-8")
    for name, command in cli_commands():
        assert (command.help or "").strip(), f"{name} has no help text"
        assert f"## `{name}`" in cli_md


def test_ontology_page_has_the_generated_glossary(repo_root, ontology):
    page = (repo_root / "docs/ontology.md").read_text(encoding="utf-8")
    assert page == render_ontology_md(), "run `make docs`"
    assert ontology_to_glossary(ontology) in page
    assert f"{ontology.name}` version `{ontology.version}" in page


def test_interop_md_has_the_current_format_table(repo_root):
    from corpus_tools.interop.registry import formats

    page = (repo_root / "docs/interop.md").read_text(encoding="utf-8")
    assert page == render_interop_md(page), "run `make docs`"
    table = render_formats_table()
    assert table in page
    for name in formats():
        assert f"| `{name}` |" in table
    assert render_interop_md(page.replace("| `documents` |", "| `stale` |")) == page  # the block is regenerated


def test_docs_index_links_every_page(repo_root):
    index = (repo_root / "docs/index.md").read_text(encoding="utf-8")
    for page in sorted((repo_root / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"({page.name})" in index, page.name


def test_codes_are_kebab_case():
    import re

    for code in all_codes():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code), code


def test_readme_first_screen_says_how_to_get_the_command(repo_root):
    """Every README command is a bare `corpus-tools`; `make demo` installs it in .venv/bin, not on PATH."""
    first_screen = (repo_root / "README.md").read_text(encoding="utf-8").splitlines()[:40]
    text = "\n".join(first_screen)
    assert "`. .venv/bin/activate`" in text and "`.venv/bin/corpus-tools`" in text
    setup = text.split("## Set up", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in setup.splitlines()] == ["make demo", "make test"]


# The gold sources of a task, in the order build tries them (corpus_tools/build/tables.py: the --gold file's
# document wins, then choose_gold), and a phrase each text uses for it.
GOLD_ORDER = ["gold-file", "ground-truth", "single", "left-out"]
_GOLD_PHRASES = {"gold-file": "--gold", "ground-truth": "ground truth", "single": "only non-cancelled annotation",
                 "left-out": "left out"}


def _gold_order(text: str) -> list[str]:
    """The gold sources in the order ``text`` names them first (whitespace and markup folded)."""
    text = " ".join(text.replace("`", "").split())
    found = {source: text.find(phrase) for source, phrase in _GOLD_PHRASES.items()}
    assert all(at >= 0 for at in found.values()), (found, text)
    return sorted(found, key=found.__getitem__)


def test_gold_order_is_the_same_in_the_cli_help_the_release_docs_the_card_and_the_code(repo_root):
    import corpus_tools.build.gold as gold
    from corpus_tools.cli.build import build_command
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release.card import _annotation_section
    from corpus_tools.release.stats import ReleaseStats

    help_text = build_command.__doc__ or ""
    cli_sentence = help_text[help_text.index("Picks one gold") :].split(")", 1)[0]
    releases = (repo_root / "docs/releases.md").read_text(encoding="utf-8")
    releases_list = releases[releases.index("Gold selection per task") :].split("\n\n")[1]
    card = " ".join(_annotation_section(load_ontology(), ReleaseStats()))
    card_sentence = card[card.index("Gold selection per task") :].split("Documents by gold source")[0]
    module_list = (gold.__doc__ or "").split("Gold selection per task", 1)[1].split("\n\n")[1]
    for text in (cli_sentence, releases_list, card_sentence, module_list):
        assert _gold_order(text) == GOLD_ORDER, text
    # the code: one ground truth wins over the other annotations; one annotation alone is the gold; else left out
    assert gold.choose_gold(["a", "b"], ["b"]) == ("b", "ground-truth")
    assert gold.choose_gold(["a"], []) == ("a", "single")
    assert gold.choose_gold(["a", "b"], []) == (None, "ambiguous")
    assert gold.choose_gold(["a", "b"], ["a", "b"]) == (None, "ambiguous")


def test_a_task_left_out_for_want_of_a_ground_truth_is_told_how_to_fix_it(repo_root):
    from corpus_tools.build.gold import left_out_problem

    code, message = left_out_problem("ambiguous", "art-1")
    assert code == "build-gold-ambiguous"
    for fix in ("'art-1'", "Set as Ground Truth", "`corpus-tools adjudicate`", "--gold", "A team of annotators"):
        assert fix in message, fix
    link = "labelstudio.md#a-team-of-annotators"
    assert link in all_codes()[code].summary  # so docs/errors.md links to the section
    assert link in (repo_root / "docs/releases.md").read_text(encoding="utf-8")
    labelstudio = (repo_root / "docs/labelstudio.md").read_text(encoding="utf-8")
    assert "\n## A team of annotators\n" in labelstudio and "Set as Ground Truth" in labelstudio


# Every `corpus-tools ...` line the docs show must run with the current CLI: the command exists, every option
# exists and takes a value or not as written, a choice is one the option offers, and a line of a shell block
# gives every required argument. Inline mentions (`corpus-tools build --gold`) are held to the first three.

_SHELL_BLOCKS = ("", "bash", "sh", "shell", "console")


def _shell_command_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, command)`` for every ``corpus-tools`` line of a fenced shell block (``$ `` prompts and
    backslash continuations handled)."""
    found: list[tuple[int, str]] = []
    in_block, shell, pending = False, False, None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_block, shell = not in_block, line[3:].strip() in _SHELL_BLOCKS
            continue
        if not (in_block and shell):
            continue
        if pending is None:
            stripped = line.strip().removeprefix("$ ")
            if not stripped.startswith("corpus-tools "):
                continue
            pending = (number, stripped)
        else:
            pending = (pending[0], pending[1] + " " + line.strip())
        if pending[1].endswith("\\"):
            pending = (pending[0], pending[1][:-1])
            continue
        found.append(pending)
        pending = None
    return found


def _inline_command_lines(text: str) -> list[tuple[int, str]]:
    import re

    return [(text.count("\n", 0, match.start()) + 1, " ".join(match.group(1).split()))
            for match in re.finditer(r"`(corpus-tools [^`]+)`", text)]


def _placeholder(word: str) -> bool:
    """A synopsis placeholder such as ``FORMAT``, ``TITLE|ID`` or ``KEY=VALUE``, not a value to check."""
    return word == "..." or word.replace("|", "").replace("=", "").replace("_", "").replace(".", "").isupper()


def _command_problem(line: str, *, complete: bool) -> str | None:
    """What is wrong with running ``line`` (a shell line or a synopsis with ``[optional]`` parts), or None."""
    import enum
    import shlex

    import typer.main

    from corpus_tools.cli.app import app
    from corpus_tools.interop.registry import formats

    words = shlex.split(line.replace("[", " ").replace("]", " "), comments=True)
    for at, word in enumerate(words):
        if word in ("|", "&&", ";") or word.startswith((">", "2>")):
            words = words[:at]
            break
    command, args, path = typer.main.get_command(app), words[1:], "corpus-tools"
    while True:
        parser = command.make_parser(command.context_class(command, info_name=path))
        try:
            options, rest, _ = parser.parse_args(list(args))
        except Exception as exc:  # typer bundles its own click: its UsageError, caught by what it offers
            if not hasattr(exc, "format_message"):
                raise
            return f"{path}: {exc.format_message()}"
        if "help" in options:
            return None
        if not isinstance(getattr(command, "commands", None), dict):
            break
        if not rest:
            return None
        if rest[0] not in command.commands:
            return f"{path}: no command {rest[0]!r}"
        args = args[args.index(rest[0]) + 1 :]
        command, path = command.commands[rest[0]], f"{path} {rest[0]}"
    for param in command.params:
        values = options.get(param.name)
        values = values if isinstance(values, list | tuple) else [] if values is None else [values]
        kind = param.type_descriptor.annotation  # typer makes the click type only when a command runs
        choices = ([member.value for member in kind] if isinstance(kind, type) and issubclass(kind, enum.Enum)
                   else list(formats()) if getattr(param, "metavar", None) == "FORMAT" else None)
        if choices:
            for value in values:
                for choice in str(value).split("|"):
                    if not _placeholder(choice) and choice not in choices:
                        return f"{path}: {param.opts[0]} has no choice {choice!r}"
        if complete and param.required and not values:
            return f"{path}: {param.opts[0] if param.opts else param.name} is required"
    extra = [word for word in rest if word != "..."]
    if extra and not any(p.param_type_name == "argument" and p.nargs == -1 for p in command.params):
        return f"{path}: unexpected arguments {extra}"
    return None


def _documented_command_lines(repo_root) -> list[tuple[str, str, bool]]:
    pages = [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]
    found = []
    for page in pages:
        if page.name == "cli.md":  # generated from the app itself
            continue
        text = page.read_text(encoding="utf-8")
        found += [(f"{page.name}:{number}", line, True) for number, line in _shell_command_lines(text)]
        found += [(f"{page.name}:{number}", line, False) for number, line in _inline_command_lines(text)]
    return found


def test_every_documented_command_line_parses_with_the_cli(repo_root):
    lines = _documented_command_lines(repo_root)
    assert len([line for line in lines if line[2]]) > 50  # the shell blocks are found
    problems = [f"{where}: {line}: {problem}" for where, line, complete in lines
                if (problem := _command_problem(line, complete=complete))]
    assert problems == []


def test_the_command_line_check_catches_drift():
    assert _command_problem("corpus-tools validate export.json --max-errors 100", complete=True) is None
    assert _command_problem("corpus-tools ls up [--port 8080] [--detach]", complete=True) is None
    assert _command_problem("corpus-tools build export.json --version 1.0.0 --out b > log", complete=True) is None
    assert _command_problem("corpus-tools convert INPUT --from conll --to FORMAT --out O", complete=True) is None
    assert "--max-error" in _command_problem("corpus-tools validate export.json --max-error 1", complete=True)
    assert "no command 'imports'" in _command_problem("corpus-tools ls imports a.jsonl", complete=False)
    assert "--out is required" in _command_problem("corpus-tools build e.json --version 1.0.0", complete=True)
    assert _command_problem("corpus-tools build --gold", complete=False) == (
        "corpus-tools build: Option '--gold' requires an argument.")
    assert "'conl'" in _command_problem("corpus-tools convert a --from conl --to documents --out b", complete=True)
    assert "unexpected arguments ['b']" in _command_problem("corpus-tools validate a b", complete=True)
    assert _command_problem("corpus-tools build", complete=False) is None


def _documented_library_names(repo_root) -> list[tuple[str, str]]:
    import re

    found = []
    for page in [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        found += [(f"{page.name}:{text.count(chr(10), 0, match.start()) + 1}", match.group(0))
                  for match in re.finditer(r"corpus_tools(?:\.[A-Za-z_]\w*)+", text)]
    return found


def _resolves(name: str) -> bool:
    """Whether a dotted name (``corpus_tools.release.checks.check_release``) is a module or an attribute of one."""
    import importlib

    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def test_every_library_name_the_docs_give_exists(repo_root):
    names = _documented_library_names(repo_root)
    assert len(names) > 30
    assert [f"{where}: {name}" for where, name in names if not _resolves(name)] == []
    assert _resolves("corpus_tools.release.checks.check_release")
    assert not _resolves("corpus_tools.release.manifest.check_release")
    assert not _resolves("corpus_tools.no_such_module.name")


# Backticked names that look like problem codes (a code's first word, then more) but name something else.
_NOT_CODES = {"labelstudio-export", "document-jsonl"}  # validate's report.stats["format"] values


def test_every_problem_code_the_docs_name_is_a_registered_code(repo_root):
    import re

    import corpus_tools.interop.registry  # noqa: F401 - registers the format modules' codes

    codes = set(all_codes())
    families = {code.split("-")[0] for code in codes}
    named = []
    for page in [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        named += [(f"{page.name}:{text.count(chr(10), 0, match.start()) + 1}", match.group(1))
                  for match in re.finditer(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", text)
                  if match.group(1).split("-")[0] in families]
    assert len(named) > 100
    assert [f"{where}: {name}" for where, name in named if name not in codes | _NOT_CODES] == []
    assert "span-text-mismatch" in codes and _NOT_CODES.isdisjoint(codes)


def _python_blocks(repo_root) -> list[tuple[str, str]]:
    """``(page:line, source)`` of every fenced python block of README.md and docs/*.md."""
    import re

    blocks = []
    for page in [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        blocks += [(f"{page.name}:{text.count(chr(10), 0, match.start()) + 1}", textwrap.dedent(match.group(1)))
                   for match in re.finditer(r"^ *```python\n(.*?)^ *```", text, re.S | re.M)]
    return blocks


def test_every_python_example_parses_and_imports_names_that_exist(repo_root):
    """A renamed or removed library function fails here before a reader's copy of the example does."""
    import ast
    import importlib

    blocks = _python_blocks(repo_root)
    assert len(blocks) > 8
    missing = []
    for where, source in blocks:
        tree = ast.parse(source, filename=where)  # a SyntaxError names the page and line
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "corpus_tools":
                module = importlib.import_module(node.module)
                missing += [f"{where}: from {node.module} import {alias.name}" for alias in node.names
                            if not _resolves(f"{node.module}.{alias.name}") and not hasattr(module, alias.name)]
            elif isinstance(node, ast.Import):
                missing += [f"{where}: import {alias.name}" for alias in node.names
                            if alias.name.startswith("corpus_tools") and not _resolves(alias.name)]
    assert missing == []
    assert not _resolves("corpus_tools.build.gold.annotator_name")  # what docs/teams.md once imported


def test_every_repository_path_the_docs_name_exists(repo_root):
    import re

    named = []
    for page in [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        named += [(f"{page.name}:{text.count(chr(10), 0, match.start()) + 1}", match.group(1).rstrip("."))
                  for match in re.finditer(r"(?<![\w/.])((?:tests|schemas|bench|corpus_tools|annotations)/[\w./-]+)",
                                           text)]
    assert len(named) > 50
    assert [f"{where}: {path}" for where, path in named if not (repo_root / path).exists()] == []


def test_every_argument_is_shown_in_upper_case_as_the_docs_write_it():
    """`ls import ARTICLES`, `build EXPORT`: the usage line names arguments as the pages' synopses do."""
    from corpus_tools.cli.docgen import command_help

    for name, command in cli_commands():
        usage = command_help(name, command).splitlines()[0]
        arguments = usage.split(name, 1)[1].replace("[OPTIONS]", "").replace("COMMAND [ARGS]...", "")
        words = [word.strip("[]{}.") for word in arguments.split()]
        assert all(word.isupper() for word in words if word), usage

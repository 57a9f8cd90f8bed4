"""The annotation guidelines as data, derived from the ontology.

* :func:`glossary_block` / :func:`replace_glossary_block`: the generated label glossary that
  ``docs/annotation-guidelines.md`` holds between ``<!-- glossary:start -->`` and
  ``<!-- glossary:end -->`` (the exact output of ``corpus-tools ontology export --target glossary``);
* :func:`ontology_to_instructions`: a short HTML version of the key span rules and the glossary,
  for the instructions Label Studio shows annotators.  Every string taken from the ontology is
  HTML-escaped and the result is well-formed XML (one ``<div>``), so it is safe to embed.
"""

from __future__ import annotations

from html import escape

import regex

from corpus_tools.ontology import Ontology

GUIDELINES_DOC = "docs/annotation-guidelines.md"
GLOSSARY_START = "<!-- glossary:start -->"
GLOSSARY_END = "<!-- glossary:end -->"

_HEX_COLOUR = regex.compile(r"#[0-9a-fA-F]{6}")


def glossary_block(markdown: str) -> str | None:
    """The text between the glossary markers (the newline after the start marker excluded), or None."""
    start = markdown.find(GLOSSARY_START)
    if start < 0:
        return None
    body = start + len(GLOSSARY_START)
    end = markdown.find(GLOSSARY_END, body)
    if end < 0:
        return None
    return markdown[body:end].removeprefix("\n")


def replace_glossary_block(markdown: str, glossary: str) -> str:
    """``markdown`` with the text between the glossary markers replaced by ``glossary``."""
    start = markdown.find(GLOSSARY_START)
    end = markdown.find(GLOSSARY_END, start + len(GLOSSARY_START)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise ValueError(f"no {GLOSSARY_START} … {GLOSSARY_END} block in the document")
    if not glossary.endswith("\n"):
        glossary += "\n"
    return markdown[: start + len(GLOSSARY_START)] + "\n" + glossary + markdown[end:]


def _ar(text: str) -> str:
    """An Arabic example, isolated right to left."""
    return f'<span dir="rtl">{escape(text)}</span>'


def _example(written: str, span: str) -> str:
    return f"{_ar(written)} → {_ar(span)}"


def _overlap_rule(policy: str) -> str:
    if policy == "forbid":
        return "Spans may not overlap: annotate the outermost name only."
    if policy == "any":
        return "Spans may overlap. Relations connect outermost spans only."
    return (
        "Nested spans: a span may lie inside another but never cross it. Add an inner span only for an organ"
        f" of a named body ({_ar('الجمعية العامة للأمم المتحدة')} contains {_ar('لأمم المتحدة')}). Only the"
        " outermost span goes into BIO tokens; never draw a relation to an inner span."
    )


def _key_rules(ontology: Ontology) -> list[str]:
    return [
        "Label every name of a person, organisation, place, facility or group, in the title and dateline too."
        f" Not pronouns, titles or descriptions ({_ar('الرئيس')}, {_ar('الحكومة')}, {_ar('بلاده')}).",
        "Proclitics و ف ب ل ك and their stacks stay outside the span, and so does a tatweel after them:"
        f" {_example('وبغداد', 'بغداد')}, {_example('لـرويترز', 'رويترز')}. Never cut a letter of the name:"
        f" {_example('ولبنان', 'لبنان')}.",
        f"The article ال is inside: {_example('بالعراق', 'العراق')}.",
        "The لل contraction: the span starts at the second lam:"
        f" {_example('للأمم المتحدة', 'لأمم المتحدة')}.",
        "A span ends at the end of a word (enclitic pronouns are not annotated) and never starts or ends with a"
        " space or an invisible mark.",
        f"Titles stay outside person names: {_example('الرئيس فلاديمير بوتين', 'فلاديمير بوتين')}.",
        "A nisba adjective that denotes a state is GPE:"
        f" {_example('وزير الخارجية الروسي', 'الروسي')}. Plural people nouns are NORP:"
        f" {_ar('العرب')}, {_ar('آلاف السوريين')} → {_ar('السوريين')}.",
        _overlap_rule(ontology.overlap),
        "Relations go head → tail (ACE Arg-1 → Arg-2): click the head, press <kbd>Alt+R</kbd>, click the tail,"
        " then choose the label in the Relations panel. Draw symmetric relations once.",
        "Select exactly the letters of the name (character granularity); never double-click a word that has a"
        " proclitic; check the region text in the Regions panel. Unsure? Annotate your best guess and add a"
        " comment that starts with <code>?</code>.",
    ]


def _colour(colour: str) -> str:
    # Label Studio strips style attributes from instructions, so the colour is shown as text.
    return f"<code>{colour}</code>" if _HEX_COLOUR.fullmatch(colour) else ""


def ontology_to_instructions(ontology: Ontology) -> str:
    """A short HTML summary of the annotation rules and every label, for Label Studio's instructions."""
    out = ['<div class="corpus-tools-instructions">']
    out.append(
        f"<p><b>{escape(ontology.name)} {escape(ontology.version)}</b>: key rules. The full guidelines are"
        f" <code>{GUIDELINES_DOC}</code> in the corpus-tools repository.</p>"
    )
    out.append("<ol>")
    out += [f"<li>{rule}</li>" for rule in _key_rules(ontology)]
    out.append("</ol>")
    out.append("<h4>Entity labels</h4>")
    # Written as Label Studio stores it (explicit <tbody>), so `ls setup` can tell when nothing changed.
    out.append("<table><tbody><tr><th>Label</th><th>Key</th><th>Colour</th><th>Meaning</th></tr>")
    for e in ontology.entities:
        out.append(
            f"<tr><td><b>{escape(e.label)}</b> {_ar(e.name_ar)}</td><td><kbd>{escape(e.hotkey)}</kbd></td>"
            f"<td>{_colour(e.color)}</td><td>{escape(e.definition)}</td></tr>"
        )
    out.append("</tbody></table>")
    if ontology.relations:
        out.append("<h4>Relations (head → tail)</h4>")
        out.append("<table><tbody><tr><th>Relation</th><th>Head → tail</th><th>Meaning</th></tr>")
        for r in ontology.relations:
            arrow = "↔" if r.symmetric else "→"
            sides = f"{escape(', '.join(r.head))} {arrow} {escape(', '.join(r.tail))}"
            note = " (symmetric: draw once)" if r.symmetric else ""
            out.append(
                f"<tr><td><code>{escape(r.label)}</code></td><td>{sides}</td>"
                f"<td>{escape(r.definition)}{note}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</div>")
    return "\n".join(out) + "\n"

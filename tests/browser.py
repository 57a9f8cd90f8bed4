"""Drive the Label Studio 1.23.2 labeling UI in Debian's Chromium through Playwright (test code).

Browser downloads are blocked on CI machines, so ``playwright install`` is never run: the
system Chromium (``CHROMIUM`` env var, else ``chromium`` on PATH, else ``/usr/bin/chromium``)
is launched with ``executable_path``.

What Label Studio 1.23.2 needs, found by driving it (see docs/annotation-guidelines.md §8):

* the text container ``.lsf-htx-richtext`` is re-mounted twice within ~100 ms of first
  appearing; a drag made before it settles is lost, so :func:`open_task` waits until the same
  element has stayed in place for 0.5 s;
* a label must be chosen **before** the drag (hotkey or button). A drag with no label chosen
  leaves a plain browser selection, and a hotkey pressed afterwards only chooses the label. The
  label is unchosen again once a region is made;
* characters are selected with a real mouse drag over a DOM ``Range`` computed in the page from
  code-point offsets (``[...node.data]``; each ``<br>`` is the text's ``\\n``). For right-to-left
  text the drag goes from ``right - 1`` to ``left + 1`` of the range's box, so each end falls
  inside the first/last letter and snaps to its outer edge;
* a relation: click the head highlight, click *Create Relation* (``Alt+R``), click the tail
  highlight; its label is picked in the Relations tab: hover the relation, click *Show Relation
  Labels*, then the option ``select-option-<label>`` (a multi-select: close it with Escape).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}
TEXT_SELECTOR = ".lsf-htx-richtext"
HIGHLIGHT_SELECTOR = ".htx-highlight"
TIMEOUT_MS = 15_000

# True once the same text container has stayed in the DOM for 500 ms (it is re-mounted after load).
_STABLE_JS = """() => {
  const el = document.querySelector('.lsf-htx-richtext');
  if (!el) return false;
  if (el !== window.__ctText) { window.__ctText = el; window.__ctSince = performance.now(); return false; }
  return performance.now() - window.__ctSince > 500;
}"""

# A DOM Range over code points [start, end) of the task text: text nodes count their code points,
# each <br> counts as the "\n" it replaces. Returns the range's text and bounding box, or null.
_RANGE_JS = """([start, end]) => {
  const root = document.querySelector('.lsf-htx-richtext');
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  let pos = 0, from = null, to = null;
  for (let node = walker.nextNode(); node && !to; node = walker.nextNode()) {
    if (node.nodeType === Node.ELEMENT_NODE) { if (node.tagName === 'BR') pos += 1; continue; }
    const chars = [...node.data];
    let units = 0;
    for (let i = 0; i <= chars.length; i++) {
      if (!from && pos + i === start && i < chars.length) from = [node, units];
      if (from && !to && pos + i === end && i > 0) to = [node, units];
      if (i < chars.length) units += chars[i].length;
    }
    pos += chars.length;
  }
  if (!from || !to) return null;
  const range = document.createRange();
  range.setStart(from[0], from[1]);
  range.setEnd(to[0], to[1]);
  const box = range.getBoundingClientRect();
  return {text: range.toString(), left: box.left, right: box.right, top: box.top, bottom: box.bottom,
          lines: new Set([...range.getClientRects()].map(r => Math.round(r.top))).size};
}"""


def chromium_path() -> str | None:
    """The system Chromium to drive, or None when there is none."""
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def playwright_available() -> bool:
    return importlib.util.find_spec("playwright") is not None


@contextmanager
def launch(*, headless: bool = True) -> Iterator[object]:
    """A Chromium browser (Playwright ``Browser``) started from the system binary."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium found (set CHROMIUM or install the chromium package)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=headless, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, viewport: dict[str, int] | None = None):
    page = browser.new_page(viewport=viewport or VIEWPORT)
    page.set_default_timeout(TIMEOUT_MS)
    return page


def login(page, url: str, email: str, password: str) -> None:
    """Log in through the Label Studio login form."""
    page.goto(f"{url}/user/login/")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_load_state("networkidle")
    if "/user/login" in page.url:
        raise AssertionError(f"login failed for {email}; still at {page.url}")


def open_task(page, url: str, project_id: int, task_id: int) -> None:
    """Open one task in the labeling screen and wait until its text can be selected."""
    page.goto(f"{url}/projects/{project_id}/data?task={task_id}")
    page.wait_for_selector(TEXT_SELECTOR)
    page.wait_for_function(_STABLE_JS, polling=100)


def text_style(page) -> dict[str, str]:
    """Computed ``direction`` and ``text-align`` of the text container."""
    return page.eval_on_selector(
        TEXT_SELECTOR, "el => { const s = getComputedStyle(el); return {direction: s.direction, align: s.textAlign}; }"
    )


def text_box(page, start: int, end: int) -> dict:
    """Text and screen box of the characters ``[start, end)`` (code points of the task text)."""
    box = page.evaluate(_RANGE_JS, [start, end])
    if box is None:
        raise AssertionError(f"offsets {start}-{end} are not in the displayed text")
    return box


def select_text(page, text: str, start: int, end: int) -> None:
    """Select exactly ``text[start:end]`` with a real mouse drag, right to left (RTL text)."""
    box = text_box(page, start, end)
    if box["text"] != text[start:end]:
        raise AssertionError(f"the page shows {box['text']!r} at {start}-{end}, not {text[start:end]!r}")
    if box["lines"] != 1:
        raise AssertionError(f"{text[start:end]!r} wraps over {box['lines']} lines; widen the viewport")
    y = (box["top"] + box["bottom"]) / 2
    page.mouse.move(box["right"] - 1, y)
    page.mouse.down()
    page.mouse.move(box["left"] + 1, y, steps=6)
    page.mouse.up()


def choose_label(page, hotkey: str, label: str) -> None:
    """Press an entity label's hotkey and wait until its button shows as chosen."""
    page.keyboard.press(hotkey)
    page.locator(".lsf-label_selected", has_text=label).wait_for()


def highlights(page) -> list[str]:
    """Texts of the highlighted regions, in document order."""
    return page.eval_on_selector_all(HIGHLIGHT_SELECTOR, "els => els.map(e => e.textContent)")


def label_span(page, text: str, start: int, end: int, *, hotkey: str, label: str) -> None:
    """Choose the label by hotkey, then drag over ``text[start:end]``; waits for the new highlight."""
    before = len(highlights(page))
    choose_label(page, hotkey, label)
    select_text(page, text, start, end)
    page.wait_for_function("n => document.querySelectorAll('.htx-highlight').length > n", arg=before)


def create_relation(page, head: str, tail: str, label: str | None = None) -> None:
    """Draw a relation from the region showing ``head`` to the one showing ``tail``; pick ``label``."""
    page.locator(HIGHLIGHT_SELECTOR, has_text=head).first.click()
    page.get_by_label("Create Relation").click()
    page.locator(HIGHLIGHT_SELECTOR, has_text=tail).first.click()
    page.locator("#Relations-draggable .lsf-panel-tabs__tab").click()
    item = page.locator(".lsf-relations__item").last
    item.wait_for()
    if label is None:
        return
    item.hover()
    page.get_by_label("Show Relation Labels").click()
    page.get_by_text("Select labels").click()
    page.locator(f'[data-testid="select-option-{label}"]').click()
    page.keyboard.press("Escape")
    page.locator(".lsf-relation-meta", has_text=label).wait_for()


def submit(page) -> dict:
    """Click Submit and return the annotation Label Studio saved (the POST response body)."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and "/annotations" in r.url and r.status == 201
    ) as response:
        page.get_by_role("button", name="Submit").click()
    return response.value.json()

"""What "fits" means for an admin page, measured in the browser.

A page fits when nothing scrolls sideways (the page itself, and each table
inside its container: Django's change list scrolls ``div.results`` rather
than clipping it, so a column "off-screen" is one past that box's width), no
cell's content is cut (a cell's ``scrollWidth`` is never above its
``clientWidth``), and no cell of several words is squeezed to one word a
line (the change list's note, before, read down rather than across).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: Measured in the page: every way a table and its cells can fail to fit.
_PROBLEMS = """selector => {
    const problems = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
        problems.push(`the page scrolls sideways: ${root.scrollWidth} > ${root.clientWidth}`);
    }
    const tables = document.querySelectorAll(selector);
    if (!tables.length) problems.push(`no table matches ${selector}`);
    for (const table of tables) {
        const name = table.id || table.parentElement.id || table.parentElement.className;
        const box = table.parentElement;
        if (table.scrollWidth > box.clientWidth) {
            problems.push(`${name}: the table is ${table.scrollWidth} px wide in a box of ${box.clientWidth} px`);
        }
        if (table.getBoundingClientRect().right > root.clientWidth) {
            problems.push(`${name}: the table ends past the window`);
        }
        for (const cell of table.querySelectorAll("th, td")) {
            const text = cell.innerText.trim();
            if (cell.scrollWidth > cell.clientWidth) {
                problems.push(`${name}: ${JSON.stringify(text)} is cut (${cell.scrollWidth} > ${cell.clientWidth})`);
            }
            // A header holds its sort controls beside its name: only values are read as sentences.
            const words = text.split(/\\s+/).filter(Boolean).length;
            if (cell.tagName !== "TD" || words < 3) continue;
            const range = document.createRange();
            range.selectNodeContents(cell);
            const lines = new Set([...range.getClientRects()].map(rect => Math.round(rect.bottom))).size;
            if (lines >= words) {
                problems.push(`${name}: ${JSON.stringify(text)} wraps one word a line (${lines} lines)`);
            }
        }
    }
    return problems;
}"""


def layout_problems(page: Page, selector: str) -> list[str]:
    """Every way the tables matching ``selector`` fail to fit the page as it is shown now."""
    problems: list[str] = page.evaluate(_PROBLEMS, selector)
    return problems

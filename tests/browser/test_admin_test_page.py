"""The admin's "Test an origin" page as staff see it: the verdict's colours, its contrast, the form's layout.

Each outcome is screenshotted in the light and the dark admin theme (into
``CREDCORS_SCREENSHOT_DIR`` when set, else the test's temporary directory),
and the verdict's contrast is computed from the browser's computed styles
with the WCAG 2 formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest

from tests.browser.conftest import Servers, admin_login, screenshot_dir
from tests.browser.drain import assert_request_threads_drained

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

TEST_PAGE = "/admin/credcors/allowedorigin/test-origin/"
#: WCAG 2 level AA for normal text.
MIN_CONTRAST = 4.5
#: The admin's own message colours (django/contrib/admin/static/admin/css/base.css, dark_mode.css).
MESSAGE_BG = {
    ("light", "success"): (0xDD, 0xFF, 0xDD),
    ("light", "error"): (0xFF, 0xEF, 0xEF),
    ("dark", "success"): (0x00, 0x6B, 0x1B),
    ("dark", "error"): (0x57, 0x08, 0x08),
}


@pytest.fixture(autouse=True)
def _request_threads_drained() -> Iterator[None]:
    # Set up before `context`, so this runs after the context has closed.
    yield
    assert_request_threads_drained()


def _rgb(css: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)", css)
    assert match, css
    assert match.group(4) in (None, "1"), f"translucent colour {css}"
    red, green, blue = (int(part) for part in match.group(1, 2, 3))
    return red, green, blue


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(foreground: tuple[int, int, int], background: tuple[int, int, int]) -> float:
    """The WCAG 2 contrast ratio of two opaque colours, from 1 to 21."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_formula_matches_known_pairs() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert contrast((0x77, 0x77, 0x77), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)


def _explain(page: Page, api: str, origin: str) -> None:
    page.goto(f"{api}{TEST_PAGE}")
    page.fill("#id_origin", origin)
    with page.expect_navigation():
        page.click("#credcors-test-origin input[type=submit]")


def _styles(page: Page, selector: str) -> dict[str, str]:
    return dict(
        page.eval_on_selector(
            selector,
            """element => {
                const style = getComputedStyle(element);
                return {color: style.color, background: style.backgroundColor};
            }""",
        )
    )


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(
    ("outcome", "level"),
    [("allowed", "success"), ("refused", "error")],
)
def test_verdict_uses_admin_message_style_and_is_readable(
    context: BrowserContext,
    demo_state: Servers,
    tmp_path: Path,
    theme: Literal["light", "dark"],
    outcome: str,
    level: str,
) -> None:
    page = context.new_page()
    page.emulate_media(color_scheme=theme)
    admin_login(page, demo_state.api, TEST_PAGE)
    # The allowed row is the demo's front end; one port off is refused as a near miss.
    origin = demo_state.allowed.url if outcome == "allowed" else "http://localhost:1"
    _explain(page, demo_state.api, origin)

    verdict = page.locator("#credcors-verdict li")
    assert verdict.get_attribute("class") == level
    assert verdict.inner_text().startswith("Allowed (allowed)" if outcome == "allowed" else "Refused (port-differs)")
    box = _styles(page, "#credcors-verdict li")
    assert _rgb(box["background"]) == MESSAGE_BG[(theme, level)]
    for part in ("strong", "code"):
        text = _rgb(_styles(page, f"#credcors-verdict li {part}")["color"])
        ratio = contrast(text, _rgb(box["background"]))
        assert ratio >= MIN_CONTRAST, f"{theme} {outcome}: {part} at {ratio:.2f}:1"

    shots = screenshot_dir() or tmp_path
    page.screenshot(path=str(shots / f"admin-test-origin-{outcome}-{theme}.png"), full_page=True)


def test_form_fields_line_up_as_on_admin_forms(context: BrowserContext, demo_state: Servers) -> None:
    page = context.new_page()
    admin_login(page, demo_state.api, TEST_PAGE)

    names = ("origin", "method", "headers", "path", "kind", "policy")
    labels = [page.locator(f"label[for=id_{name}]").bounding_box() for name in names]
    inputs = [page.locator(f"#id_{name}").bounding_box() for name in names]

    assert all(box is not None for box in labels + inputs)
    # One column of labels, one column of inputs to their right, one row each.
    assert len({round(box["x"]) for box in labels if box}) == 1
    assert len({round(box["x"]) for box in inputs if box}) == 1
    assert all(
        label["x"] + label["width"] <= field["x"]
        for label, field in zip(labels, inputs, strict=True)
        if label and field
    )
    tops = [box["y"] for box in inputs if box]
    assert tops == sorted(tops)
    # Every field fits in the form: a long choice label must not push its select past the edge.
    form = page.locator("#credcors-test-origin fieldset").bounding_box()
    assert form is not None
    assert all(box["x"] + box["width"] <= form["x"] + form["width"] for box in inputs if box)
    assert page.locator("label[for=id_origin]").get_attribute("class") == "required"
    assert page.locator("label[for=id_headers]").get_attribute("class") is None


def test_a_websocket_handshake_is_explained_as_the_validator_decides(
    context: BrowserContext, demo_state: Servers
) -> None:
    page = context.new_page()
    admin_login(page, demo_state.api, TEST_PAGE)
    page.fill("#id_origin", demo_state.allowed.url)
    # A PUT with a header nobody allows would fail its preflight; a handshake has none.
    page.fill("#id_method", "PUT")
    page.fill("#id_headers", "x-not-allowed")
    page.fill("#id_path", "/ws/chat/")
    page.select_option("#id_kind", "websocket")
    page.select_option("#id_policy", "default")
    with page.expect_navigation():
        page.click("#credcors-test-origin input[type=submit]")

    assert page.locator("#credcors-verdict li").inner_text().startswith("Allowed (allowed)")
    assert "passes the handshake to the application unchanged" in page.inner_text(".credcors-handshake")
    assert 'A WebSocket handshake to "/ws/chat/"' in page.inner_text(".credcors-hints")
    assert page.input_value("#id_kind") == "websocket"  # The form keeps the choice for the next try.

    _explain(page, demo_state.api, "http://localhost:1")  # A fresh form: a browser call again.
    assert page.input_value("#id_kind") == "http"
    assert page.locator(".credcors-handshake").count() == 0

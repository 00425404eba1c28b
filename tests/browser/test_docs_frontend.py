"""The front-end code of the README and the quick start, run as written in a page on an allowed origin.

Each ``js`` block is read from the file, its ``http://localhost:8000`` pointed
at the live API, and evaluated in the demo front end on an allowed origin,
after the user logged in to the admin in the same browser (as the quick
start says).  Every response it gets must be a success, and the write must
reach the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import Servers, admin_login, open_frontend
from tests.browser.drain import assert_request_threads_drained
from tests.test_docs import blocks_of

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

DOCS_API = "http://localhost:8000"
#: Top-level `const name = ...` declarations, whose values the test reads back.
DECLARED = re.compile(r"^const (\w+) =", re.MULTILINE)


@pytest.fixture(autouse=True)
def _request_threads_drained() -> Iterator[None]:
    # Set up before `context`, so this runs after the context has closed.
    yield
    assert_request_threads_drained()


def _run(page: Any, code: str) -> dict[str, Any]:
    names = DECLARED.findall(code)
    assert names, code
    script = f"""async () => {{
        {code}
        const found = {{{", ".join(names)}}};
        const out = {{}};
        for (const [name, value] of Object.entries(found)) {{
            out[name] = value instanceof Response ? {{response: true, status: value.status}} : value;
        }}
        return out;
    }}"""
    return dict(page.evaluate(script))


@pytest.mark.parametrize("path", ["README.md", "docs/quickstart.md"])
def test_docs_front_end_code_reads_and_writes_with_credentials(
    context: BrowserContext, demo_state: Servers, path: str
) -> None:
    from example_project.api import views
    from example_project.demo import DEMO_USER

    blocks = blocks_of("js", (path,))
    assert len(blocks) == 2, [block.where for block in blocks]  # One read, one write.
    admin_login(context.new_page(), demo_state.api, "/admin/")
    page = open_frontend(context, demo_state.allowed.url)

    results = {}
    for block in blocks:
        assert DOCS_API in block.text, block.where
        results[block.where] = _run(page, block.text.replace(DOCS_API, demo_state.api))

    responses = {
        f"{where} {name}": value["status"]
        for where, found in results.items()
        for name, value in found.items()
        if isinstance(value, dict) and value.get("response")
    }
    assert responses
    assert all(status == 200 for status in responses.values()), responses
    read = results[blocks[0].where]
    assert read["me"]["username"] == DEMO_USER[0]
    assert views._notes == ["hello"]

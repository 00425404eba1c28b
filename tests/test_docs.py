"""Every command and settings block the README and the install and quick-start pages show, run from the files.

The blocks are read from the Markdown itself, never copied here, so a renamed
flag, subcommand or setting key fails a test until the docs follow:

- ``python manage.py ...`` lines are parsed by the command's own parser, then
  run in order against the example project on a scratch SQLite database
  (``runserver`` until it answers; ``createsuperuser`` without its prompts);
- ``python3 dev.py ...`` lines must name a task; ``demo`` is the module
  ``tests/browser/test_demo.py`` starts, ``test`` is what ``.ci/run`` runs;
- ``pip install`` and ``python -m build`` lines run in a fresh virtual
  environment (marker ``packaging``, with the other slow install tests);
- Python blocks are executed; the settings they define are checked to be
  Django's or ``CREDCORS``, then run through credcors' system checks, and
  views they define answer a request; a block that defines ``urlpatterns``
  (the DRF and django-ninja examples) is served as a URLconf instead;
- the quick start's edits (``diff`` blocks, and Python blocks headed
  ``# mysite/<file>.py``) are applied to a new ``django-admin startproject``
  project, which must then pass ``manage.py check``.

The front-end (``js``) blocks run in a real browser in ``tests/browser/test_docs_frontend.py``.
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings
from django.contrib.auth.models import AnonymousUser
from django.core import checks
from django.core.management import get_commands, load_command_class
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.utils.module_loading import import_string
from django.views import View

import credcors
import dev

ROOT = Path(__file__).resolve().parent.parent
#: The files whose commands a newcomer types, and recipes run as printed; the rest of docs/ is reference.
DOC_FILES = ("README.md", "docs/install.md", "docs/quickstart.md", "docs/previews.md")
README_LIMIT = 12 * 1024
#: The two set-up commands a newcomer needs, and only those, in this order.
SETUP_COMMANDS = ["python3 dev.py demo", "python3 dev.py test"]
SERVER_SECONDS = 60.0


@dataclass(frozen=True)
class Block:
    path: str
    line: int  # of the opening fence, 1-based
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def code_blocks(path: str) -> list[Block]:
    """The fenced code blocks of a Markdown file, with their language."""
    blocks: list[Block] = []
    opened: tuple[int, str] | None = None
    body: list[str] = []
    for number, line in enumerate((ROOT / path).read_text().splitlines(), 1):
        fence = re.match(r"^```(\S*)\s*$", line)
        if fence and opened is None:
            opened, body = (number, fence.group(1)), []
        elif line.startswith("```") and opened is not None:
            blocks.append(Block(path, opened[0], opened[1], "\n".join(body) + "\n"))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"{path}:{opened[0]}: unclosed code block"
    return blocks


def blocks_of(lang: str, paths: tuple[str, ...] = DOC_FILES) -> list[Block]:
    return [block for path in paths for block in code_blocks(path) if block.lang == lang]


def commands(path: str) -> list[list[str]]:
    """The shell commands of a file's ``sh`` blocks, split as the shell would, in order."""
    found: list[list[str]] = []
    for block in blocks_of("sh", (path,)):
        for line in block.text.splitlines():
            words = shlex.split(line.removeprefix("$ "), comments=True)
            if words:
                found.append(words)
    return found


def kind(words: list[str]) -> str:
    """Which runner exercises a command; "unknown" fails test_every_command_is_run_by_a_test."""
    if words[:2] == ["python", "manage.py"] and len(words) > 2:
        return "manage.py"
    if words[:2] == ["python3", "dev.py"] and len(words) == 3:
        return "dev.py"
    if words[:2] == ["pip", "install"] or words[:3] == ["python", "-m", "build"]:
        return "install"
    return "unknown"


def _all_commands() -> list[tuple[str, list[str]]]:
    return [(path, words) for path in DOC_FILES for words in commands(path)]


# -- The README's shape ----------------------------------------------------------


def test_readme_is_at_most_12_kb() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; the manual belongs in docs/"


def test_readme_shows_exactly_the_two_setup_commands() -> None:
    shown = [" ".join(words) for words in commands("README.md") if kind(words) == "dev.py"]
    assert shown == SETUP_COMMANDS


@pytest.mark.parametrize("path", ["README.md", "CONTRIBUTING.md", "SECURITY.md"])
def test_relative_links_point_at_files_that_exist(path: str) -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", (ROOT / path).read_text())
    local = [target for target in targets if not re.match(r"^[a-z]+:", target)]
    assert local
    assert [target for target in local if not (ROOT / target).exists()] == []


def test_every_command_is_run_by_a_test() -> None:
    found = _all_commands()
    assert found, "no commands found: is the extraction broken?"
    assert [f"{path}: {shlex.join(words)}" for path, words in found if kind(words) == "unknown"] == []


# -- python3 dev.py ------------------------------------------------------------------


@pytest.mark.parametrize("words", [words for _, words in _all_commands() if kind(words) == "dev.py"], ids=shlex.join)
def test_dev_py_command_names_a_task(words: list[str]) -> None:
    assert words[2] in dev.TASKS


@pytest.mark.integration  # Runs dev.py with this virtualenv, which the matrix's nox venvs are not.
def test_dev_py_test_fast_collects_the_unit_suite_alone() -> None:
    env = {**os.environ, "CREDCORS_VENV": sys.prefix}
    result = subprocess.run(
        [sys.executable, "dev.py", "test", "--fast", "--", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert len(collected) > 1000
    assert not [line for line in collected if line.startswith(("tests/browser/", "tests/multiprocess/"))]
    assert not [line for line in collected if line.startswith(("tests/test_packaging.py", "tests/test_bench_smoke"))]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^step \"[^\"]*\" python3 dev\.py test$", ci, re.MULTILINE), (
        ".ci/run must run `python3 dev.py test`"
    )


def test_demo_command_starts_what_the_demo_browser_test_starts() -> None:
    # tests/browser/test_demo.py runs the module `python3 dev.py demo` runs,
    # without dev.py's virtual-environment step, and polls it until it answers.
    assert '"-m", "example_project.demo"' in inspect.getsource(dev.task_demo)
    assert '"-m", "example_project.demo"' in (ROOT / "tests" / "browser" / "test_demo.py").read_text()


def test_dev_py_test_keeps_coverage_data_in_build_which_git_ignores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COVERAGE_FILE", raising=False)

    assert dev.coverage_file() == ROOT / "build" / "coverage" / ".coverage"
    assert "build/" in (ROOT / ".gitignore").read_text().splitlines()
    # .ci/run erases and combines where dev.py writes.
    assert "COVERAGE_FILE=$(python3 -c 'import dev; print(dev.coverage_file())')" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(("body", "status"), [("assert safe('a') == '\"a\"'", 0), ("assert False", 1)])
def test_dev_py_test_prints_this_runs_coverage_and_keeps_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], body: str, status: int
) -> None:
    # This interpreter stands in for .venv: dev.py must not set one up here.
    monkeypatch.setattr(dev, "ensure_venv", lambda groups=dev.GROUPS: Path(sys.executable))
    monkeypatch.setattr(dev, "ensure_chromium", lambda: None)
    data = tmp_path / "coverage" / ".coverage"
    monkeypatch.setenv("COVERAGE_FILE", str(data))
    tiny = tmp_path / "test_tiny.py"
    tiny.write_text(f"from credcors.core.quoting import safe\n\n\ndef test_tiny():\n    {body}\n")

    returned = dev.task_test([str(tiny), "-q", "-p", "no:cacheprovider"])

    out = capfd.readouterr().out
    # The run's own status: far below fail_under, the summary never fails it.
    assert returned == status
    assert "dev.py test: coverage of credcors/ in this run" in out
    assert re.search(r"^TOTAL +\d+", out, re.MULTILINE), out
    # Its data file is still there for .ci/run's combine, and nothing else is.
    assert [path.name.startswith(".coverage.") for path in data.parent.iterdir()] == [True]


# -- python manage.py ------------------------------------------------------------------


@pytest.mark.parametrize("words", [words for _, words in _all_commands() if kind(words) == "manage.py"], ids=shlex.join)
def test_manage_py_command_parses_with_its_own_parser(words: list[str]) -> None:
    name, args = words[2], words[3:]
    app = get_commands().get(name)
    assert app is not None, f"no management command {name!r}"
    command = load_command_class(app, name)
    # Raises CommandError on an unknown flag, subcommand or choice.
    command.create_parser("manage.py", name).parse_args(args)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _run_server(args: list[str], env: dict[str, str]) -> None:
    """Start ``runserver`` on a free port, poll until the API answers, stop it."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, *args, f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + SERVER_SECONDS
        up = _answers(f"http://127.0.0.1:{port}/api/csrf")
        while not up and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            up = _answers(f"http://127.0.0.1:{port}/api/csrf")
        assert up, "runserver did not answer"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # Django 6.1 says "Starting WSGI development server at", earlier ones "Starting development server at".
    assert re.search(r"Starting (\w+ )?development server at http://127\.0\.0\.1:", output), output


@pytest.mark.parametrize("path", DOC_FILES)
def test_manage_py_commands_run_in_order_against_the_example_project(path: str, tmp_path: Path) -> None:
    env = {
        **{name: value for name, value in os.environ.items() if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")},
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "CREDCORS_DEMO_DB": str(tmp_path / "docs.sqlite3"),
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        "DJANGO_SUPERUSER_PASSWORD": "a-password-for-the-docs-test",
    }
    shown = [words for words in commands(path) if kind(words) == "manage.py"]
    assert shown, f"{path} shows no manage.py command"
    # Every page starts from an installed project, its tables created.
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    ran: list[str] = []
    for words in shown:
        args = ["manage.py", *words[2:]]
        if words[2] == "runserver":
            _run_server(args, env)
        else:
            if words[2] == "createsuperuser":
                args.append("--noinput")  # The prompts need a terminal; the answers come from env.
            result = subprocess.run(
                [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
            )
            assert result.returncode == 0, f"{shlex.join(words)}:\n{result.stdout}\n{result.stderr}"
        ran.append(words[2])
    assert ran


@pytest.mark.parametrize(
    "shown", [block.text.strip() for block in code_blocks("docs/previews.md") if block.lang == "text"]
)
def test_previews_page_prints_the_refusal_credcors_gives(tmp_path: Path, shown: str) -> None:
    origin = re.search(r"'(https://\*\.[^']+)'", shown)
    assert origin is not None
    env = {
        **{name: value for name, value in os.environ.items() if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")},
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "CREDCORS_DEMO_DB": str(tmp_path / "docs.sqlite3"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "credcors", "add", origin.group(1)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == shown


# -- The quick start's edits to a new startproject ---------------------------------------

#: The project name the README and the quick start use: ``django-admin startproject mysite``.
PROJECT = "mysite"
#: A Python block that is a file of that project: written to it, or added at its end.
FILE_HEADER = re.compile(rf"^# ({PROJECT}/\w+\.py)(, at the end)?\n")


def _same_line(line: str) -> str:
    # startproject's template quotes with ' in some Django versions and " in others; the docs use ".
    return line.strip().replace("'", '"')


def apply_diff(text: str, diff: str, where: str) -> str:
    """``text`` with one ``diff`` block applied: its context and ``-`` lines found in order, ``+`` lines put in."""
    hunk = [(line[:1], line[1:]) for line in diff.splitlines() if line]
    assert all(mark in " -+" for mark, _ in hunk), f"{where}: a diff line must start with ' ', '-' or '+'"
    old = [_same_line(body) for mark, body in hunk if mark != "+"]
    lines = text.splitlines()
    starts = [
        index
        for index in range(len(lines) - len(old) + 1)
        if [_same_line(x) for x in lines[index : index + len(old)]] == old
    ]
    assert len(starts) == 1, f"{where}: its context is found {len(starts)} times in {PROJECT}/settings.py"
    at, result = starts[0], []
    for mark, body in hunk:
        if mark == " ":
            result.append(lines[at])
            at += 1
        elif mark == "-":
            at += 1
        else:
            result.append(body)
    return "\n".join([*lines[: starts[0]], *result, *lines[at:]]) + "\n"


def quickstart_edits(path: str) -> list[Block]:
    """The blocks of ``path`` that edit a new project, in order."""
    return [
        block
        for block in code_blocks(path)
        if block.lang == "diff" or (block.lang == "python" and FILE_HEADER.match(block.text))
    ]


def apply_quickstart(path: str, project: Path) -> None:
    """Apply ``path``'s edits, as written, to the ``startproject`` project in ``project``."""
    for block in quickstart_edits(path):
        if block.lang == "diff":
            settings_file = project / PROJECT / "settings.py"
            settings_file.write_text(apply_diff(settings_file.read_text(), block.text, block.where))
            continue
        header = FILE_HEADER.match(block.text)
        assert header is not None
        target = project / header.group(1)
        if header.group(2):
            target.write_text(target.read_text() + "\n\n" + block.text)
        else:
            target.write_text(block.text)


def startproject_env() -> dict[str, str]:
    """The environment a new project's ``manage.py`` runs in: none of this test run's settings."""
    return {name: value for name, value in os.environ.items() if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}


def new_quickstart_project(path: str, parent: Path) -> Path:
    """``django-admin startproject mysite`` in ``parent``, with ``path``'s edits applied."""
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", PROJECT], cwd=parent, env=startproject_env(), check=True
    )
    project = parent / PROJECT
    apply_quickstart(path, project)
    return project


@pytest.mark.parametrize("path", ["README.md", "docs/quickstart.md"])
def test_quickstart_edits_a_new_startproject_into_one_that_passes_check(path: str, tmp_path: Path) -> None:
    assert len(quickstart_edits(path)) >= 5, "the settings edits, views.py and urls.py"
    project = new_quickstart_project(path, tmp_path)

    listed = subprocess.run(
        [sys.executable, "-c", "from mysite import settings; print(*settings.MIDDLEWARE, *settings.INSTALLED_APPS)"],
        cwd=project,
        env=startproject_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # One-line edits: startproject's own entries stay, Django's CSRF middleware is swapped for credcors'.
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in listed
    assert "django.contrib.admin" in listed
    assert "django.middleware.csrf.CsrfViewMiddleware" not in listed
    assert listed.index("credcors.middleware.CredCorsMiddleware") < listed.index(
        "django.middleware.common.CommonMiddleware"
    )
    assert "credcors.csrf.CredCorsCsrfViewMiddleware" in listed
    assert "credcors" in listed
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=project,
        env=startproject_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_diff_whose_context_is_not_in_the_file_fails() -> None:
    # What the test above relies on: a diff that no longer matches startproject fails, never applies nowhere.
    with pytest.raises(AssertionError, match="found 0 times"):
        apply_diff('MIDDLEWARE = [\n    "a",\n]\n', '     "b",\n+    "c",\n', "here")
    assert apply_diff("X = [\n    'a',\n]\n", '     "a",\n+    "c",\n', "here") == "X = [\n    'a',\n    \"c\",\n]\n"


# -- Python blocks ---------------------------------------------------------------------


#: Reference pages whose Python blocks run too.
PYTHON_DOC_FILES = (*DOC_FILES, "docs/policies.md", "docs/index.md")


def _python_blocks() -> list[Block]:
    # A project's settings.py and urls.py (``from . import views``) are checked in their project:
    # test_quickstart_edits_a_new_startproject_into_one_that_passes_check runs its manage.py check.
    def in_its_project(block: Block) -> bool:
        header = FILE_HEADER.match(block.text)
        return header is not None and header.group(1) != f"{PROJECT}/views.py"

    return [block for block in blocks_of("python", PYTHON_DOC_FILES) if not in_its_project(block)]


@pytest.mark.parametrize("block", _python_blocks(), ids=lambda block: block.where)
def test_python_block_runs_and_its_settings_pass_the_checks(block: Block) -> None:
    module = types.ModuleType("docs_block")
    namespace: dict[str, Any] = module.__dict__
    exec(compile(block.text, block.where, "exec"), namespace)

    if "urlpatterns" in namespace:
        # A URLconf (the DRF and django-ninja examples): its views answer through its routes.
        _serve_urlconf(block, module)
        return
    settings_shown = {name: value for name, value in namespace.items() if name.isupper() and not name.startswith("_")}
    views: dict[str, Callable[..., Any]] = {
        name: value
        for name, value in namespace.items()
        if inspect.isfunction(value) and value.__module__ == namespace.get("__name__")
    }
    # Class-based views, as their URLconf would serve them.
    views.update(
        (name, value.as_view())
        for name, value in namespace.items()
        if inspect.isclass(value) and issubclass(value, View) and value.__module__ == namespace.get("__name__")
    )
    assert settings_shown or views, f"{block.where}: neither settings nor a view"
    for name in settings_shown:
        assert name == "CREDCORS" or hasattr(global_settings, name), f"{block.where}: {name} is not a setting"
    for app in settings_shown.get("INSTALLED_APPS", []):
        __import__(app)
    if "INSTALLED_APPS" in settings_shown:
        assert "credcors" in settings_shown["INSTALLED_APPS"]
    for middleware in settings_shown.get("MIDDLEWARE", []):
        import_string(middleware)

    # INSTALLED_APPS stays the test project's: the block's "# ..." stands for the rest of it.
    overrides = {name: value for name, value in settings_shown.items() if name != "INSTALLED_APPS"}
    # databases=[]: the settings checks only. Given tags, Django 6.1 would also run the
    # database-tagged ones against every alias (6.0 and earlier did not).
    with override_settings(**overrides):
        problems = checks.run_checks(tags=["credcors"], databases=[])
    assert [f"{problem.id}: {problem.msg}" for problem in problems] == []

    for name, view in views.items():
        request = RequestFactory().get(f"/api/{name}")
        request.user = AnonymousUser()
        response = view(request)
        assert isinstance(response, HttpResponse)
        # An anonymous GET: 401 from a view that needs a login, 405 from one that takes POST only.
        assert response.status_code in (200, 401, 405), f"{block.where}: {name}() answered {response.status_code}"


def _serve_urlconf(block: Block, module: types.ModuleType) -> None:
    """Every route of the block's URLconf that takes no parameter answers a GET with 200."""
    from ninja.openapi.views import default_home

    from credcors.routing import iter_views

    answered = []
    with override_settings(ROOT_URLCONF=module):
        for route, view in iter_views():
            path = "/" + route.removeprefix("^").removesuffix("$")
            if "<" in path or "(" in path:
                continue
            if getattr(view, "func", None) is default_home:
                continue  # django-ninja's API root: it names the API's base path and answers 404 by design.
            response = Client().get(path)
            assert response.status_code == 200, f"{block.where}: {path} answered {response.status_code}"
            answered.append(path)
    assert answered, f"{block.where}: no route to request"


def test_a_renamed_setting_key_fails_the_checks() -> None:
    # What the test above relies on: a key the docs got wrong is an error.
    with override_settings(CREDCORS={"TRUST_CSRF": True}):
        problems = checks.run_checks(tags=["credcors"], databases=[])
    assert [problem.id for problem in problems] == ["credcors.E002"]


# -- pip install and python -m build ------------------------------------------------------


def _checkout(tmp_path: Path) -> Path:
    """A copy of the working tree, committed to a git repository of its own (a "checkout")."""
    checkout = tmp_path / "credcors"
    shutil.copytree(
        ROOT,
        checkout,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".nox", "build", "dist", "*.egg-info", "__pycache__", "_build", "*.sqlite3", ".*_cache"
        ),
    )
    git = ["git", "-c", "user.name=docs test", "-c", "user.email=docs@test.invalid", "-C", str(checkout)]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "checkout"]):
        subprocess.run([*git, *step], check=True, capture_output=True)
    return checkout


INSTALL_PAGES = ("README.md", "docs/install.md")


@pytest.mark.packaging
def test_install_commands_install_a_working_credcors(tmp_path: Path) -> None:
    # The README repeats the install page's commands; each distinct command runs once, in order.
    shown: list[list[str]] = []
    for path in INSTALL_PAGES:
        shown += [words for words in commands(path) if kind(words) == "install" and words not in shown]
    assert shown
    checkout = _checkout(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    substitutes = {
        "/path/to/credcors": str(checkout),
        # pip's URL parser wants a host in a file URL.
        "credcors @ git+https://git.example.com/credcors.git": f"credcors @ git+file://localhost{checkout}",
    }
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for words in shown:
        args = [substitutes.get(word, word) for word in words]
        if args[0] == "pip":
            # Each install stands alone: start from an environment without credcors.
            subprocess.run([venv / "bin" / "python", "-m", "pip", "uninstall", "-q", "-y", "credcors"], check=True)
            command = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q", *args[1:]]
        else:
            command = [sys.executable, *args[1:]]  # python -m build: the tool the docs say to install.
        result = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert result.returncode == 0, f"{shlex.join(words)}:\n{result.stdout}\n{result.stderr}"
        if args[0] == "pip":
            version = subprocess.run(
                [venv / "bin" / "python", "-c", "import credcors; print(credcors.__version__)"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            assert version.stdout.strip() == credcors.__version__, shlex.join(words)


def test_landing_page_install_command_is_one_the_install_pages_run() -> None:
    # docs/index.md repeats one install command; test_install_commands_install_a_working_credcors runs it.
    shown = [words for words in commands("docs/index.md") if kind(words) == "install"]
    assert shown
    assert all(any(words in commands(path) for path in INSTALL_PAGES) for words in shown)
    assert [words for words in commands("docs/index.md") if kind(words) != "install"] == []


def test_wheel_the_docs_install_is_this_version() -> None:
    # The install page shows the wheel; the README links there rather than repeat it.
    shown = {
        path: {word for words in commands(path) for word in words if word.endswith(".whl")} for path in INSTALL_PAGES
    }
    assert shown["docs/install.md"]
    for path, wheels in shown.items():
        assert wheels <= {f"dist/credcors-{credcors.__version__}-py3-none-any.whl"}, path

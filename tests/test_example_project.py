"""The example project is a project a reader can copy: it imports nothing from the test suite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from example_project.demo import PORT_VARIABLES

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
import django

django.setup()
from django.core.management import call_command

call_command("check", fail_level="WARNING")
import example_project.urls, example_project.demo, example_project.frontend_server, example_project.wsgi
import example_project.asgi
borrowed = sorted(name for name in sys.modules if name == "tests" or name.startswith("tests."))
print("borrowed:", borrowed)
"""


def _run_example(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        name: value for name, value in os.environ.items() if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "example_project.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_example_project_checks_clean_without_importing_tests(tmp_path: Path) -> None:
    result = _run_example(PROBE, CREDCORS_DEMO_DB=str(tmp_path / "example.sqlite3"))

    assert result.returncode == 0, result.stderr
    assert "borrowed: []" in result.stdout


def test_example_project_reads_database_url_itself(tmp_path: Path) -> None:
    code = "from django.conf import settings; db = settings.DATABASES['default']; print(db['ENGINE'], db['NAME'])"
    sqlite = _run_example(code, DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
    postgres = _run_example(code, DATABASE_URL="postgres://someone@db.internal:5433/shop")

    assert sqlite.stdout.split() == ["django.db.backends.sqlite3", f"{tmp_path}/x.sqlite3"], sqlite.stderr
    assert postgres.stdout.split() == ["django.db.backends.postgresql", "shop"], postgres.stderr


def test_example_project_sets_utc_so_the_admin_does_not_report_an_offset_to_a_utc_browser() -> None:
    # Django's default TIME_ZONE is America/Chicago: the admin then told a
    # browser on UTC "You are 6 hours ahead of server time".
    result = _run_example("from django.conf import settings; print(settings.TIME_ZONE)")

    assert result.stdout.split() == ["UTC"], result.stderr


# -- the demo's ports ---------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something already listens on, on the loopback interface the demo's servers bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_demo(tmp_path: Path, **ports: str) -> subprocess.CompletedProcess[str]:
    """Start ``python -m example_project.demo`` (what ``python3 dev.py demo`` runs) on free ports but ``ports``."""
    clean = {
        name: value for name, value in os.environ.items() if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env = {name: str(_free_port()) for name, _ in PORT_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "example_project.demo"],
        cwd=ROOT,
        env={**clean, **env, **ports, "CREDCORS_DEMO_DB": str(tmp_path / "demo.sqlite3")},
        capture_output=True,
        text=True,
        # It exits before starting anything; a demo that came up would be killed here.
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("variable", [name for name, _ in PORT_VARIABLES])
def test_demo_with_a_busy_port_exits_before_anything_naming_the_port_and_its_variable(
    tmp_path: Path, busy_port: int, variable: str
) -> None:
    result = _run_demo(tmp_path, **{variable: str(busy_port)})

    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"credcors demo: port {busy_port} is in use: set {variable} to a free port"), line
    # Nothing was migrated, served or printed before the check.
    assert not (tmp_path / "demo.sqlite3").exists()


def test_demo_with_a_busy_port_suggests_a_free_one_near_it(tmp_path: Path, busy_port: int) -> None:
    result = _run_demo(tmp_path, CREDCORS_DEMO_API_PORT=str(busy_port))

    suggested = int(result.stderr.split("(e.g. CREDCORS_DEMO_API_PORT=")[1].split()[0])
    assert busy_port < suggested <= busy_port + 100
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", suggested))


def test_demo_with_the_same_port_twice_exits_naming_both_variables(tmp_path: Path) -> None:
    port = str(_free_port())

    result = _run_demo(tmp_path, CREDCORS_DEMO_FRONTEND_PORT=port, CREDCORS_DEMO_SECOND_FRONTEND_PORT=port)

    assert result.returncode == 1
    assert result.stderr == (
        f"credcors demo: CREDCORS_DEMO_SECOND_FRONTEND_PORT and CREDCORS_DEMO_FRONTEND_PORT are both {port}: "
        "set CREDCORS_DEMO_SECOND_FRONTEND_PORT to another free port\n"
    )


@pytest.mark.parametrize("value", ["eighty", "0", "65536", "-1"])
def test_demo_with_a_port_that_is_not_a_number_exits_naming_the_variable(tmp_path: Path, value: str) -> None:
    result = _run_demo(tmp_path, CREDCORS_DEMO_API_PORT=value)

    assert result.returncode == 1
    assert result.stderr == (
        f"credcors demo: CREDCORS_DEMO_API_PORT={value!r} is not a port number: set it to a free port from 1 to 65535\n"
    )
    assert not (tmp_path / "demo.sqlite3").exists()


# -- the demo's WebSocket ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_example_asgi_application_lets_an_allowed_page_open_the_socket_and_refuses_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from asgiref.sync import async_to_sync
    from asgiref.testing import ApplicationCommunicator

    from example_project.asgi import application

    # asgiref's communicator, not channels.testing's: that one imports daphne,
    # which the matrix does not install.
    async def handshake(origin: str) -> tuple[str, object]:
        scope = {
            "type": "websocket",
            "path": "/ws/whoami/",
            "headers": [(b"origin", origin.encode())],
            "subprotocols": [],
        }
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "websocket.connect"})
        first = await communicator.receive_output(timeout=5)
        said = (
            (await communicator.receive_output(timeout=5)).get("text") if first["type"] == "websocket.accept" else None
        )
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=5)
        return first["type"], said

    with caplog.at_level("INFO", logger="example_project"):
        # The test settings allow https://app.example.com; nobody is logged in.
        assert async_to_sync(handshake)("https://app.example.com") == ("websocket.accept", "")
        refused, said = async_to_sync(handshake)("https://evil.example.com")
    assert refused in ("websocket.close", "websocket.http.response.start")
    assert said is None

    opened = [record.getMessage() for record in caplog.records if record.name.startswith("example_project")]
    assert opened == ["whoami socket opened from 'https://app.example.com' for ''"]  # Never for the refused one.

"""``python3 dev.py demo``: the credentialed cross-origin journey on two origins.

Migrates a SQLite database, creates a staff user and an ``AllowedOrigin`` row
for the front end, serves the front end on ``http://localhost:3001`` and the
API (with its admin and a WebSocket, through daphne) on
``http://localhost:8000``.  The same front end is also served on
``http://localhost:3002``, an origin nobody allowed: its refused calls show
up in the admin's refused origins, where one click allows it.
Ctrl-C stops all three.

Environment: ``CREDCORS_DEMO_API_PORT``, ``CREDCORS_DEMO_FRONTEND_PORT`` and
``CREDCORS_DEMO_SECOND_FRONTEND_PORT`` change the ports, ``CREDCORS_DEMO_DB``
the SQLite file.  Arguments are passed on to ``runserver``.  Every port is
checked before anything is printed or migrated: a busy one ends the demo at
once with its number and the variable to set.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from types import FrameType

from example_project.frontend_server import LOOPBACK

DEMO_USER = ("demo", "demo-password")
DEFAULT_API_PORT = 8000
DEFAULT_FRONTEND_PORT = 3001
DEFAULT_SECOND_FRONTEND_PORT = 3002
#: The variables that set the demo's ports, with their defaults: the API, then the two front ends.
PORT_VARIABLES = (
    ("CREDCORS_DEMO_API_PORT", DEFAULT_API_PORT),
    ("CREDCORS_DEMO_FRONTEND_PORT", DEFAULT_FRONTEND_PORT),
    ("CREDCORS_DEMO_SECOND_FRONTEND_PORT", DEFAULT_SECOND_FRONTEND_PORT),
)
#: How far above a busy port the demo looks for a free one to suggest.
SUGGEST_WITHIN = 100


def _in_use(port: int) -> bool:
    """Whether ``port`` is taken on the loopback interface, where all three servers listen.

    runserver's ``localhost`` resolves to 127.0.0.1 (IPv4), and the front ends
    bind it directly.  The probe binds the way those servers do, with
    SO_REUSEADDR on POSIX (a port in TIME_WAIT is free to them), and lets go
    at once.  Windows' SO_REUSEADDR would let the probe share a listening
    port, so it binds plainly there.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if os.name == "posix":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def _free_above(port: int, taken: set[int]) -> int | None:
    """A free port a little above ``port`` and not in ``taken``, to suggest; None if there is none nearby."""
    nearby = range(port + 1, min(port + SUGGEST_WITHIN, 65535) + 1)
    return next((free for free in nearby if free not in taken and not _in_use(free)), None)


def demo_ports() -> tuple[list[int], list[str]]:
    """The ports the demo's variables name, in ``PORT_VARIABLES`` order, and a line for each one it cannot use."""
    ports: list[int] = []
    problems: list[str] = []
    unusable: set[int] = set()
    for name, default in PORT_VARIABLES:
        value = os.environ.get(name, "").strip()
        if not value:
            ports.append(default)
        elif value.isdecimal() and 0 < int(value) < 65536:
            ports.append(int(value))
        else:
            problems.append(f"{name}={value!r} is not a port number: set it to a free port from 1 to 65535")
            unusable.add(len(ports))
            ports.append(default)
    taken = set(ports)
    for index, ((name, _), port) in enumerate(zip(PORT_VARIABLES, ports, strict=True)):
        if index in unusable:
            continue
        if port in ports[:index]:
            other = PORT_VARIABLES[ports.index(port)][0]
            problems.append(f"{name} and {other} are both {port}: set {name} to another free port")
        elif _in_use(port):
            suggestion = _free_above(port, taken)
            example = "" if suggestion is None else f" (e.g. {name}={suggestion} python3 dev.py demo)"
            problems.append(f"port {port} is in use: set {name} to a free port{example}")
    return ports, problems


def ensure_demo_user() -> None:
    """Create the demo staff user, allowed to manage credcors' origins in the admin."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    username, password = DEMO_USER
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model.objects.create_user(username, "demo@example.com", password)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    # Staff, not superuser: the admin shows it only what it needs.
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="credcors"))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    # Ctrl-C and `kill` both end the demo cleanly, even when it was started
    # from a shell that ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    # Before anything is printed or migrated: a busy port would otherwise
    # show up after the banner, as runserver's bare "That port is already in
    # use." or a front-end server's traceback, naming neither port nor variable.
    (api_port, frontend_port, second_port), problems = demo_ports()
    if problems:
        for problem in problems:
            print(f"credcors demo: {problem}", file=sys.stderr)
        return 1
    api_url = f"http://localhost:{api_port}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from credcors.conf import get_config
    from credcors.models import AllowedOrigin
    from example_project.frontend_server import start_frontend

    call_command("migrate", verbosity=0)
    ensure_demo_user()
    frontend = start_frontend(api_url, port=frontend_port)
    second = start_frontend(api_url, port=second_port)
    row, _ = AllowedOrigin.objects.get_or_create(origin=frontend.url, defaults={"note": "demo front end"})
    state = "enabled" if row.enabled else "DISABLED (enable it in the admin)"
    # No row for the second front end: it is the origin waiting for approval.
    second_allowed = AllowedOrigin.objects.filter(origin=second.url, enabled=True).exists()
    second_state = "allowed (in an earlier run)" if second_allowed else "not allowed: its calls are refused"
    config = get_config()
    print(
        f"\ncredcors demo\n"
        f"  front end  {frontend.url}/   <- open this in a browser\n"
        f"  API        {api_url}/api/me   WebSocket {api_url.replace('http', 'ws', 1)}/ws/whoami/\n"
        f"  admin      {api_url}/admin/credcors/allowedorigin/   "
        f"user {DEMO_USER[0]!r}, password {DEMO_USER[1]!r}\n"
        f"  {frontend.url} is {state} in the admin; changes reach the page within "
        f"{config.refresh_seconds:g} s.\n"
        f"  second front end  {second.url}/   <- {second_state}\n"
        f"  refused origins   {api_url}/admin/credcors/refusedorigin/   "
        f"(listed within {config.refused.flush_seconds:g} s; tick it and run Allow selected origins)\n"
        f"  Ctrl-C stops all three servers.\n",
        flush=True,
    )
    # daphne's runserver: Django's, served over ASGI, so the API answers the
    # front end's WebSocket (example_project/asgi.py) as well as its calls.
    from daphne.management.commands.runserver import Command as AsgiRunserver

    try:
        # No autoreloader: it would re-run this script in a child process,
        # which would try to serve the front end a second time.
        call_command(AsgiRunserver(), f"localhost:{api_port}", "--noreload", *argv)
    except KeyboardInterrupt:
        pass
    finally:
        frontend.stop()
        second.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

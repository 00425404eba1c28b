"""Serve the demo front end (``example_project/frontend/``) from its own origin.

A stdlib HTTP server in a background thread: the demo runs it on
``http://localhost:3001`` and the browser tests run it on free ports.  It
answers every ``Host``, so one server is also ``http://x.app.localhost:PORT``.
``/config.js`` tells the page where the API lives.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["FRONTEND_DIR", "LOOPBACK", "FrontendServer", "start_frontend"]

FRONTEND_DIR = Path(__file__).resolve().parent / "frontend"
#: Where the demo's servers listen: ``localhost`` in their URLs, bound as IPv4 loopback.
LOOPBACK = "127.0.0.1"


class _Handler(SimpleHTTPRequestHandler):
    server: FrontendServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.js":
            body = f"window.CREDCORS_DEMO = {json.dumps({'api': self.server.api_url})};\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def end_headers(self) -> None:
        # Always the current files: the page is edited while the demo runs.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FrontendServer(ThreadingHTTPServer):
    """The front-end server; ``url`` is its ``http://localhost:PORT`` origin."""

    daemon_threads = True

    def __init__(self, host: str, port: int, api_url: str) -> None:
        #: The API origin the page calls; may be set after the port is known.
        self.api_url = api_url.rstrip("/")
        super().__init__((host, port), partial(_Handler, directory=str(FRONTEND_DIR)))
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name=f"frontend:{self.port}", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser closing a keep-alive connection early is not worth a traceback.
        pass

    def start(self) -> FrontendServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
        self.server_close()


def start_frontend(api_url: str, port: int = 0, host: str = LOOPBACK) -> FrontendServer:
    """Serve the front end on ``host:port`` (0: a free port) in a daemon thread."""
    return FrontendServer(host, port, api_url).start()

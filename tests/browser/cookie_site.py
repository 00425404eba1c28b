"""Two sites on loopback for tests/browser/test_cookies.py: an HTTPS API and an HTTPS front end.

The API is Django (this module is its URLconf) served by uvicorn in a
thread, so it runs under the test's settings; the front end is one static
page served by a stdlib server.  Chromium maps both host names to 127.0.0.1
and trusts the test certificate by its public key hash.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

__all__ = [
    "API_HOST",
    "FRONT_HOST",
    "HOSTS",
    "SAME_DOMAIN_HOST",
    "ApiServer",
    "Certificate",
    "FrontServer",
    "urlpatterns",
]

API_HOST = "api.credcors-a.test"
FRONT_HOST = "app.credcors-b.test"
#: On the API's registrable domain: same-site over https://, cross-site over http://.
SAME_DOMAIN_HOST = "app.credcors-a.test"
HOSTS = (API_HOST, FRONT_HOST, SAME_DOMAIN_HOST)


def login(request: HttpRequest) -> HttpResponse:
    """Log the visitor in: the session cookie is set by this response."""
    request.session["user"] = "demo"
    return JsonResponse({"logged_in": True})


def whoami(request: HttpRequest) -> HttpResponse:
    """Whether the session cookie came with this request."""
    return JsonResponse(
        {"cookie": settings.SESSION_COOKIE_NAME in request.COOKIES, "user": request.session.get("user")}
    )


urlpatterns = [path("api/login", login), path("api/whoami", whoami)]


class Certificate:
    """A self-signed certificate for both host names, made with the openssl CLI."""

    def __init__(self, directory: Path) -> None:
        self.cert = directory / "cert.pem"
        self.key = directory / "key.pem"
        command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test"]
        command += ["-keyout", str(self.key), "-out", str(self.cert)]
        command += ["-addext", "subjectAltName=" + ",".join(f"DNS:{host}" for host in HOSTS)]
        subprocess.run(command, check=True, capture_output=True)
        pem = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-pubkey", "-noout"], check=True, capture_output=True, text=True
        ).stdout
        der = base64.b64decode("".join(line for line in pem.splitlines() if not line.startswith("-----")))
        #: What --ignore-certificate-errors-spki-list takes: base64 of the SHA-256 of the public key.
        self.spki = base64.b64encode(hashlib.sha256(der).digest()).decode()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.02)


class ApiServer:
    """This URLconf's project over HTTPS: uvicorn and Django's ASGI handler, in a thread."""

    def __init__(self, certificate: Certificate) -> None:
        import uvicorn
        from django.core.asgi import get_asgi_application

        config = uvicorn.Config(
            get_asgi_application(),
            host="127.0.0.1",
            port=0,
            ssl_certfile=str(certificate.cert),
            ssl_keyfile=str(certificate.key),
            lifespan="off",
            log_level="warning",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="cookie-api", daemon=True)
        self._thread.start()
        wait_for(lambda: self._server.started or not self._thread.is_alive(), 10, "uvicorn did not start")
        if not self._server.started:
            raise RuntimeError("uvicorn did not start")
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])
        self.url = f"https://{API_HOST}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


PAGE = """<!doctype html><title>front end</title><script>
window.call = async (url, init) => {
  const response = await fetch(url, {credentials: "include", ...init});
  return {status: response.status, body: await response.json()};
};
</script>"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FrontServer(ThreadingHTTPServer):
    """The front end: one page that makes credentialed calls, over HTTPS (or HTTP without a certificate)."""

    daemon_threads = True

    def __init__(self, certificate: Certificate | None, host: str = FRONT_HOST) -> None:
        super().__init__(("127.0.0.1", 0), _Page)
        scheme = "http"
        if certificate is not None:
            self.socket = certificate.server_context().wrap_socket(self.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://{host}:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # A browser dropping a connection is not the test's business.

    def stop(self) -> None:
        self.shutdown()
        self._thread.join()
        self.server_close()

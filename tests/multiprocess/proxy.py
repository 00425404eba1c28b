"""A small loopback TCP proxy the tests can cut and restore.

The servers reach PostgreSQL (and Redis) only through it, so a test decides
when "the network" fails and how:

- ``cut("reset")``: every open connection is reset and new ones are reset at
  once, as when the database restarts or a firewall rejects;
- ``cut("blackhole")``: connections are accepted but nothing gets through in
  either direction, as when a host vanishes; clients only notice by timeout.

``restore()`` lets new connections through again (held ones are closed).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

_LINGER_RESET = struct.pack("ii", 1, 0)  # close() sends RST instead of FIN.


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; runs on daemon threads until :meth:`close`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._mode = "open"
        self._sockets: set[socket.socket] = set()
        self._closed = threading.Event()
        #: Connections accepted, and those passed through to the target.
        self.accepted = 0
        self.forwarded = 0
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()

    @property
    def mode(self) -> str:
        return self._mode

    def cut(self, mode: str = "reset") -> None:
        """Stop all traffic: ``"reset"`` refuses it, ``"blackhole"`` swallows it."""
        assert mode in ("reset", "blackhole"), mode
        with self._lock:
            self._mode = mode
            if mode == "reset":
                self._reset_all()

    def restore(self) -> None:
        """Let traffic through again; connections held by a blackhole are reset."""
        with self._lock:
            if self._mode == "blackhole":
                self._reset_all()
            self._mode = "open"

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        with self._lock:
            self._reset_all()
        self._listener.close()

    def _reset_all(self) -> None:
        for sock in list(self._sockets):
            _reset(sock)
        self._sockets.clear()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            with self._lock:
                mode = self._mode
                if mode == "reset":
                    _reset(client)
                    continue
                self._sockets.add(client)
                if mode == "blackhole":
                    # Keep it open and never read: the client waits for its timeout.
                    continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            self._discard(client)
            return
        upstream.settimeout(None)
        with self._lock:
            if self._mode != "open" or client not in self._sockets:
                _reset(upstream)
                return
            self._sockets.add(upstream)
            self.forwarded += 1
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        self._pump(upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if self._mode != "open":
                    continue  # Blackhole: swallow; a reset cut closes the sockets itself.
                sink.sendall(data)
        except OSError:
            pass
        self._discard(source)
        self._discard(sink)

    def _discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        # Wakes a pump thread blocked in recv() on it (close() alone does not).
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()

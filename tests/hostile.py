"""A hostile HTTP server on loopback: answers exactly as a test scripts it, byte for byte.

The emulator (``invoice_tui.demo``) is a well-behaved provider; this one is an
attacker or a broken proxy. It speaks just enough HTTP/1.1 to be reached by
httpx, then does what the test says: huge or endless bodies, gzip bombs, a byte
a second, redirects, escape sequences in any field, pages that never end.

    def test_x(hostile: HostileServer) -> None:
        hostile.respond = json_reply({"invoices": []}, status=302,
                                     headers={"Location": "https://elsewhere.example/"})
        account = unleash_account(hostile)
        ...
        assert hostile.requests[0].path == "/api/admin/invoices/list"

Responders are plain functions ``(request, connection) -> None`` that write to
the socket; the helpers below build the common ones. Every loop here is bounded
by the client going away or the server closing, so nothing outlives its test.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from invoice_tui.config import AccountConfig
from invoice_tui.demo.keys import private_key_pem
from invoice_tui.fs import write_atomic

HEAD_LIMIT = 64 * 1024  # request head bytes we read at most


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def endpoint(self) -> str:
        """The last path segment without the query (``GetAccountInvoices``, ``list``)."""
        return self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


Responder = Callable[[Request, socket.socket], None]


@dataclass
class HostileServer:
    """A threaded loopback server; set ``respond`` to script its answers."""

    respond: Responder = field(default_factory=lambda: json_reply({}))
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="hostile", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def stopped(self) -> threading.Event:
        """Set when the server closes: endless responders stop on it."""
        return self._stopped

    def close(self) -> None:
        """Stop accepting, close every open connection, wait for the accept loop."""
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                _close(connection)
        self._thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the server loop -----------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(30)
        buffer = b""
        try:
            while not self._stopped.is_set():
                request, buffer = _read_request(connection, buffer)
                if request is None:
                    return
                self.requests.append(request)
                self.respond(request, connection)
                if request.headers.get("connection", "").lower() == "close":
                    return
        except (OSError, ValueError):
            return  # the client went away or sent garbage: nothing to report
        finally:
            _close(connection)


def _close(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()


def _read_request(connection: socket.socket, buffer: bytes) -> tuple[Request | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > HEAD_LIMIT:
            raise ValueError("request head too long")
        chunk = connection.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(buffer) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    body, buffer = buffer[:length], buffer[length:]
    return Request(method, path, headers, body), buffer


# --- responders ------------------------------------------------------------------------

_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other",
            304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
            400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 500: "Server Error"}


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(body: bytes = b"", status: int = 200, headers: Mapping[str, str] | None = None,
          content_type: str = "application/json") -> Responder:
    """A complete response with ``Content-Length`` (the connection stays open)."""
    def respond(_: Request, connection: socket.socket) -> None:
        sent = {"Content-Type": content_type, "Content-Length": str(len(body)),
                **(headers or {})}
        connection.sendall(_head(status, sent) + body)
    return respond


def json_text(payload: object) -> bytes:
    """JSON bytes; non-ASCII and control characters are kept raw (what a hostile server sends)."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def json_reply(payload: object, status: int = 200,
               headers: Mapping[str, str] | None = None) -> Responder:
    """``payload`` as a JSON response."""
    return reply(json_text(payload), status, headers)


def raw(data: bytes) -> Responder:
    """Exactly these bytes, then close the connection."""
    def respond(_: Request, connection: socket.socket) -> None:
        connection.sendall(data)
        _close(connection)
    return respond


def huge(size: int, content_type: str = "application/json") -> Responder:
    """A body of ``size`` bytes announced with Content-Length, streamed (never held in memory)."""
    block = b" " * 65536

    def respond(_: Request, connection: socket.socket) -> None:
        connection.sendall(_head(200, {"Content-Type": content_type,
                                       "Content-Length": str(size)}))
        left = size
        while left > 0:
            piece = block[: min(left, len(block))]
            connection.sendall(piece)
            left -= len(piece)
    return respond


def endless_chunked(stop: threading.Event, seconds: float = 60.0) -> Responder:
    """A chunked body that never ends (until the client goes, ``stop`` is set, or ``seconds``)."""
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)

    def respond(_: Request, connection: socket.socket) -> None:
        connection.sendall(_head(200, {"Content-Type": "application/json",
                                       "Transfer-Encoding": "chunked"}))
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            connection.sendall(chunk)
    return respond


def gzip_bomb(decompressed: int) -> Responder:
    """A small gzip body (``Content-Encoding: gzip``) that inflates to ``decompressed`` bytes."""
    body = _bomb(decompressed)

    def respond(_: Request, connection: socket.socket) -> None:
        connection.sendall(_head(200, {"Content-Type": "application/json",
                                       "Content-Encoding": "gzip",
                                       "Content-Length": str(len(body))}) + body)
    return respond


def _bomb(decompressed: int) -> bytes:
    # After a full flush every 1 MB of spaces compresses to the same bytes: make that
    # block once and repeat it (a gigabyte in about a second, not in a minute); the
    # trailer's CRC and size still cover the whole, so the stream stays valid gzip.
    block = b" " * (1 << 20)
    full, rest = divmod(decompressed, len(block))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    parts = []
    crc = 0
    for count in (1, full - 1) if full else ():
        if count > 0:
            parts.append((compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH))
                         * count)
    for _ in range(full):
        crc = zlib.crc32(block, crc)
    parts.append(compressor.compress(block[:rest]))
    crc = zlib.crc32(block[:rest], crc)
    parts.append(compressor.flush()[:-8])  # its trailer only covers what this compressor saw
    parts.append(struct.pack("<II", crc, decompressed & 0xFFFFFFFF))
    return b"".join(parts)


def drip(stop: threading.Event, interval: float = 1.0, seconds: float = 60.0,
         byte: bytes = b" ") -> Responder:
    """Headers at once, then one body byte per ``interval`` (each read succeeds in time).

    Chunked, with no Content-Length: nothing announces a size a limit could refuse, so
    only a whole-request deadline ends it.
    """
    chunk = b"%x\r\n%s\r\n" % (len(byte), byte)

    def respond(_: Request, connection: socket.socket) -> None:
        connection.sendall(_head(200, {"Content-Type": "application/json",
                                       "Transfer-Encoding": "chunked"}))
        deadline = time.monotonic() + seconds
        while not stop.wait(interval) and time.monotonic() < deadline:
            connection.sendall(chunk)
    return respond


def by_endpoint(routes: Mapping[str, Responder], default: Responder | None = None) -> Responder:
    """Dispatch on :attr:`Request.endpoint` (e.g. ``GetAccountInvoices`` / ``GetAccountInfo``)."""
    fallback = default or reply(b'{"error": {"code": 103, "msg": "Unknown command"}}')

    def respond(request: Request, connection: socket.socket) -> None:
        routes.get(request.endpoint, fallback)(request, connection)
    return respond


def dynamic(make: Callable[[Request], Responder]) -> Responder:
    """A responder chosen per request (e.g. a page built from the request's offset)."""
    def respond(request: Request, connection: socket.socket) -> None:
        make(request)(request, connection)
    return respond


def form(request: Request) -> dict[str, str]:
    """The request's form body (``count``, ``offset``, …) as a dict."""
    return dict(parse_qsl(request.body.decode("ascii", "replace")))


# --- accounts pointed at the server ------------------------------------------------------

HOSTILE_TOKEN = "user:hostile-secret-token-0123456789abcdef"


def unleash_account(server: HostileServer, name: str = "unleash-hostile",
                    token: str = HOSTILE_TOKEN) -> AccountConfig:
    """An Unleash account whose instance URL is the hostile server."""
    options = {"name": name, "provider": "unleash", "base_url": server.url, "token": token}
    return AccountConfig(name=name, provider="unleash", options=options)


def voximplant_account(server: HostileServer, directory: Path,
                       name: str = "vox-hostile") -> AccountConfig:
    """A Voximplant account (a real key file, mode 0600) whose base_url is the hostile server."""
    path = directory / f"{name}-credentials.json"
    write_atomic(path, json.dumps({
        "account_email": "hostile@example.com", "account_id": 424242,
        "key_id": "hostile-key", "private_key": private_key_pem(name),
    }).encode(), 0o600)
    options = {"name": name, "provider": "voximplant", "credentials": str(path),
               "base_url": f"{server.url}/platform_api"}
    return AccountConfig(name=name, provider="voximplant", options=options)


def vox_invoice(invoice_id: int, **overrides: Any) -> dict[str, Any]:
    """One well-formed Voximplant AccountInvoice, with ``overrides`` applied on top."""
    invoice: dict[str, Any] = {
        "invoice_id": invoice_id, "invoice_number": f"H-{invoice_id}",
        "invoice_date": "2026-10-01", "status": "committed",
        "period": {"from": "2026-09-01", "to": "2026-09-30"},
        "amount": {"total_amount": 12, "tax_amount": 2, "amount_to_pay": 12,
                   "discount_amount": 0, "currency": "USD"},
        "rows": [],
    }
    invoice.update(overrides)
    return invoice


def vox_page(invoices: Iterable[dict[str, Any]], total_count: object) -> Responder:
    """A GetAccountInvoices answer."""
    result = list(invoices)
    return json_reply({"result": result, "total_count": total_count, "count": len(result)})

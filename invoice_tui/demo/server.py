"""The loopback HTTP emulator of the Voximplant and Unleash billing APIs (SPEC §1, §5).

A stdlib ``ThreadingHTTPServer`` in a daemon thread, speaking HTTP/1.1 with
keep-alive. Each request: route → identify the account → log → latency →
injected fault (if one matches) → the provider's real behaviour, errors in
the provider's real shape.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import html
import json
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from . import keys
from .data import (
    ALL_ACCOUNTS,
    DEMO_ACCOUNTS,
    DemoAccount,
    VoximplantInvoices,
    demo_account,
    find_unleash_invoice,
    unleash_invoices,
    voximplant_account_info,
)
from .faults import Fault
from .wire import invoice_pdf, json_bytes

#: Allowed clock skew for a token's ``iat`` before it counts as "issued in the future".
IAT_SKEW_SECONDS = 5
MAX_TOKEN_TTL = 3600
UNLEASH_INVOICES_PATH = "/api/admin/invoices/list"

VOX_MESSAGES: Mapping[int, str] = {
    2: "Internal error",
    100: "Authorization failed",
    101: "Invalid arguments",
    103: "Unknown command",
    104: "Forbidden: the service account has no role for this command",
    162: "Try again later",
    340: "Rate limit exceeded",
    416: "Repeat the request after 1 seconds",
    433: "Invalid key id",
    447: "Invalid token format",
    454: "Token TTL is too long",
    455: "Token is issued in the future",
    456: "Token expired",
    484: "Probable resend, try later",
}

_HTML_PROXY_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head>"
    b"<body><h1>Network access requires sign-in</h1>"
    b"<p>Please sign in to the corporate proxy to continue.</p></body></html>\n"
)


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _ActiveFault:
    fault: Fault
    remaining: int  # -1: forever


@dataclass(frozen=True, slots=True)
class _Route:
    kind: str  # "vox", "unleash", "page", "index", "missing"
    account: DemoAccount | None = None
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_api(self) -> bool:
        return self.kind in ("vox", "unleash")


class _VoxError(Exception):
    def __init__(self, code: int, msg: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.msg = msg or VOX_MESSAGES.get(code, "Error")


def vox_error_body(code: int, msg: str | None = None) -> bytes:
    """A Voximplant error object (sent with HTTP 200, like the real API)."""
    text = msg or VOX_MESSAGES.get(code, "Error")
    return json_bytes({"error": {"msg": text, "code": code}})


def unleash_error_body(name: str, message: str) -> bytes:
    """An Unleash error in its real shape: ``{"id", "name", "message", "details"}``."""
    return json_bytes({"id": str(uuid.uuid4()), "name": name, "message": message,
                       "details": [{"message": message}]})


class DemoServer:
    """The emulator: start it, point providers at :attr:`url`, stop it.

    ``latency_ms`` is added to every request; ``invoice_count`` overrides how many
    invoices each demo Voximplant account has (up to 100 000+, built lazily);
    ``count_cap`` caps the page size GetAccountInvoices honours (``None``: no cap);
    ``today`` fixes "now" for the data (default: the real date at construction).
    ``log`` receives one line per request (method, path, status — never a secret).
    ``latency_ms`` and ``count_cap`` may be changed while it runs.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: int = 0,
        invoice_count: int | None = None,
        count_cap: int | None = 50,
        *,
        today: dt.date | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.count_cap = count_cap
        self.invoice_count = invoice_count
        self.today = today or dt.date.today()
        self.log = log
        self.request_log: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        self._faults: list[_ActiveFault] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._vox: dict[str, VoximplantInvoices] = {
            a.name: VoximplantInvoices(a, self.today, invoice_count)
            for a in DEMO_ACCOUNTS if a.provider == "voximplant"
        }
        self._by_kid = {a.key_id: a for a in DEMO_ACCOUNTS if a.provider == "voximplant"}

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> DemoServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("the demo server is already running")
        for name in self._vox:  # make the keys now, not inside the first request
            keys.public_key(name)
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
            name=f"demo-server:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and join the thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- addresses ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self._httpd is None:
            raise RuntimeError("the demo server is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def voximplant_base_url(self) -> str:
        """The Voximplant Management API base URL (``…/platform_api``)."""
        return f"{self.url}/platform_api"

    def voximplant_invoice_count(self, name: str) -> int:
        """How many invoices the demo Voximplant account ``name`` serves (``KeyError``: none)."""
        return self._vox[name].total_count

    def unleash_base_url(self, name: str) -> str:
        """The instance URL (with its path prefix) of the demo Unleash instance ``name``."""
        account = demo_account(name)
        if account.provider != "unleash" or account.prefix is None:
            raise KeyError(f"{name} is not a demo Unleash instance")
        return f"{self.url}{account.prefix}"

    # --- faults ------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        """Inject ``fault`` for the next matching requests (safe from any thread)."""
        with self._lock:
            self._faults.append(_ActiveFault(fault, fault.times))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> list[tuple[Fault, int]]:
        """Faults not used up yet, with how many requests each still hits (-1: forever)."""
        with self._lock:
            return [(active.fault, active.remaining) for active in self._faults]

    def _take_fault(self, route: _Route, pdf_of: str | None = None) -> Fault | None:
        """The first fault matching this request (one use of it taken).

        ``pdf_of`` is the invoice whose PDF the request downloads (``None``: not a PDF
        download). A fault scoped to an invoice hits only that download; the others hit
        API requests only, as they always did (an invoice's page is no API).
        """
        name = route.account.name if route.account else None
        with self._lock:
            for active in self._faults:
                fault = active.fault
                if fault.account is not None and fault.account != name:
                    continue
                if fault.invoice is not None and fault.invoice != pdf_of:
                    continue
                if fault.invoice is None and not route.is_api:
                    continue
                if fault.kind == "vox_error" and route.kind != "vox":
                    continue
                if active.remaining > 0:
                    active.remaining -= 1
                    if active.remaining == 0:
                        self._faults.remove(active)
                return fault
        return None

    # --- request handling (called from handler threads) --------------------------------

    def _record(self, method: str, path: str, account: DemoAccount | None) -> None:
        with self._lock:
            self.request_log.append((method, path, account.name if account else None))

    def _route(self, path: str, headers: Mapping[str, str]) -> _Route:
        if path == "/platform_api" or path.startswith("/platform_api/"):
            # "" when the command is not in the path: the Node SDK posts every call to
            # /platform_api with the command as the body field ``cmd``.
            command = path[len("/platform_api"):].strip("/")
            return _Route("vox", self._vox_account_hint(headers.get("Authorization")), command)
        if path.startswith("/invoices/"):
            return _Route("page", command=path[len("/invoices/"):])
        if path in ("", "/"):
            return _Route("index")
        for account in ALL_ACCOUNTS:
            prefix = account.prefix
            if account.provider != "unleash" or prefix is None:
                continue
            if path == prefix or path.startswith(prefix + "/"):
                rest = path[len(prefix):]
                # A trailing slash is fine; a doubled one (naive URL joining) is a 404.
                if rest.removesuffix("/") == UNLEASH_INVOICES_PATH:
                    return _Route("unleash", account)
                return _Route("missing", account)
        return _Route("missing")

    def _vox_account_hint(self, authorization: str | None) -> DemoAccount | None:
        # Unverified: only to scope faults and the request log before authentication.
        token = _bearer(authorization)
        if token is None:
            return None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            return None
        return self._by_kid.get(kid) if isinstance(kid, str) else None

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` has begun (pending answers are dropped)."""
        return self._stopping.is_set()

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def handle(self, method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> _Response | None:
        """Answer one request; ``None`` means drop the connection without an answer."""
        parts = urlsplit(target)
        route = self._route(parts.path, headers)
        self._record(method, parts.path, route.account)
        self._wait(self.latency_ms / 1000)
        # Only with faults waiting: parsing the parameters twice would slow the benchmarks.
        pdf_of = self._pdf_subject(route, parts.query, headers, body) if self._faults else None
        fault = self._take_fault(route, pdf_of) if route.is_api or pdf_of else None
        if fault is not None:
            if fault.kind == "drop":
                return None
            if fault.kind == "slow":
                self._wait(fault.seconds)
            else:
                response = self._fault_response(fault, route)
                if response is not None:
                    return response
        response = self._answer(route, method, parts.query, headers, body)
        if fault is not None and fault.kind == "malformed_json":
            cut = response.body[: max(1, len(response.body) // 2)]
            return _Response(200, cut, "application/json; charset=utf-8")
        return response

    @staticmethod
    def _pdf_subject(route: _Route, query: str, headers: Mapping[str, str],
                     body: bytes) -> str | None:
        """The invoice whose PDF this request downloads, or ``None`` (for fault scoping)."""
        if route.kind == "page":
            return route.command.removesuffix(".pdf") if route.command.endswith(".pdf") else None
        if route.kind != "vox":
            return None
        try:
            params = _params(query, headers, body)
        except _VoxError:
            return None  # answered as the API answers it
        if (route.command or params.get("cmd", "")) != "DownloadInvoice":
            return None
        return params.get("invoice_id") or None

    def _fault_response(self, fault: Fault, route: _Route) -> _Response | None:
        if fault.kind == "huge":
            # Looks like the start of a PDF, then goes on far past any size limit.
            size = int(fault.size_mb * 1024 * 1024)
            return _Response(200, b"%PDF-1.4\n" + b"0" * max(0, size - 9),
                             "application/octet-stream")
        if fault.kind == "http_status":
            status = fault.status or 503
            headers: tuple[tuple[str, str], ...] = ()
            if fault.retry_after is not None:
                headers = (("Retry-After", f"{fault.retry_after:g}"),)
            if route.kind == "unleash":
                body = unleash_error_body("HttpError", f"Injected HTTP {status}")
            elif route.kind == "page":  # a file host's error page, not an API's error object
                return _Response(status, f"<!DOCTYPE html><title>Error {status}</title>\n"
                                 .encode(), "text/html; charset=utf-8", headers)
            else:
                body = json_bytes({"error": {"msg": f"HTTP {status}", "code": 2}})
            return _Response(status, body, headers=headers)
        if fault.kind == "vox_error":
            code = fault.code if fault.code is not None else 2
            msg = VOX_MESSAGES.get(code, "Error")
            if code == 416:  # the real message names the delay
                msg = f"Repeat the request after {fault.retry_after or 1:g} seconds"
            error = {"msg": msg, "code": code}
            return _Response(200, json_bytes({"error": error, "errors": [error]}))
        if fault.kind == "html":
            return _Response(200, _HTML_PROXY_PAGE, "text/html; charset=utf-8")
        return None  # malformed_json: transforms the real answer

    def _answer(self, route: _Route, method: str, query: str, headers: Mapping[str, str],
                body: bytes) -> _Response:
        if route.kind == "vox":
            try:
                params = _params(query, headers, body)
                command = route.command or params.get("cmd", "")
                return self._voximplant(command, headers.get("Authorization"), params)
            except _VoxError as error:
                return _Response(200, vox_error_body(error.code, error.msg))
        if route.kind == "unleash" and route.account is not None:
            if method != "GET":
                return _Response(405, unleash_error_body("MethodNotAllowed", "Use GET."))
            return self._unleash(route.account, headers.get("Authorization"))
        if route.kind == "page":
            return self._invoice_page(route.command)
        if route.kind == "index":
            return self._index_page()
        return _Response(404, unleash_error_body(
            "NotFoundError", "Could not find the requested resource."))

    # --- Voximplant --------------------------------------------------------------------

    def _authenticate(self, authorization: str | None) -> DemoAccount:
        token = _bearer(authorization)
        if not token:
            raise _VoxError(100)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _VoxError(447) from None
        kid = header.get("kid")
        account = self._by_kid.get(kid) if isinstance(kid, str) else None
        if account is None:
            raise _VoxError(433)
        try:
            claims = jwt.decode(
                token, keys.public_key(account.name), algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "verify_iss": False, "verify_aud": False, "verify_sub": False,
                         "verify_jti": False})
        except jwt.InvalidSignatureError:
            raise _VoxError(100) from None
        except jwt.InvalidTokenError:
            raise _VoxError(447) from None
        if not _issuer_is(claims.get("iss"), account):
            raise _VoxError(100)
        iat, exp = claims.get("iat"), claims.get("exp")
        if not _is_number(iat) or not _is_number(exp):
            raise _VoxError(447)
        assert isinstance(iat, int | float) and isinstance(exp, int | float)
        if exp - iat > MAX_TOKEN_TTL:
            raise _VoxError(454)
        now = time.time()
        if iat > now + IAT_SKEW_SECONDS:
            raise _VoxError(455)
        if exp < now:
            raise _VoxError(456)
        return account

    def _voximplant(self, command: str, authorization: str | None,
                    params: Mapping[str, str]) -> _Response:
        handlers = {"GetAccountInvoices", "GetAccountInfo", "DownloadInvoice"}
        if command not in handlers:
            raise _VoxError(103, f"Unknown command {command!r}")
        account = self._authenticate(authorization)
        invoices = self._vox[account.name]
        if command == "GetAccountInfo":
            return _Response(200, json_bytes({"result": voximplant_account_info(account)}))
        if command == "DownloadInvoice":
            invoice_id = _int_param(params, "invoice_id", None)
            index = invoices.index_of(invoice_id) if invoice_id is not None else None
            if index is None:
                raise _VoxError(101, "Invalid argument 'invoice_id': no such invoice")
            invoice = invoices.invoice(index)
            pdf = invoice_pdf(f"Voximplant invoice {invoice['invoice_number']}", [
                f"Account: {account.name} ({account.account_id})",
                f"Date: {invoice['invoice_date']}",
                f"Period: {invoice['period']['from']} - {invoice['period']['to']}",
                f"Total: {invoice['amount']['total_amount']} {account.currency}",
            ])
            # The raw file as the real API sends it: bytes, not a typed PDF document.
            return _Response(200, pdf, "application/octet-stream", (
                ("Content-Disposition",
                 f'attachment; filename="{invoice["invoice_number"]}.pdf"'),))
        count = _int_param(params, "count", 20)
        offset = _int_param(params, "offset", 0)
        assert count is not None and offset is not None
        cap = self.count_cap
        if cap is not None:
            count = min(count, cap)
        return _Response(200, invoices.page_json(offset, count))

    # --- Unleash -----------------------------------------------------------------------

    def _unleash(self, account: DemoAccount, authorization: str | None) -> _Response:
        token = _bearer(authorization) if authorization else None
        if authorization and token is None:
            token = authorization.strip()
        if not token:
            return _Response(401, unleash_error_body(
                "AuthenticationRequired", "You must log in to use Unleash."))
        if token == account.client_token or _looks_like_client_token(token):
            return _Response(403, unleash_error_body(
                "NoAccessError",
                "You don't have the required permissions to perform this operation. "
                "Frontend and backend tokens cannot use the Admin API."))
        if token != account.token:
            return _Response(401, unleash_error_body(
                "InvalidTokenError", "The provided token is invalid or has expired."))
        if not account.enterprise:
            return _Response(404, unleash_error_body(
                "NotFoundError", "Could not find the requested resource."))
        return _Response(200, json_bytes(unleash_invoices(account, self.today, self.url)))

    # --- pages -------------------------------------------------------------------------

    def _invoice_page(self, name: str) -> _Response:
        is_pdf = name.endswith(".pdf")
        invoice_id = name.removesuffix(".pdf")
        found = find_unleash_invoice(invoice_id, self.today, self.url)
        if found is None:
            return _Response(404, b"<!DOCTYPE html><title>Not found</title><p>No such invoice.\n",
                             "text/html; charset=utf-8")
        account, invoice = found
        details = [f"Instance: {account.name}", f"Status: {invoice['status']}",
                   f"Subtotal: {invoice['subtotal']} {invoice['currency']}",
                   f"Tax: {invoice['taxAmount']} {invoice['currency']}",
                   f"Total: {invoice['totalAmount']} {invoice['currency']}"]
        title = f"Unleash invoice {invoice['monthText']}"
        if is_pdf:
            return _Response(200, invoice_pdf(title, details), "application/pdf")
        items = "".join(f"<li>{html.escape(d)}</li>" for d in details)
        page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                f"</title></head><body><h1>{html.escape(title)}</h1><ul>{items}</ul>"
                f"<p><a href=\"{html.escape(invoice_id)}.pdf\">PDF</a></p></body></html>\n")
        return _Response(200, page.encode("utf-8"), "text/html; charset=utf-8")

    def _index_page(self) -> _Response:
        items = [f"<li>Voximplant: {html.escape(self.voximplant_base_url)}</li>"]
        items += [f"<li>Unleash {html.escape(a.name)}: {html.escape(self.url + (a.prefix or ''))}"
                  "</li>" for a in DEMO_ACCOUNTS if a.provider == "unleash"]
        page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>invoice-tui demo"
                "</title></head><body><h1>invoice-tui demo emulator</h1><ul>"
                + "".join(items) + "</ul></body></html>\n")
        return _Response(200, page.encode("utf-8"), "text/html; charset=utf-8")


# --- helpers -------------------------------------------------------------------------------

def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _looks_like_client_token(token: str) -> bool:
    # Client (backend/frontend) tokens look like "<project>:<environment>.<secret>";
    # admin tokens use "*:*." and PATs "user:…".
    project, sep, rest = token.partition(":")
    environment, dot, _ = rest.partition(".")
    return bool(sep and dot and project and environment and environment != "*")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _issuer_is(iss: object, account: DemoAccount) -> bool:
    """Whether a token's ``iss`` names ``account``: its id as a string or as a JSON number.

    SDK versions differ (the Node SDK signs the number from the key file, the
    Python one a string); the real server takes both, so the emulator does too.
    """
    if isinstance(iss, str):
        return iss == str(account.account_id)
    return isinstance(iss, int) and not isinstance(iss, bool) and iss == account.account_id


def _params(query: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """Query parameters, overridden by the body's fields.

    The docs show a query string; the SDKs send a body: form-urlencoded (Python),
    multipart/form-data (Node, Go, PHP) or JSON. All are accepted, as by the real API.
    """
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    content_type = headers.get("Content-Type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if media_type == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", errors="replace")
        params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
    elif media_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise _VoxError(101, "Invalid arguments: the JSON body does not parse") from None
        if isinstance(data, dict):
            params.update({str(k): _json_param(v) for k, v in data.items()})
    elif media_type == "multipart/form-data":
        params.update(_multipart_fields(content_type, body))
    return params


def _json_param(value: object) -> str:
    # JSON scalars as the form would carry them: 20 → "20", true → "true".
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _multipart_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The named fields of a multipart/form-data body, each value as text.

    Parsed with the stdlib MIME parser behind a synthetic header carrying the
    request's Content-Type (and so its boundary).
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        head.encode("latin-1", errors="replace") + body)
    if not message.is_multipart() or message.defects:
        raise _VoxError(101, "Invalid arguments: the multipart body does not parse")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True)
        value = payload if isinstance(payload, bytes) else b""
        fields[name] = value.decode("utf-8", errors="replace")
    return fields


def _int_param(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _VoxError(101, f"Invalid argument '{name}': {raw[:20]!r} is not a number") from None
    if value < 0:
        raise _VoxError(101, f"Invalid argument '{name}': must not be negative")
    return value


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many clients connect at once (a bulk download: 8 per account, every account): the
    # default backlog of 5 drops connections under that burst.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], demo: DemoServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.demo = demo
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, dropped connection) is normal here, not a bug.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "invoice-tui-demo/1"
    # An idle keep-alive connection is closed after this long, freeing its thread.
    timeout = 60
    # Buffered writes + TCP_NODELAY: headers and body leave as one segment, so a
    # keep-alive client never waits out a delayed ACK (~40 ms per request).
    wbufsize = -1
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # requests are reported through DemoServer.log instead

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length else 0
        except ValueError:
            size = -1
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # Unread chunked bodies would desynchronise the keep-alive stream.
            self.close_connection = True
            self.send_error(411, "Length Required")
            return
        if not 0 <= size <= 1_000_000:
            self.close_connection = True
            self.send_error(400, "Bad Content-Length")
            return
        body = self.rfile.read(size) if size else b""
        headers = {key: value for key, value in self.headers.items()}
        demo = self.server.demo
        try:
            response = demo.handle(self.command, self.path, _CaseInsensitive(headers), body)
        except Exception:  # a bug in the emulator must not hang the client
            traceback.print_exc()
            response = _Response(500, json_bytes({"error": {"msg": "emulator bug", "code": 2}}))
        if response is None or demo.stopping:
            self.close_connection = True
            if demo.log:
                demo.log(f"{self.command} {urlsplit(self.path).path} -> dropped")
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)
        if demo.log:
            demo.log(f"{self.command} {urlsplit(self.path).path} -> {response.status}")


class _CaseInsensitive(dict[str, str]):
    """Header lookup ignoring case (HTTP header names are case-insensitive)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__({key.lower(): value for key, value in headers.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

"""HTTP plumbing every provider shares: URL rules, retries, JSON decoding, error mapping.

Each kind of failure gets its own one-line reason and hint (as Posting does),
so what reaches the user is always a :class:`ProviderError`, never a traceback,
and never a secret: callers pass theirs in ``secrets`` (every failure's reason and
hint are redacted with :func:`~invoice_tui.text.redact`), and server text in a
message goes through :func:`~invoice_tui.text.sanitize` (``ProviderError`` does it).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import json
import random
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from ..text import redact, sanitize
from .base import FetchOptions, ProviderError

T = TypeVar("T")

_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
_INLINE_BODY_LIMIT = 64 * 1024  # bytes; smaller bodies parse faster than a thread hop
_MB = 1024 * 1024
_INFLATE_PIECE = 256 * 1024  # most bytes one inflate step may produce (bounds a gzip bomb)
#: The only encodings we can inflate in bounded steps; asking for just these keeps
#: servers from sending others (brotli, zstd) that we would have to refuse.
_ACCEPT_ENCODING = "gzip, deflate"
REDIRECT_HINT = "check base_url (use the instance URL the browser ends on)"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: object, *, allow_query: bool = False) -> str | None:
    """Why ``url`` may not be used as an API address, or ``None`` when it is fine.

    Rules (SPEC §3): ``https://`` always, ``http://`` only for loopback hosts;
    a host is required; no ``user:password@`` (a secret in a URL leaks into logs);
    no query or fragment unless ``allow_query`` (a link, not a base the API
    path is appended to). Messages never echo a URL's userinfo or query.
    """
    if not isinstance(url, str) or not url.strip():
        return "must be a URL such as https://example.com"
    shown = repr(_shown_url(url))
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"{shown} is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return f"{shown} is not an http(s) URL with a host — use https://host/path"
    if parts.username is not None or parts.password is not None:
        return "must not contain user:password@ — put credentials in the token settings"
    if not allow_query and ("?" in url or "#" in url):
        # The API path is appended to base_url: a query would swallow it.
        return (f"{shown} has a query string or fragment (?… or #…) — "
                "use the plain address, e.g. https://host/path")
    if parts.scheme == "http" and not is_loopback_host(host):
        return (f"{shown} uses http:// — use https:// (plain http is only allowed "
                "for loopback hosts: 127.0.0.1, ::1, localhost)")
    return None


_USERINFO = re.compile(r"(//)[^/?#]*@")


def _shown_url(url: str) -> str:
    # A URL in a message loses what may hold a secret: user:password@ and ?query#fragment.
    shown = _USERINFO.sub(r"\1…@", url.strip())
    for mark in "?#":
        if mark in shown:
            shown = shown[: shown.index(mark)] + mark + "…"
    return shown


def join_url(base: str, path: str) -> str:
    """``base`` (with or without a trailing slash, maybe a path prefix) + ``/path``."""
    return f"{base.strip().rstrip('/')}/{path.lstrip('/')}"


def host_of(url: str) -> str:
    """The host part of ``url`` for messages (never the path or query)."""
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; the server's Retry-After wins, capped.

    Tests inject tiny values and a fake ``sleep`` so nothing waits for long.
    """

    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = field(default=_default_sleep, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_max))
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** retry))
        return float(self.jitter() * ceiling)


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes | str) -> Any:
    """JSON with every non-integer number as an exact ``Decimal``; NaN/Infinity rejected."""
    return json.loads(data, parse_float=Decimal, parse_constant=_no_constants)


def decode_json(response: httpx.Response, service: str) -> Any:
    """The response body as JSON (numbers exact); a :class:`ProviderError` when it is not JSON."""
    body = response.content
    try:
        return loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        pass
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type or body.lstrip().startswith(b"<"):
        raise ProviderError(
            f"{service} answered with an HTML page instead of JSON (HTTP {response.status_code})",
            "check base_url: a proxy, a login page or a wrong path answers with HTML",
        )
    if not body.strip():
        raise ProviderError(
            f"{service} sent an empty response (HTTP {response.status_code})",
            "try again later; if it persists, check base_url",
        )
    raise ProviderError(
        f"{service} sent malformed JSON (HTTP {response.status_code}, {len(body)} bytes)",
        "the response was cut off or garbled; try again, and check any proxy in between",
    )


def transient_status_error(response: httpx.Response, service: str) -> ProviderError | None:
    """A retryable error for HTTP 429 and 5xx (with the server's Retry-After), else ``None``."""
    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    if status == 429:
        return ProviderError(
            f"{service} rate limit hit (HTTP 429)",
            "wait a minute and refresh, or lower [settings] concurrency",
            retryable=True, retry_after=retry_after,
        )
    if status >= 500:
        return ProviderError(
            f"{service} server error (HTTP {status})",
            "the provider is having trouble; try again later",
            retryable=True, retry_after=retry_after,
        )
    return None


def deadline_error(service: str, url: str, timeout: float) -> ProviderError:
    """The request (with its retries) did not finish within ``[settings] timeout``."""
    return ProviderError(
        f"{service} ({host_of(url)}) did not answer within {timeout:g} s",
        "try again later, or raise [settings] timeout",
    )


def size_error(service: str, limit: int) -> ProviderError:
    """The body grew past ``limit`` decompressed bytes (``[settings] max_response_mb``)."""
    return ProviderError(
        f"{service} response larger than {limit / _MB:g} MB",
        "raise [settings] max_response_mb if this account really has that much data, "
        "else check base_url",
    )


def redirect_target(response: httpx.Response) -> str | None:
    """The absolute URL a 3xx ``Location`` points at (relative ones resolved), else ``None``."""
    location = str(response.headers.get("location", "")).strip()
    if not location:
        return None
    try:
        return urljoin(str(response.url), location)
    except ValueError:
        return location


def _redirect_host(target: str | None) -> str:
    # Host only: a redirect's path or query may carry a session id or a signed token.
    try:
        host = urlsplit(target).hostname if target else None
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        return ""
    return sanitize(host, limit=100) if host else ""


def unexpected_status_error(response: httpx.Response, service: str,
                            redirect_hint: str = REDIRECT_HINT) -> ProviderError | None:
    """The error for a reply that is neither 2xx nor 4xx/5xx, else ``None``.

    A 3xx is never data (a login page's redirect with ``{"invoices": []}`` must not
    wipe a cache): it names the status and the target's host only, since a path or
    query may carry a session id. 1xx and statuses past 599 are errors too.
    """
    status = response.status_code
    if 200 <= status < 300 or 400 <= status < 600:
        return None
    if 300 <= status < 400:
        host = _redirect_host(redirect_target(response))
        if host:
            return ProviderError(f"{service} redirected to {host} (HTTP {status})", redirect_hint)
        return ProviderError(f"{service} answered with a redirect without a usable target "
                             f"(HTTP {status})", redirect_hint)
    return ProviderError(f"{service} answered with an unexpected HTTP status {status}",
                         "check base_url; a proxy in between may be misbehaving")


def transport_error(exc: httpx.HTTPError | httpx.InvalidURL, service: str, url: str,
                    timeout: float) -> ProviderError:
    """One clear reason + hint per kind of network failure (retryable where it is transient)."""
    host = host_of(url)
    if isinstance(exc, httpx.ConnectTimeout):
        return ProviderError(
            f"connecting to {service} ({host}) timed out after {timeout:g} s",
            "check your network connection, proxy and base_url",
        )
    if isinstance(exc, httpx.TimeoutException):
        return deadline_error(service, url, timeout)
    if isinstance(exc, httpx.ConnectError):
        if "ssl" in str(exc).lower() or "certificate" in str(exc).lower():
            return ProviderError(
                f"TLS certificate check failed for {host}",
                "if you are behind a corporate proxy, point SSL_CERT_FILE at its CA bundle",
            )
        return ProviderError(
            f"could not connect to {service} ({host})",
            "check base_url, your network, DNS and proxy settings",
        )
    if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc).lower():
        # httpx parses a redirect's Location even when not following it.
        return ProviderError(f"{service} ({host}) redirected to an invalid address",
                             REDIRECT_HINT)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ProviderError(
            f"{service} ({host}) closed the connection before answering",
            "a network hiccup or an overloaded server; try again",
            retryable=True,
        )
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return ProviderError(
            f"the connection to {service} ({host}) was dropped",
            "a network hiccup; try again",
            retryable=True,
        )
    if isinstance(exc, httpx.DecodingError):
        return ProviderError(
            f"{service} ({host}) sent a response that could not be decompressed",
            "a proxy in between may be garbling responses; try again",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ProviderError(
            f"{_shown_url(url)!r} is not a usable URL for {service}",
            "fix base_url in the config (https://host/path)",
        )
    return ProviderError(
        f"network error talking to {service} ({host}): {type(exc).__name__}",
        "check your network connection and try again",
    )


Headers = Mapping[str, str] | Callable[[], Mapping[str, str]]


class _Inflater:
    """One ``Content-Encoding`` layer (gzip or deflate), inflated in bounded steps.

    httpx inflates a whole network chunk at once: 64 KB of a gzip bomb become
    ~64 MB in one go. Here no step yields more than ``_INFLATE_PIECE`` bytes, so
    the size limit stops a bomb before it is in memory.
    """

    def __init__(self, encoding: str) -> None:
        # "deflate" is zlib-wrapped by the RFC, but some servers send it raw: try both.
        self._raw_fallback = encoding == "deflate"
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | (0 if self._raw_fallback else 16))

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The inflated pieces of ``data`` (a ``zlib.error`` for a garbled stream)."""
        while not self._inflate.eof:
            try:
                piece = self._inflate.decompress(data, _INFLATE_PIECE)
            except zlib.error:
                if not self._raw_fallback:
                    raise
                self._raw_fallback = False
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._raw_fallback = self._raw_fallback and not data
            data = self._inflate.unconsumed_tail
            if piece:
                yield piece
            # A full piece may leave output pending inside zlib although all input is taken.
            if not data and len(piece) < _INFLATE_PIECE:
                return


def _inflaters(response: httpx.Response) -> list[_Inflater]:
    # Layers are listed in the order they were applied: undo them last to first.
    layers = [part.strip().lower()
              for part in response.headers.get("content-encoding", "").split(",")]
    inflaters = []
    for layer in reversed([part for part in layers if part and part != "identity"]):
        if layer not in ("gzip", "x-gzip", "deflate"):
            raise httpx.DecodingError(f"unsupported content-encoding {layer!r}")
        inflaters.append(_Inflater(layer))
    return inflaters


def _inflated(data: bytes, inflaters: list[_Inflater]) -> Iterator[bytes]:
    # Each layer inflates the previous one's pieces as they come: still bounded steps.
    if not inflaters:
        yield data
        return
    first, rest = inflaters[0], inflaters[1:]
    for piece in first.decode(data):
        yield from _inflated(piece, rest)


async def _read_body(response: httpx.Response, service: str, limit: int) -> bytes:
    """The decompressed body, read as it streams in; past ``limit`` bytes → :func:`size_error`."""
    try:
        body = response.content  # a transport that read it already (tests, wrappers)
    except httpx.ResponseNotRead:
        pass
    else:
        if len(body) > limit:
            raise size_error(service, limit)
        return body
    declared = response.headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise size_error(service, limit)  # no need to read what is announced too big
    inflaters = _inflaters(response)
    pieces: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_raw():
            for piece in _inflated(chunk, inflaters):
                size += len(piece)
                if size > limit:
                    raise size_error(service, limit)
                pieces.append(piece)
    except zlib.error as exc:
        raise httpx.DecodingError(str(exc)) from None
    return b"".join(pieces)


def _received(response: httpx.Response, body: bytes) -> httpx.Response:
    # What handlers get: the same status and headers, the body already decoded.
    headers = [(name, value) for name, value in response.headers.multi_items()
               if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx.Response(response.status_code, headers=headers, content=body,
                          request=response.request)


async def _exchange(client: httpx.AsyncClient, method: str, url: str, *, service: str,
                    options: FetchOptions, headers: Mapping[str, str] | None,
                    data: Mapping[str, str] | None, redirects: int,
                    redirect_hint: str) -> httpx.Response:
    """One attempt: send, follow allowed redirects, read the body within the size limit.

    Only 2xx, 4xx and 5xx replies come back; a 3xx that is not followed and any
    other status are a :class:`ProviderError` before the body is read. Followed
    hops send none of ``headers`` (they may hold a token) and must pass
    :func:`check_base_url`.
    """
    hops = 0
    sent = {**(headers or {}), "Accept-Encoding": _ACCEPT_ENCODING}
    while True:
        async with client.stream(method, url, headers=sent, data=data, timeout=options.timeout,
                                 follow_redirects=False) as response:
            target = redirect_target(response) if 300 <= response.status_code < 400 else None
            if target and hops < redirects and check_base_url(target, allow_query=True) is None:
                hops += 1
                url, sent = target, {"Accept-Encoding": _ACCEPT_ENCODING}
                if response.status_code not in (307, 308):  # these two keep method and body
                    method, data = "GET", None
                continue
            error = unexpected_status_error(response, service, redirect_hint)
            if error is not None:
                raise error
            body = await _read_body(response, service, options.max_response_bytes)
            return _received(response, body)


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    service: str,
    options: FetchOptions,
    policy: RetryPolicy,
    handle: Callable[[httpx.Response], T],
    headers: Headers | None = None,
    data: Mapping[str, str] | None = None,
    max_retries: int | None = None,
    secrets: Iterable[str] = (),
    redirects: int = 0,
    redirect_hint: str = REDIRECT_HINT,
    slot: contextlib.AbstractAsyncContextManager[object] | None = None,
) -> T:
    """Send one API request with retries; ``handle`` turns the response into a result.

    ``handle`` raises :class:`ProviderError` for error answers; those marked
    ``retryable`` (and dropped connections) are retried with :class:`RetryPolicy`
    backoff up to ``max_retries`` (default ``options.max_retries``) times. A
    final transient failure says how many attempts were made. ``headers`` may be
    a callable so each attempt gets fresh ones (e.g. a re-signed token).

    ``options.timeout`` is one wall-clock deadline for the whole logical request:
    connect, send, every read of every attempt, the waits between them. A wait
    that would end past it gives up at once with the last attempt's reason.
    Bodies are read streaming, decompressed, up to ``options.max_response_bytes``.
    Redirects are errors naming the target host, except up to ``redirects`` hops
    to URLs that :func:`check_base_url` accepts (links to files, e.g. PDFs).
    ``slot`` (e.g. an ``asyncio.Semaphore``) bounds the requests in flight: each attempt
    holds it from sending to the last byte of the body, never while ``handle`` parses
    the body or a retry waits.
    """
    retries = options.max_retries if max_retries is None else max(0, max_retries)
    secret_list = [s for s in secrets if s]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            sent_headers = headers() if callable(headers) else headers
            try:
                async with asyncio.timeout_at(deadline), slot or contextlib.nullcontext():
                    response = await _exchange(
                        client, method, url, service=service, options=options,
                        headers=sent_headers, data=data, redirects=redirects,
                        redirect_hint=redirect_hint)
            except TimeoutError:
                raise deadline_error(service, url, options.timeout) from None
            if len(response.content) > _INLINE_BODY_LIMIT:
                # Decoding and parsing a big page is CPU work: in a thread the event
                # loop (the TUI) keeps its turns while it runs.
                result = await asyncio.to_thread(handle, response)
            else:
                result = handle(response)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
            error = transport_error(exc, service, url, options.timeout)
        except ProviderError as exc:
            error = exc
        else:
            return result
        delay = policy.delay(attempt - 1, error.retry_after) if error.retryable else 0.0
        if not error.retryable or attempt > retries or loop.time() + delay >= deadline:
            if error.retryable:
                error = ProviderError(
                    f"gave up after {attempt} attempt{'s' if attempt != 1 else ''}: {error.reason}",
                    error.hint, retryable=True, retry_after=error.retry_after,
                )
            raise _redacted(error, secret_list) from None
        await policy.sleep(delay)


def _redacted(error: ProviderError, secrets: list[str]) -> ProviderError:
    # The reason and hint are sanitized already (by ProviderError), so a secret cannot
    # hide behind an escape sequence here; JWTs and "Bearer …" go even without secrets.
    return ProviderError(
        redact(error.reason, secrets), redact(error.hint, secrets),
        retryable=error.retryable, retry_after=error.retry_after,
    )

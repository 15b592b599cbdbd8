"""HTTP plumbing every provider shares: URL rules, retries, JSON decoding, error mapping.

Each kind of failure gets its own one-line reason and hint (as Posting does),
so what reaches the user is always a :class:`ProviderError`, never a traceback,
and never a secret: callers pass theirs in ``secrets`` (every failure's reason and
hint are redacted with :func:`~invoice_tui.text.redact`), and server text in a
message goes through :func:`~invoice_tui.text.sanitize` (``ProviderError`` does it).
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ..text import redact
from .base import FetchOptions, ProviderError

T = TypeVar("T")

_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
_INLINE_BODY_LIMIT = 64 * 1024  # bytes; smaller bodies parse faster than a thread hop


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
        return ProviderError(
            f"{service} ({host}) did not answer within {timeout:g} s",
            "try again later, or raise [settings] timeout",
        )
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
) -> T:
    """Send one API request with retries; ``handle`` turns the response into a result.

    ``handle`` raises :class:`ProviderError` for error answers; those marked
    ``retryable`` (and dropped connections) are retried with :class:`RetryPolicy`
    backoff up to ``max_retries`` (default ``options.max_retries``) times. A
    final transient failure says how many attempts were made. ``headers`` may be
    a callable so each attempt gets fresh ones (e.g. a re-signed token).
    """
    retries = options.max_retries if max_retries is None else max(0, max_retries)
    secret_list = [s for s in secrets if s]
    attempt = 0
    while True:
        attempt += 1
        try:
            sent_headers = headers() if callable(headers) else headers
            response = await client.request(
                method, url, headers=sent_headers, data=data, timeout=options.timeout,
            )
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
        if not error.retryable or attempt > retries:
            if error.retryable:
                error = ProviderError(
                    f"gave up after {attempt} attempt{'s' if attempt != 1 else ''}: {error.reason}",
                    error.hint, retryable=True, retry_after=error.retry_after,
                )
            raise _redacted(error, secret_list) from None
        await policy.sleep(policy.delay(attempt - 1, error.retry_after))


def _redacted(error: ProviderError, secrets: list[str]) -> ProviderError:
    # The reason and hint are sanitized already (by ProviderError), so a secret cannot
    # hide behind an escape sequence here; JWTs and "Bearer …" go even without secrets.
    return ProviderError(
        redact(error.reason, secrets), redact(error.hint, secrets),
        retryable=error.retryable, retry_after=error.retry_after,
    )

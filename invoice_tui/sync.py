"""Fetch orchestration: all accounts concurrently, progress events, cache saves (no UI here).

The signatures are a contract the UI codes against. Per-request retries and
page concurrency live in the providers (they know what is safe to repeat);
this module gives each account its own HTTP client, turns every failure into a
:class:`SyncFailed` carrying a one-line :class:`ProviderError`, and keeps
accounts independent of each other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import os
import re
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import certifi
import httpx

from . import __version__
from .cache import CachedAccount, InvoiceCache
from .config import AccountConfig, Config, Settings
from .fs import save_new_file
from .model import AccountSummary, Invoice
from .providers.base import FetchProgress, ProviderError

log = logging.getLogger(__name__)

USER_AGENT = f"invoice-tui/{__version__}"


@dataclass(frozen=True, slots=True)
class SyncStarted:
    """An account's sync began."""

    account: str


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """The provider reported progress (pages/invoices so far)."""

    account: str
    progress: FetchProgress


@dataclass(frozen=True, slots=True)
class SyncSucceeded:
    """Every invoice of the account arrived (and was saved to the cache, if one was given)."""

    account: str
    invoices: tuple[Invoice, ...]
    summary: AccountSummary
    synced_at: dt.datetime  # timezone-aware UTC
    warnings: tuple[str, ...] = ()  # see FetchResult.warnings


@dataclass(frozen=True, slots=True)
class SyncFailed:
    """The account's sync failed; ``error`` is the one-line reason and hint to show."""

    account: str
    error: ProviderError


SyncEvent = SyncStarted | SyncProgress | SyncSucceeded | SyncFailed
SyncOutcome = SyncSucceeded | SyncFailed
EventCallback = Callable[[SyncEvent], None]


@functools.cache
def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    # Verification is always on; SSL_CERT_FILE replaces the bundled CA list
    # (corporate proxies, private CAs) rather than switching checks off.
    return ssl.create_default_context(cafile=cafile or certifi.where())


def tls_context() -> ssl.SSLContext:
    """The verifying TLS context: ``$SSL_CERT_FILE`` when set, else certifi's CA bundle.

    An unusable ``SSL_CERT_FILE`` is a :class:`ProviderError` (the user can fix it).
    """
    cafile = os.environ.get("SSL_CERT_FILE") or None
    try:
        return _ssl_context(cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ProviderError(
            f"SSL_CERT_FILE={cafile} is not a readable CA bundle ({type(exc).__name__})",
            "point SSL_CERT_FILE at a PEM file of CA certificates, or unset it",
        ) from None


def make_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client one account's sync uses: timeouts, pool size, TLS and User-Agent.

    ``settings.timeout`` bounds each phase here too, but the whole request's
    deadline (and the response size limit) is kept by ``providers._http.request``;
    redirects are never followed by the client (that decides which, if any).
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout),
        limits=httpx.Limits(max_connections=settings.concurrency,
                            max_keepalive_connections=settings.concurrency),
        verify=tls_context(),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


async def sync_account(
    account: AccountConfig,
    settings: Settings,
    *,
    cache: InvoiceCache | None = None,
    on_event: EventCallback | None = None,
) -> SyncOutcome:
    """Fetch one account with its own ``httpx.AsyncClient``; save to ``cache`` on success.

    Never raises for provider/network problems (those become ``SyncFailed``);
    honours cancellation (``asyncio.CancelledError`` propagates).
    """
    def emit(event: SyncEvent) -> None:
        if on_event is not None:
            on_event(event)

    def on_progress(progress: FetchProgress) -> None:
        emit(SyncProgress(account.name, progress))

    emit(SyncStarted(account.name))
    outcome: SyncOutcome
    try:
        provider = account.build()
        async with make_client(settings) as client:
            result = await provider.fetch(client, settings.fetch_options(), on_progress)
        synced_at = dt.datetime.now(dt.UTC)
        if cache is not None:
            # Off the event loop: 100k invoices take seconds to serialize, and the
            # TUI must keep drawing meanwhile.
            await asyncio.to_thread(
                cache.save, account, CachedAccount(result.invoices, synced_at, result.summary))
        outcome = SyncSucceeded(account.name, result.invoices, result.summary, synced_at,
                                result.warnings)
    except Exception as exc:  # a bug must still never reach the user as a traceback
        outcome = SyncFailed(account.name, as_provider_error(exc, f"syncing {account.name}"))
    emit(outcome)
    return outcome


def as_provider_error(exc: Exception, doing: str) -> ProviderError:
    """Any failure of a provider call as the one-line error a user sees.

    Providers map their own failures to :class:`ProviderError`; this is the safety
    net for what slips through: a transport error by its type name (httpx messages
    can quote URLs we would rather not echo), anything else as an internal error.
    The details go to the debug log only.
    """
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, httpx.TransportError):
        log.debug("transport error %s", doing, exc_info=exc)
        return ProviderError(f"network error: {type(exc).__name__}",
                             "check your connection and the account's base_url", retryable=True)
    log.debug("unexpected error %s", doing, exc_info=exc)
    return ProviderError(f"internal error: {type(exc).__name__}", "please report this bug")


async def sync_all(
    config: Config,
    names: Iterable[str] | None = None,
    *,
    cache: InvoiceCache | None = None,
    on_event: EventCallback | None = None,
) -> dict[str, SyncOutcome]:
    """Sync the named accounts (default: all) concurrently; one failure never affects another.

    Unknown names raise ``KeyError`` before anything starts. The result keeps
    the order of ``names`` (or of the config).
    """
    accounts = (list(config.accounts) if names is None
                else [config.account(name) for name in dict.fromkeys(names)])
    # sync_account turns every failure into an outcome, so gather never sees an
    # exception except cancellation, which should cancel the whole batch.
    outcomes = await asyncio.gather(*(
        sync_account(account, config.settings, cache=cache, on_event=on_event)
        for account in accounts
    ))
    return {outcome.account: outcome for outcome in outcomes}


# --- saving an invoice's PDF ------------------------------------------------------------

#: Longest file name stem of a saved PDF (the provider's text can be any length).
PDF_STEM_LIMIT = 100
_UNSAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def pdf_file_stem(invoice: Invoice) -> str:
    """``<account>-<number or label>`` made a safe file name: ASCII letters, digits, ``-_.``.

    The text comes from the provider: anything else becomes ``_``, the length is
    bounded, and it never starts with ``.`` or ``-`` (a hidden file, an option).
    """
    stem = _UNSAFE_FILE_NAME.sub("_", f"{invoice.account}-{invoice.title}")
    return stem[:PDF_STEM_LIMIT].strip("._-") or "invoice"


async def download_pdf(account: AccountConfig, settings: Settings, invoice: Invoice,
                       directory: Path | None = None) -> Path:
    """Download ``invoice``'s PDF with the account's own client, save it, return its path.

    Saved as a new file (:func:`~invoice_tui.fs.save_new_file`: exclusive create,
    never through a symlink, ``NAME-2.pdf`` … when the name is taken, mode 0600
    because an invoice is nobody else's business) in ``directory``, by default
    ``settings.downloads_dir()``, created if missing — never the current
    directory. Every failure is a :class:`ProviderError` (one line: reason and hint).
    """
    folder = settings.downloads_dir() if directory is None else directory
    if not folder.is_absolute():  # relative to the cwd, which is not a downloads folder
        raise ProviderError(f"the downloads folder {folder} is not an absolute path",
                            'set [settings] downloads to a full path, e.g. "~/Downloads"')
    try:
        provider = account.build()
        async with make_client(settings) as client:
            data = await provider.download_pdf(client, settings.fetch_options(), invoice)
    except Exception as exc:  # a bug must still reach the user as one line
        raise as_provider_error(exc, f"downloading a PDF of {account.name}") from None
    try:
        return await asyncio.to_thread(save_new_file, folder, pdf_file_stem(invoice), ".pdf",
                                       data, 0o600)
    except OSError as exc:
        raise ProviderError(
            f"could not save the PDF in {folder} ({exc.strerror or type(exc).__name__})",
            "check the downloads folder ([settings] downloads) and its permissions",
        ) from None

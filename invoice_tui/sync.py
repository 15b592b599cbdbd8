"""Fetch orchestration: all accounts concurrently, progress events, store writes (no UI here).

The signatures are a contract the UI codes against. Per-request retries and
page concurrency live in the providers (they know what is safe to repeat);
this module gives each account its own HTTP client, turns every failure into a
:class:`SyncFailed` carrying a one-line :class:`ProviderError`, and keeps
accounts independent of each other. With a store, each page is written as it
arrives (in a thread, off the event loop) and a complete sync replaces the
account's rows; a failed or cancelled one keeps them.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from .config import AccountConfig, Config, Settings
from .fs import save_new_file
from .model import AccountSummary, Invoice
from .providers.base import FetchProgress, FetchResult, Provider, ProviderError
from .store import InvoiceStore, StoreError, SyncWriter

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
class SyncStored:
    """A batch of the account's invoices is committed to the store: readers can see it.

    ``invoices`` is how many this sync has stored so far.
    """

    account: str
    invoices: int


@dataclass(frozen=True, slots=True)
class SyncSucceeded:
    """Every invoice of the account arrived (and is in the store, if one was given)."""

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


SyncEvent = SyncStarted | SyncProgress | SyncStored | SyncSucceeded | SyncFailed
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
    store: InvoiceStore | None = None,
    on_event: EventCallback | None = None,
    offload: bool = False,
) -> SyncOutcome:
    """Fetch one account with its own ``httpx.AsyncClient``, writing pages to ``store``.

    Never raises for provider/network problems (those become ``SyncFailed``);
    honours cancellation (``asyncio.CancelledError`` propagates). A failed or
    cancelled sync never deletes a stored invoice; a store that cannot be
    written is a warning of the outcome, not a failed sync (the invoices arrived).
    ``offload``: a one-shot batch (the export) has the store written by forked
    children, on another core, whenever that is safe (see :mod:`forked`).
    """
    def emit(event: SyncEvent) -> None:
        if on_event is not None:
            on_event(event)

    feed = _StoreFeed(store, account, emit, offload) if store is not None else None

    def on_progress(progress: FetchProgress) -> None:
        if feed is not None:
            total = progress.total_invoices
            feed.put(progress.page,
                     remaining=None if total is None else max(0, total - progress.invoices))
        emit(SyncProgress(account.name, progress))

    emit(SyncStarted(account.name))
    outcome: SyncOutcome
    try:
        # Loading a key (~80 ms for RSA) and a TLS context (~90 ms) would stall the UI's
        # event loop: they are made in a thread.
        provider, client = await asyncio.to_thread(_provider_and_client, account, settings)
        async with client:
            if feed is not None:
                await feed.start()
            result = await provider.fetch(client, settings.fetch_options(), on_progress)
        synced_at = dt.datetime.now(dt.UTC)
        warnings = result.warnings
        if feed is not None:
            warnings += await feed.finish(result, synced_at)
        outcome = SyncSucceeded(account.name, result.invoices, result.summary, synced_at,
                                warnings)
    except asyncio.CancelledError:
        if feed is not None:
            await feed.abandon()
        raise
    except Exception as exc:  # a bug must still never reach the user as a traceback
        if feed is not None:
            await feed.abandon()
        outcome = SyncFailed(account.name, as_provider_error(exc, f"syncing {account.name}"))
    emit(outcome)
    return outcome


def _provider_and_client(account: AccountConfig, settings: Settings
                         ) -> tuple[Provider, httpx.AsyncClient]:
    """What one account's sync talks through: its provider and its HTTP client."""
    return account.build(), make_client(settings)


#: Most invoices one store transaction takes: bounds how long another writer (a second
#: instance) waits for the lock.
STORE_BATCH_MAX = 5000
#: Most invoices one forked writer takes (in transactions of STORE_BATCH_MAX): each fork
#: costs the parent time and copy-on-write faults, so they are few.
FORKED_BATCH_MAX = 4 * STORE_BATCH_MAX
#: Fewest a forked writer waits for while more are expected (its batches shrink to this
#: towards the end of a fetch whose total is known, so little is written after it).
FORKED_BATCH_MIN = 1000


class _StoreFeed:
    """Writes one sync's pages to the store as they arrive, off the event loop.

    One write at a time runs in a thread (or, ``offload``-ed, in a forked child) and
    takes every page that arrived meanwhile: a fast fetch makes few big transactions,
    a slow one shows each page soon. A store that fails stops the writing, never the fetch: the
    outcome gets a warning instead.
    """

    def __init__(self, store: InvoiceStore, account: AccountConfig, emit: EventCallback,
                 offload: bool = False) -> None:
        self.store = store
        self.account = account
        self.emit = emit
        self.offload = offload
        self.last = False  # the fetch is over: what is pending is all there is
        self.batch = FORKED_BATCH_MAX  # offloaded: the size a batch waits for
        self.writer: SyncWriter | None = None
        self.pending: list[Invoice] = []
        self.fed: set[str] = set()
        self.task: asyncio.Task[None] | None = None
        self.problem: StoreError | None = None
        self.bug: Exception | None = None

    async def start(self) -> None:
        try:
            self.writer = await asyncio.to_thread(self.store.begin_sync, self.account,
                                                  detached=self.offload)
        except StoreError as exc:
            self.problem = exc

    def put(self, invoices: tuple[Invoice, ...], *, remaining: int | None = None,
            last: bool = False) -> None:
        """Queue a page (called on the event loop, from the provider's progress callback);
        ``remaining``: how many more the fetch expects, if it knows; ``last``: nothing
        more comes, write everything."""
        if self.writer is None or self.problem is not None or not (invoices or last):
            return
        self.pending.extend(invoices)
        self.fed.update(invoice.id for invoice in invoices)
        self.last = self.last or last
        if self.offload and remaining is not None:
            # Smaller batches towards the end: little is left to write after the fetch.
            self.batch = max(FORKED_BATCH_MIN, min(FORKED_BATCH_MAX, remaining // 2))
        if self.offload and not self.last and len(self.pending) < self.batch:
            return  # a fork per few pages would cost more than it saves: batches fill up
        if self.pending and (self.task is None or self.task.done()):
            self.task = asyncio.get_running_loop().create_task(self._drain(self.writer))

    async def _drain(self, writer: SyncWriter) -> None:
        while self.pending and self.problem is None and self.bug is None:
            if self.offload and not self.last and len(self.pending) < self.batch:
                return  # put() starts the next drain when the batch is full
            size = FORKED_BATCH_MAX if self.offload else STORE_BATCH_MAX
            batch = self.pending[:size]
            del self.pending[:size]
            try:
                # Offloaded: the batch is written by a forked child, on another core
                # (store.SyncWriter.add_forked), when that is safe; else in a thread.
                wait = writer.add_forked(batch, STORE_BATCH_MAX) if self.offload else None
                if wait is None:
                    for chunk in (batch[i:i + STORE_BATCH_MAX]
                                  for i in range(0, len(batch), STORE_BATCH_MAX)):
                        await asyncio.to_thread(writer.add, chunk)
                else:
                    await asyncio.to_thread(wait)
            except StoreError as exc:
                self.problem = exc
                return
            except Exception as exc:  # a bug: raised by finish(), as the sync's failure
                self.bug = exc
                return
            self.emit(SyncStored(self.account.name, writer.written))

    async def finish(self, result: FetchResult, synced_at: dt.datetime) -> tuple[str, ...]:
        """Store what is still pending and complete the sync; warning lines, if any."""
        # A provider that reports no pages (or not all) gets the rest stored now.
        missing = tuple(invoice for invoice in result.invoices if invoice.id not in self.fed)
        self.put(missing, last=True)
        if self.task is not None:
            await self.task
        if self.bug is not None:
            raise self.bug
        if self.writer is not None and self.problem is None:
            try:
                await asyncio.to_thread(self.writer.finish, result.summary, synced_at)
            except StoreError as exc:
                self.problem = exc
        warnings: list[str] = []
        if self.writer is not None and self.writer.duplicates:
            warnings.append(f"{self.writer.duplicates} invoices repeated an id already "
                            "fetched; the first of each is kept")
        if self.problem is not None:
            await self.abandon()
            warnings.append(f"not saved for offline use: {self.problem}")
        return tuple(warnings)

    async def abandon(self) -> None:
        """The sync failed or was cancelled: stop writing; every stored row stays."""
        self.pending.clear()
        task, writer = self.task, self.writer
        if task is not None and not task.done():
            task.cancel()  # a write already in its thread completes; abandon() waits for it
        if writer is not None:
            with contextlib.suppress(StoreError):  # the next open sweeps what is left
                await asyncio.to_thread(writer.abandon)


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
    store: InvoiceStore | None = None,
    on_event: EventCallback | None = None,
    offload: bool = False,
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
        sync_account(account, config.settings, store=store, on_event=on_event,
                     offload=offload)
        for account in accounts
    ))
    return {outcome.account: outcome for outcome in outcomes}


# --- saving an invoice's PDF ------------------------------------------------------------

#: Longest file name stem of a saved PDF (the provider's text can be any length).
PDF_STEM_LIMIT = 100
_UNSAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def file_name_stem(text: str, fallback: str = "invoice") -> str:
    """``text`` made a safe file name: ASCII letters, digits, ``-_.``; never empty.

    The text comes from a provider or a config: anything else becomes ``_`` (so no
    ``/``, no ``..``, no escape sequence), the length is bounded, and it never starts
    with ``.`` or ``-`` (a hidden file, an option); ``fallback`` when nothing is left.
    """
    stem = _UNSAFE_FILE_NAME.sub("_", text)
    return stem[:PDF_STEM_LIMIT].strip("._-") or fallback


def pdf_file_stem(invoice: Invoice) -> str:
    """``<account>-<number or label>`` made a safe file name (:func:`file_name_stem`)."""
    return file_name_stem(f"{invoice.account}-{invoice.title}")


#: Where a PDF's ``%PDF-`` header may start: readers accept up to 1 KB of junk before it.
PDF_HEADER_WITHIN = 1024


def check_pdf(data: bytes, invoice: Invoice) -> None:
    """Raise a :class:`ProviderError` unless ``data`` is a PDF (its ``%PDF-`` header).

    A login page of a proxy, an API's JSON error or an empty answer sent with HTTP 200
    must fail the download, never be saved under a ``.pdf`` name.
    """
    if b"%PDF-" in data[:PDF_HEADER_WITHIN]:
        return
    head = data[:PDF_HEADER_WITHIN].lstrip().lower()
    if not data:
        what = "an empty answer"
    elif head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        what = "an HTML page"
    elif head.startswith((b"{", b"[")):
        what = "JSON"
    else:
        what = f"{len(data):,} bytes that are not a PDF"
    raise ProviderError(f"the server sent {what} instead of the PDF of {invoice.title}",
                        "a proxy or login page may be in the way; try again later, or open "
                        "the invoice in a browser")


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
        # Built in a thread, as for a sync: a key file's RSA key or the OS keyring (which
        # may wait on D-Bus or an unlock prompt) must not stall the UI's event loop.
        provider = await asyncio.to_thread(account.build)
        async with make_client(settings) as client:
            data = await provider.download_pdf(client, settings.fetch_options(), invoice)
    except Exception as exc:  # a bug must still reach the user as one line
        raise as_provider_error(exc, f"downloading a PDF of {account.name}") from None
    check_pdf(data, invoice)
    try:
        return await asyncio.to_thread(save_new_file, folder, pdf_file_stem(invoice), ".pdf",
                                       data, 0o600)
    except OSError as exc:
        raise ProviderError(
            f"could not save the PDF in {folder} ({exc.strerror or type(exc).__name__})",
            "check the downloads folder ([settings] downloads) and its permissions",
        ) from None

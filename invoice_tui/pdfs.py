"""Bulk PDF download: every invoice's PDF to ``DIR/<account>/<YYYY-MM>-<number or label>.pdf``.

No UI here: ``invoice-tui pdfs`` and the TUI's ``D`` both call :func:`download_pdfs`.
Each account downloads with its own HTTP client (the one its sync would use), at most
``[settings] concurrency`` PDFs at a time, every request within the account's
deadline and response-size limit (``providers._http.request``). Neither API tells a
PDF's size before it is downloaded (Voximplant's ``DownloadInvoice`` is a POST; a
Stripe-hosted Unleash link may not answer HEAD), so a file already there is compared
after the download: the same size leaves it untouched, another size replaces it.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .config import AccountConfig, Config
from .fs import file_kind, write_atomic
from .meaning import ESTIMATED_MEANINGS, meaning
from .model import Invoice
from .providers.base import NoPdf, Provider, ProviderError
from .sync import as_provider_error, check_pdf, file_name_stem, make_client
from .text import sanitize

#: A shown invoice title is cut to this many characters (a failure line stays one line).
TITLE_LIMIT = 60


@dataclass(frozen=True, slots=True)
class PdfFailure:
    """One invoice whose PDF could not be fetched or saved; ``str()`` is its one line."""

    account: str
    invoice: str  # its number, label or id (sanitized)
    error: ProviderError

    def __str__(self) -> str:
        return f"{self.account}: {self.invoice}: {self.error}"


@dataclass(slots=True)
class PdfSummary:
    """What a bulk download did so far (it grows while it runs; progress callbacks get it)."""

    total: int = 0  # invoices asked for
    downloaded: int = 0  # saved (new, or replacing a file of another size)
    already: int = 0  # a file of the same size was there: left untouched
    without_pdf: int = 0  # estimates, the upcoming invoice, no PDF link
    failures: list[PdfFailure] = field(default_factory=list)
    saved: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """How many failed."""
        return len(self.failures)

    @property
    def done(self) -> int:
        """How many invoices are dealt with, whatever the outcome."""
        return self.downloaded + self.already + self.without_pdf + self.failed

    def line(self) -> str:
        """The one-line summary, e.g. ``downloaded 3, skipped 2 already there, 1 without a
        PDF, 0 failed``."""
        return (f"downloaded {self.downloaded}, skipped {self.already} already there, "
                f"{self.without_pdf} without a PDF, {self.failed} failed")


PdfProgress = Callable[[PdfSummary], None]


def pdf_name(invoice: Invoice) -> str:
    """``<YYYY-MM>-<number or label>`` of the issue month (``undated-…`` without a date),
    made a safe file name (:func:`~invoice_tui.sync.file_name_stem`)."""
    month = f"{invoice.issued:%Y-%m}" if invoice.issued is not None else "undated"
    return f"{month}-{file_name_stem(sanitize(invoice.title))}"


def plan_pdfs(invoices: Iterable[Invoice]) -> list[tuple[Invoice, Path]]:
    """Each invoice and its file's path relative to the output folder, unique in this run.

    ``<account>/<pdf_name>.pdf``; a name taken by another invoice of the run gets
    ``-2``, ``-3`` … (compared without case: some file systems ignore it). Invoices are
    taken by account, issue date and id, so a run over the same invoices names each
    the same way again (and finds its file already there).
    """
    ordered = sorted(invoices, key=lambda inv: (inv.account, inv.issued is None,
                                                inv.issued or 0, inv.id))
    folders: dict[str, str] = {}
    taken: set[str] = set()
    planned: list[tuple[Invoice, Path]] = []
    for invoice in ordered:
        folder = folders.get(invoice.account)
        if folder is None:
            folder = _unique(file_name_stem(sanitize(invoice.account), "account"), "",
                             {f.casefold() for f in folders.values()})
            folders[invoice.account] = folder
        name = _unique(f"{folder}/{pdf_name(invoice)}", ".pdf", taken)
        taken.add(name.casefold())
        planned.append((invoice, Path(name)))
    return planned


def _unique(stem: str, suffix: str, taken: set[str]) -> str:
    name, count = f"{stem}{suffix}", 1
    while name.casefold() in taken:
        count += 1
        name = f"{stem}-{count}{suffix}"
    return name


def save_pdf(path: Path, data: bytes) -> bool:
    """Write ``data`` at ``path`` atomically (mode 0600); ``False`` when a regular file of
    the same size is there already (it is left untouched).

    A file of another size is replaced (temp file + rename: the old one stays whole
    until then); a symlink or anything but a regular file at ``path`` is refused
    (``OSError``), never written through or replaced.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None:
        if not stat.S_ISREG(info.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else file_kind(info.st_mode)
            raise OSError(errno.EEXIST, f"{kind} is in the way; not replacing it", str(path))
        if info.st_size == len(data):
            return False
    write_atomic(path, data, 0o600)
    return True


async def download_pdfs(config: Config, invoices: Iterable[Invoice], directory: Path, *,
                        on_progress: PdfProgress | None = None) -> PdfSummary:
    """Download every invoice's PDF into ``directory`` (see :func:`plan_pdfs` for the names).

    Accounts download side by side, each with its own client and at most its
    ``[settings] concurrency`` requests at a time. Estimates, the upcoming invoice and
    invoices without a PDF are counted, not fetched; a body that is not a PDF fails
    (:func:`~invoice_tui.sync.check_pdf`). Every failure is one :class:`PdfFailure`; only
    cancellation propagates. ``on_progress`` gets the summary after each invoice.
    """
    if not directory.is_absolute():
        raise ValueError("download_pdfs needs an absolute directory")
    planned = plan_pdfs(invoices)
    summary = PdfSummary(total=len(planned))
    by_account: dict[str, list[tuple[Invoice, Path]]] = {}
    for invoice, relative in planned:
        by_account.setdefault(invoice.account, []).append((invoice, directory / relative))

    def report() -> None:
        if on_progress is not None:
            on_progress(summary)

    accounts = {account.name: account for account in config.accounts}
    await asyncio.gather(*(
        _account_pdfs(accounts.get(name), config, items, summary, report)
        for name, items in by_account.items()))
    return summary


async def _account_pdfs(account: AccountConfig | None, config: Config,
                        items: Sequence[tuple[Invoice, Path]], summary: PdfSummary,
                        report: Callable[[], None]) -> None:
    """One account's PDFs, ``[settings] concurrency`` at a time over one client."""
    try:
        if account is None:
            raise ProviderError("the account is not in the config",
                                "add it to the config, or refresh the invoices")
        # In a thread: the key file's RSA key or the OS keyring must not stall the UI.
        provider = await asyncio.to_thread(account.build)
        client = make_client(config.settings)
    except Exception as exc:  # its key file, its token: every PDF of it fails alike
        error = as_provider_error(exc, "preparing PDF downloads")
        for invoice, _ in items:
            summary.failures.append(_failure(invoice, error))
        report()
        return
    queue: Iterator[tuple[Invoice, Path]] = iter(items)

    async def worker() -> None:
        for invoice, path in queue:  # shared: each item goes to one worker
            await _one_pdf(provider, client, config, invoice, path, summary)
            report()

    async with client:
        await asyncio.gather(*(worker() for _ in range(min(config.settings.concurrency,
                                                             len(items)))))


async def _one_pdf(provider: Provider, client: httpx.AsyncClient, config: Config,
                   invoice: Invoice, path: Path, summary: PdfSummary) -> None:
    if meaning(invoice) in ESTIMATED_MEANINGS:  # figures that may change: no document yet
        summary.without_pdf += 1
        return
    try:
        data = await provider.download_pdf(client, config.settings.fetch_options(), invoice)
        check_pdf(data, invoice)
        saved = await asyncio.to_thread(save_pdf, path, data)
    except NoPdf:
        summary.without_pdf += 1
        return
    except OSError as exc:
        summary.failures.append(_failure(invoice, ProviderError(
            f"could not save {path} ({exc.strerror or exc})",
            "check the output folder and its permissions")))
        return
    except Exception as exc:  # one line each; a bug too, never a traceback
        summary.failures.append(_failure(invoice, as_provider_error(exc, "downloading a PDF")))
        return
    if saved:
        summary.downloaded += 1
        summary.saved.append(path)
    else:
        summary.already += 1


def _failure(invoice: Invoice, error: ProviderError) -> PdfFailure:
    title = sanitize(invoice.title)
    if len(title) > TITLE_LIMIT:
        title = title[:TITLE_LIMIT - 1] + "…"
    return PdfFailure(sanitize(invoice.account), title, error)

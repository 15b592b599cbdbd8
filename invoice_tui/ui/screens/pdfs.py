"""`D`: every PDF of the visible invoices, with a progress bar; Esc stops it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import Footer, ProgressBar, Static
from textual.worker import Worker, WorkerState

from invoice_tui.config import Config
from invoice_tui.model import Invoice
from invoice_tui.pdfs import PdfSummary, download_pdfs
from invoice_tui.store import StoreError
from invoice_tui.text import sanitize


@dataclass(frozen=True, slots=True)
class PdfRun:
    """What the download screen hands back: the summary, where, and whether Esc stopped it.

    ``problem`` says why nothing was downloaded (the store could not be read); ``bug``
    names an internal error's type when the download itself failed (a bug).
    """

    summary: PdfSummary
    folder: Path
    cancelled: bool = False
    problem: str | None = None
    bug: str | None = None


class PdfDownloadScreen(ModalScreen[PdfRun]):
    """Runs :func:`invoice_tui.pdfs.download_pdfs` in a worker and shows how far it got."""

    DEFAULT_CSS = """
    #pdfs-dialog {
        width: 76;
        max-width: 95%;
        height: auto;
    }
    #pdfs-progress {
        margin-top: 1;
    }
    """

    AUTO_FOCUS = None  # keys go to the modal: Esc stops the download

    BINDINGS = [
        Binding("escape", "cancel", "Stop", id="pdfs.cancel",
                tooltip="Stop downloading (the PDFs saved so far stay)"),
    ]

    def __init__(self, config: Config, load: Callable[[], Sequence[Invoice]], count: int,
                 folder: Path) -> None:
        """``load`` reads the ``count`` invoices (in a thread: it may read the store)."""
        super().__init__()
        self.config = config
        self.load = load
        self.count = count
        self.folder = folder
        self.summary = PdfSummary(total=count)

    def compose(self) -> ComposeResult:
        with Vertical(id="pdfs-dialog", classes="dialog"):
            yield Static(id="pdfs-text")
            yield ProgressBar(total=max(1, self.count), show_eta=False, id="pdfs-progress")
        yield Footer()

    def on_mount(self) -> None:
        dialog = self.query_one("#pdfs-dialog")
        count = self.count
        dialog.border_title = f"PDFs of {count:,} invoice{'s' if count != 1 else ''}"
        dialog.border_subtitle = "Esc stops"
        self.show_progress(self.summary)
        self._download()

    def show_progress(self, summary: PdfSummary) -> None:
        """Redraw the counts and the bar (called by the download after each invoice)."""
        self.summary = summary
        self.query_one("#pdfs-text", Static).update(Content.assemble(
            ("Into ", "$text-muted"), (sanitize(str(self.folder)), "bold"), "\n",
            summary.line()))
        self.query_one("#pdfs-progress", ProgressBar).update(progress=summary.done)

    @work(exclusive=True, group="pdfs", exit_on_error=False)
    async def _download(self) -> None:
        try:
            invoices = await asyncio.to_thread(self.load)
        except StoreError as error:
            self.dismiss(PdfRun(self.summary, self.folder, problem=str(error)))
            return
        self.query_one("#pdfs-progress", ProgressBar).update(total=max(1, len(invoices)))
        summary = await download_pdfs(self.config, invoices, self.folder,
                                      on_progress=self.show_progress)
        self.dismiss(PdfRun(summary, self.folder))

    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "pdfs")
        self.dismiss(PdfRun(self.summary, self.folder, cancelled=True))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # exit_on_error=False keeps a bug from ending the app; this keeps it from vanishing.
        # Only the type: the exception's text could quote a request (and so a secret).
        if event.state == WorkerState.ERROR and self.is_active:
            self.dismiss(PdfRun(self.summary, self.folder,
                                bug=type(event.worker.error).__name__))


def pdf_run_notice(run: PdfRun, shown_failures: int = 3) -> tuple[str, SeverityLevel]:
    """The toast after a bulk download: its text and severity (one line per failure
    shown, up to ``shown_failures``; the rest counted)."""
    summary = run.summary
    if run.bug is not None:
        return (f"✗ could not download the PDFs (internal error: {run.bug}) — this is a bug "
                "in invoice-tui; please report it", "error")
    if run.problem is not None:
        return f"✗ no PDF downloaded: {sanitize(run.problem)}", "error"
    head = "Stopped: " if run.cancelled else ""
    lines = [f"{head}{summary.line()} — in {sanitize(str(run.folder))}"]
    lines += [f"✗ {sanitize(str(failure))}" for failure in summary.failures[:shown_failures]]
    if summary.failed > shown_failures:
        lines.append(f"… and {summary.failed - shown_failures} more")
    severity: SeverityLevel = ("error" if summary.failed else "warning" if run.cancelled
                               else "information")
    return "\n".join(lines), severity

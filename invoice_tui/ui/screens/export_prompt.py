"""`ctrl+e`: where to export the visible invoices (the format follows the file's extension)."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from invoice_tui.export import export_target, home_relative


class ExportScreen(ModalScreen[Path | None]):
    """A path prompt; Enter hands back a path that can take the export, Esc nothing."""

    DEFAULT_CSS = """
    #export-dialog {
        width: 80;
        max-width: 95%;
        height: auto;
    }
    #export-path {
        margin-top: 1;
    }
    #export-error {
        color: $error;
        height: auto;
    }
    """

    AUTO_FOCUS = "#export-path"

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="export.cancel", tooltip="Export nothing"),
    ]

    def __init__(self, default: Path, count: int) -> None:
        super().__init__()
        self.default = default
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog"):
            yield Static(Content.assemble(
                f"{self.count:,} visible invoice{'s' if self.count != 1 else ''} to a file: ",
                (".csv", "bold"), " (one row each) or ", (".json", "bold"),
                " (with line items).\n",
                ("A name without a folder goes to the downloads folder.", "$text-muted")))
            yield Input(home_relative(self.default), id="export-path")
            yield Static("", id="export-error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#export-dialog").border_title = "Export"
        self.query_one("#export-dialog").border_subtitle = "Enter exports · Esc cancels"

    @on(Input.Submitted, "#export-path")
    def _on_submitted(self, event: Input.Submitted) -> None:
        path, problem = export_target(event.value, self.default.parent)
        if path is None:
            self.query_one("#export-error", Static).update(Content(f"✗ {problem}"))
            return
        self.dismiss(path)

    @on(Input.Changed, "#export-path")
    def _on_changed(self) -> None:
        self.query_one("#export-error", Static).update("")  # the error was about other text

    def action_cancel(self) -> None:
        self.dismiss(None)

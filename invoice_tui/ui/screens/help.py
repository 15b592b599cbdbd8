"""`?`: every key by screen, generated from the BINDINGS themselves so it cannot drift."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

KEY_WIDTH = 14
DESCRIPTION_WIDTH = 20


def help_sections() -> list[tuple[str, list[Binding]]]:
    """(section title, bindings) for every screen and widget with keys of its own."""
    from invoice_tui.ui.app import InvoiceApp
    from invoice_tui.ui.screens.detail import InvoiceDetailScreen, LinesTable
    from invoice_tui.ui.screens.error import AccountErrorScreen, ConfigErrorScreen
    from invoice_tui.ui.screens.line_detail import LineDetailScreen
    from invoice_tui.ui.screens.main import FilterInput, MainScreen
    from invoice_tui.ui.screens.welcome import WelcomeScreen
    from invoice_tui.ui.widgets.invoice_table import InvoiceTable
    from invoice_tui.ui.widgets.provider_pane import ProviderPane

    palette = Binding(App.COMMAND_PALETTE_BINDING, "command_palette", "Command palette",
                      tooltip="Every command: sync, go to account, filter, period, sort")
    everywhere = [*_bindings(InvoiceApp.BINDINGS), *_bindings(Screen.BINDINGS), palette]
    return [
        ("Everywhere", everywhere),
        ("Main screen", _bindings(MainScreen.BINDINGS)),
        ("Invoice table", _bindings(InvoiceTable.BINDINGS)),
        ("Accounts pane", _bindings(ProviderPane.BINDINGS)),
        ("Filter input", _bindings(FilterInput.BINDINGS)),
        ("Sync error", _bindings(AccountErrorScreen.BINDINGS)),
        ("Invoice detail", [*_bindings(InvoiceDetailScreen.BINDINGS),
                            *_bindings(LinesTable.BINDINGS)]),
        ("Line detail", _bindings(LineDetailScreen.BINDINGS)),
        ("Welcome", _bindings(WelcomeScreen.BINDINGS)),
        ("Config error", _bindings(ConfigErrorScreen.BINDINGS)),
    ]


def _bindings(bindings: Iterable[BindingType]) -> list[Binding]:
    return list(Binding.make_bindings(bindings))


class HelpScreen(ModalScreen[None]):
    """A modal listing all bindings by screen."""

    AUTO_FOCUS = "#help-dialog"

    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, key_display="?",
                id="help.close_question"),
        Binding("q", "close", "Close", show=False, id="help.close_q"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            for index, (title, bindings) in enumerate(help_sections()):
                yield Static(Content.styled(title, "bold $accent"),
                             classes="help-title -first" if index == 0 else "help-title")
                yield Static(self._section(bindings), classes="help-section")
        yield Footer()

    def on_mount(self) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.border_title = "Keys"
        dialog.border_subtitle = "Esc to close · mouse works too"

    def _section(self, bindings: list[Binding]) -> Content:
        # Keys bound to the same action with the same description share a row.
        rows: dict[tuple[str, str], list[str]] = {}
        tooltips: dict[tuple[str, str], str] = {}
        for binding in bindings:
            what = (binding.action, binding.description or binding.action)
            key = self.app.get_key_display(binding)
            if key not in rows.setdefault(what, []):
                rows[what].append(key)
            tooltips.setdefault(what, binding.tooltip)
            if binding.tooltip and not tooltips[what]:
                tooltips[what] = binding.tooltip
        lines = []
        for what, keys in rows.items():
            tooltip = tooltips[what]
            lines.append(Content.assemble(
                (" / ".join(keys).ljust(KEY_WIDTH), "bold"),
                what[1].ljust(DESCRIPTION_WIDTH),
                (tooltip, "$text-muted"),
            ))
        return Content("\n").join(lines)

    def action_close(self) -> None:
        self.dismiss(None)

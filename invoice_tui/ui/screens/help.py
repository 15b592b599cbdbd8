"""`?`: every key by screen, generated from the BINDINGS themselves so it cannot drift."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

# Modules, not names, where they are deferred (invoice_tui.deferred).
from invoice_tui.ui.screens import (
    account_form,
    detail,
    error,
    export_prompt,
    line_detail,
    pdfs,
    spend,
    welcome,
)
from invoice_tui.ui.screens.main import FilterInput, MainScreen
from invoice_tui.ui.widgets.invoice_table import InvoiceTable
from invoice_tui.ui.widgets.provider_pane import ProviderPane

KEY_WIDTH = 14
DESCRIPTION_WIDTH = 22
SCROLLBAR = 2  # the dialog's scrollbar may appear after the sections were measured
MOUSE = (
    ("click a column title", "Sort by it (again: reverse)"),
    ("double-click an invoice", "Open it"),
    ("click an account", "Show its invoices (a failed account: why it failed)"),
    ("scroll wheel", "Scroll the table, the lines, this help"),
)


def help_sections(app_bindings: Iterable[BindingType]) -> list[tuple[str, list[Binding]]]:
    """(section title, bindings) for every screen and widget with keys of its own;
    ``app_bindings`` are the app's (given, so that no screen imports the app)."""
    palette = Binding(App.COMMAND_PALETTE_BINDING, "command_palette", "Command palette",
                      tooltip="Every command: sync, go to account, filter, period, sort")
    # Screen's own focus keys, described as what they do here.
    panes = {"app.focus_next": ("Next pane", "Accounts → filter → invoices"),
             "app.focus_previous": ("Previous pane", "Invoices → filter → accounts")}
    screen_keys = [
        replace(b, description=panes[b.action][0], tooltip=panes[b.action][1])
        if b.action in panes else b for b in _bindings(Screen.BINDINGS)
    ]
    everywhere = [*_bindings(app_bindings), *screen_keys, palette]
    return [
        ("Everywhere", everywhere),
        ("Main screen", _bindings(MainScreen.BINDINGS)),
        ("Invoice table", _bindings(InvoiceTable.BINDINGS)),
        ("Accounts pane", _bindings(ProviderPane.BINDINGS)),
        ("Filter input", _bindings(FilterInput.BINDINGS)),
        ("Sync error", _bindings(error.AccountErrorScreen.BINDINGS)),
        ("Invoice detail", [*_bindings(detail.InvoiceDetailScreen.BINDINGS),
                            *_bindings(detail.LinesTable.BINDINGS)]),
        ("Line detail", _bindings(line_detail.LineDetailScreen.BINDINGS)),
        ("Spend by month", [*_bindings(spend.SpendScreen.BINDINGS),
                            *_bindings(spend.SpendGrid.BINDINGS)]),
        ("Export", _bindings(export_prompt.ExportScreen.BINDINGS)),
        ("PDF download", _bindings(pdfs.PdfDownloadScreen.BINDINGS)),
        ("Welcome", _bindings(welcome.WelcomeScreen.BINDINGS)),
        ("Account form", _bindings(account_form.AccountFormScreen.BINDINGS)),
        ("Remove account", _bindings(account_form.RemoveAccountScreen.BINDINGS)),
        ("Config error", _bindings(error.ConfigErrorScreen.BINDINGS)),
        ("This help", _bindings(HelpScreen.BINDINGS)),
    ]


def _bindings(bindings: Iterable[BindingType]) -> list[Binding]:
    return list(Binding.make_bindings(bindings))


def rebound(bindings: Iterable[Binding], keymap: Mapping[str, str]) -> Iterator[Binding]:
    """``bindings`` with the keys ``keymap`` (binding id → comma list of keys, as given to
    ``App.set_keymap``) gives them instead, as Textual applies it."""
    for binding in bindings:
        keys = keymap.get(binding.id) if binding.id is not None else None
        if keys is None:
            yield binding
        else:
            yield from (binding.with_key(key, key_display=None) for key in keys.split(","))


#: (keys, what it does, explanation, binding id)
Row = tuple[str, str, str, str]


class HelpScreen(ModalScreen[None]):
    """A modal listing all bindings by screen with their ids (``app_bindings``: the app's
    own keys; ``keymap``: the keys the user's ``[keymap]`` gives instead)."""

    DEFAULT_CSS = """
    #help-dialog {
        width: 100;
        max-width: 95%;
        height: 90%;
    }
    .help-title {
        margin-top: 1;
    }
    .help-title.-first {
        margin-top: 0;
    }
    """

    AUTO_FOCUS = "#help-dialog"

    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, key_display="?",
                id="help.close_question"),
        Binding("q,backspace,left,h", "close", "Close", show=False, id="help.close_q"),
        Binding("down,j", "scroll(1)", "Scroll down", show=False, id="help.down"),
        Binding("up,k", "scroll(-1)", "Scroll up", show=False, id="help.up"),
        Binding("pagedown,space,ctrl+d", "scroll_page(1)", "Page down", show=False,
                id="help.page_down"),
        Binding("pageup,ctrl+u", "scroll_page(-1)", "Page up", show=False, id="help.page_up"),
        Binding("home,g", "scroll_to_edge(-1)", "Top", show=False, id="help.top"),
        Binding("end,G", "scroll_to_edge(1)", "Bottom", show=False, id="help.bottom"),
    ]

    def __init__(self, app_bindings: Iterable[BindingType],
                 keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._app_bindings = list(app_bindings)
        self._keymap = dict(keymap or {})
        self._sections: list[tuple[Static, list[Row]]] = []

    def compose(self) -> ComposeResult:
        self._sections = []
        with VerticalScroll(id="help-dialog", classes="dialog"):
            sections = [(title, self._rows(bindings))
                        for title, bindings in help_sections(self._app_bindings)]
            sections.append(("Mouse", [(what, "", does, "") for what, does in MOUSE]))
            for index, (title, rows) in enumerate(sections):
                yield Static(Content.styled(title, "bold $accent"),
                             classes="help-title -first" if index == 0 else "help-title")
                section = Static(_render_rows(rows, None), classes="help-section")
                self._sections.append((section, rows))
                yield section
        yield Footer()

    def on_mount(self) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.border_title = "Keys"
        dialog.border_subtitle = "Esc to close · mouse works too"

    def on_resize(self) -> None:
        # Long explanations wrap under themselves, not under the keys (narrow terminals).
        for section, rows in self._sections:
            width = section.content_region.width
            if width:
                section.update(_render_rows(rows, width))

    def _rows(self, bindings: list[Binding]) -> list[Row]:
        """(keys, what it does, explanation, id): the keys of one binding id (or, without
        an id, of one action and description) share a row; ``[keymap]``'s keys shown."""
        rows: dict[tuple[str, str, str], list[str]] = {}
        tooltips: dict[tuple[str, str, str], str] = {}
        for binding in rebound(bindings, self._keymap):
            what = (binding.action, binding.description or binding.action, binding.id or "")
            key = self.app.get_key_display(binding)
            if key not in rows.setdefault(what, []):
                rows[what].append(key)
            tooltips.setdefault(what, binding.tooltip)
            if binding.tooltip and not tooltips[what]:
                tooltips[what] = binding.tooltip
        return [(" / ".join(keys), what[1], tooltips[what], what[2])
                for what, keys in rows.items()]

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help-dialog").scroll_relative(y=lines, animate=False)

    def action_scroll_page(self, direction: int) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.scroll_relative(y=direction * max(1, dialog.scrollable_content_region.height - 1),
                               animate=False)

    def action_scroll_to_edge(self, direction: int) -> None:
        dialog = self.query_one("#help-dialog")
        if direction > 0:
            dialog.scroll_end(animate=False)
        else:
            dialog.scroll_home(animate=False)


def _render_rows(rows: list[Row], width: int | None) -> Content:
    """Keys, description and explanation in columns, then the binding id (what ``[keymap]``
    rebinds); the explanation wraps (with a hanging indent) to ``width`` cells when given."""
    indent = KEY_WIDTH + DESCRIPTION_WIDTH
    lines: list[Content] = []
    for keys, description, explanation, binding_id in rows:
        if description:
            head = Content.assemble((f"{keys} ".ljust(KEY_WIDTH), "bold"),
                                    f"{description} ".ljust(DESCRIPTION_WIDTH))
        else:  # one wide first column (the mouse rows)
            head = Content.styled(keys.ljust(indent), "bold")
        room = width - indent - SCROLLBAR if width else 0
        # Too narrow to wrap into (under 12 cells): one long line reads better.
        parts = (textwrap.wrap(explanation, room) if room >= 12 and explanation
                 else [explanation])
        body = [Content.styled(part, "$text-muted") for part in parts]
        if binding_id:
            tag = Content.styled(binding_id, "$text-secondary")
            if room and len(parts[-1]) + 2 + len(binding_id) > room:
                body.append(tag)  # its own line rather than cut in two
            else:
                body[-1] = Content.assemble(body[-1], "  " if parts[-1] else "", tag)
        lines.append(Content.assemble(head, body[0]))
        lines += [Content.assemble(" " * indent, part) for part in body[1:]]
    return Content("\n").join(lines)

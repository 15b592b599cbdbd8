"""One line item: its taxes (name, rate, taxable, amount, level, category) and metering."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from invoice_tui.clip import line_row, shortened
from invoice_tui.model import Invoice, Line, format_money, percent_text
from invoice_tui.text import sanitize
from invoice_tui.ui.formatting import copy_text, field_block, money_text, to_rich, usage_bar
from invoice_tui.view import format_period

TAX_COLUMNS = ("Tax", "Rate", "Taxable", "Amount", "Level", "Category")
NAME_WIDTH = 30  # one tax row must fit the dialog


class LineDetailScreen(ModalScreen[int]):
    """Taxes and metering of one line, over the detail screen; j/k step to the next or
    previous line. Dismissed with the position of the line last shown."""

    DEFAULT_CSS = """
    #line-dialog {
        width: 96;
        max-width: 95%;
        height: auto;
        max-height: 90%;
    }
    #line-taxes {
        height: auto;
        max-height: 12;
        margin-top: 1;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
    }
    """

    AUTO_FOCUS = None  # keys go to the modal: Enter or Esc closes it

    BINDINGS = [
        Binding("escape", "close", "Back", id="line.back", tooltip="Back to the invoice"),
        Binding("enter,q,backspace,left,h", "close", "Back", show=False, id="line.back_keys"),
        Binding("down,j", "step(1)", "Next line", id="line.next", tooltip="The next line item"),
        Binding("up,k", "step(-1)", "Previous line", id="line.previous",
                tooltip="The previous line item"),
        Binding("y", "yank", "Copy line", show=False, id="line.yank",
                tooltip="Copy the line, tab-separated (kind, description, figures)"),
    ]

    def __init__(self, invoice: Invoice, position: int) -> None:
        super().__init__()
        self.invoice = invoice
        self.position = position

    @property
    def line(self) -> Line:
        """The line shown."""
        return self.invoice.lines[self.position]

    def compose(self) -> ComposeResult:
        with Vertical(id="line-dialog", classes="dialog"):
            yield Static(id="line-metering")
            # Not focusable: it took Enter (select a row) and j/k, which belong to the modal.
            taxes: DataTable[object] = DataTable(id="line-taxes", cursor_type="row",
                                                 show_cursor=False)
            taxes.can_focus = False
            yield taxes
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#line-taxes", DataTable)
        for label in TAX_COLUMNS:
            table.add_column(label, key=label.lower())
        self._show_line()

    def action_step(self, delta: int) -> None:
        position = self.position + delta
        if not 0 <= position < len(self.invoice.lines):
            self.notify("No next line." if delta > 0 else "No previous line.", markup=False,
                        timeout=2)
            return
        self.position = position
        self._show_line()

    def _show_line(self) -> None:
        line = self.line
        count = len(self.invoice.lines)
        dialog = self.query_one("#line-dialog")
        # Border titles are parsed as markup unless given as Content.
        dialog.border_title = Content(f"{sanitize(line.kind)} line · {sanitize(line.description)}")
        dialog.border_subtitle = f"line {self.position + 1} of {count} · j/k: next/previous"
        self.query_one("#line-metering", Static).update(self._metering())
        table = self.query_one("#line-taxes", DataTable)
        table.clear()
        table.border_title = f"Taxes · {len(line.taxes)}"
        variables = self.app.theme_variables
        for tax in line.taxes:
            currency = tax.currency or line.currency or self.invoice.currency
            table.add_row(*(to_rich(Content(text).truncate(NAME_WIDTH, ellipsis=True), variables)
                            for text in (
                sanitize(tax.name) or "—",
                percent_text(tax.rate, fraction=True),
                money_text(tax.taxable, currency),
                money_text(tax.amount, currency),
                sanitize(tax.level) or "—",
                sanitize(tax.category) or "—",
            )))
        table.display = bool(line.taxes)

    def _metering(self) -> Content:
        line = self.line
        currency = line.currency or self.invoice.currency
        rows: list[tuple[str, Content | str]] = [
            ("Description", Content.styled(sanitize(line.description), "bold")),
            ("Net", money_text(line.net, currency)),
            ("Tax", money_text(line.tax, currency)),
            ("Gross", money_text(line.gross, currency)),
        ]
        if line.quantity is not None:
            rows.append(("Quantity", f"{line.quantity:f}"))
        if line.unit_price is not None:
            rows.append(("Unit price", format_money(line.unit_price, currency, with_code=True)))
        if line.consumption is not None or line.limit is not None:
            rows.append(("Consumption", "—" if line.consumption is None
                         else f"{line.consumption:,f}"))
            rows.append(("Limit", "—" if line.limit is None else f"{line.limit:,f}"))
            rows.append(("Usage", usage_bar(line.consumption, line.limit, width=20)))
        period = format_period(line.period_start, line.period_end)
        if period:
            rows.append(("Period", period))
        if line.lookup_key:
            rows.append(("Lookup key", sanitize(line.lookup_key)))
        if not line.taxes:
            rows.append(("Taxes", Content.styled("none on this line", "$text-muted")))
        return field_block(rows)

    def action_close(self) -> None:
        self.dismiss(self.position)

    def action_yank(self) -> None:
        copy_text(self, line_row(self.invoice, self.line),
                  f"the line “{shortened(self.line.description, 30)}”")

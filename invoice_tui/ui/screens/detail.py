"""Drill-down: one invoice's header, money block and line items (Enter on a line: its taxes)."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from invoice_tui.browser import open_in_browser
from invoice_tui.clip import invoice_reference
from invoice_tui.config import AccountConfig, Settings
from invoice_tui.meaning import billed_exclusion
from invoice_tui.model import (
    UNKNOWN_CURRENCY,
    Invoice,
    currency_code,
    estimate_note,
    format_money,
    money_checks,
    percent_text,
    tax_exempt,
)
from invoice_tui.providers import ProviderError
from invoice_tui.sync import download_pdf
from invoice_tui.text import sanitize
from invoice_tui.ui.formatting import (
    copy_text,
    field_block,
    money_text,
    status_content,
    to_rich,
    usage_bar,
)
from invoice_tui.ui.screens.line_detail import LineDetailScreen
from invoice_tui.ui.widgets.provider_pane import provider_display_name
from invoice_tui.view import format_period

# One meaning per column, whatever the provider: Net before tax, Gross tax included
# (Line.net / Line.gross); a blank cell is a figure the provider's data does not give.
LINE_COLUMNS = ("Kind", "Description", "Qty", "Unit price", "Net", "Tax", "Gross", "Usage")
DESCRIPTION_WIDTH = 44  # the rest shows in the line's modal (Enter)
NUMERIC_COLUMNS = ("Qty", "Unit price", "Net", "Tax", "Gross")
USAGE_WIDTH = 30  # room kept for the usage bar when a line is metered
CHECK_MARKS = {"exact": "=", "rounding": "≈", "mismatch": "≠"}
# Each worker group's toast title and what it failed to do, should it fail with a bug.
WORKER_TASKS = {"download": ("PDF", "save the PDF"),
                "browser": ("Open in browser", "open the link")}


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else "—"


def _billed_row(invoice: Invoice) -> tuple[str, Content | str]:
    # Whether the status line's "billed" includes this invoice, and why not.
    reason = billed_exclusion(invoice)
    if reason is None:
        return ("Billed", Content.styled("yes", "bold"))
    return ("Billed", Content.assemble(("no", "bold"), (f" — {reason}", "$text-muted")))


def _number(value: object) -> str:
    return "" if value is None else f"{value:f}" if hasattr(value, "is_finite") else str(value)


class LinesTable(DataTable[object]):
    """The invoice's line items; Enter opens a line's taxes and metering."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="lines.up",
                tooltip="Previous line item"),
        Binding("down,j", "cursor_down", "Down", show=False, id="lines.down",
                tooltip="Next line item"),
        Binding("home,g", "scroll_top", "First", show=False, id="lines.first",
                tooltip="First line item"),
        Binding("end,G", "scroll_bottom", "Last", show=False, id="lines.last",
                tooltip="Last line item"),
        Binding("enter", "select_cursor", "Line detail", id="lines.select",
                tooltip="The line's taxes and metering"),
        Binding("left,h", "scroll_left_or_back", "Scroll left", show=False, id="lines.left",
                tooltip="Scroll the lines left; at the left edge, back to the invoice list"),
    ]

    def action_scroll_left_or_back(self) -> None:
        if self.scroll_x > 0:
            self.scroll_left()
        else:
            raise SkipAction()  # at the edge: the screen's ← (back) gets the key


class InvoiceDetailScreen(Screen[None]):
    """Everything about one invoice; Esc returns to exactly where the table was."""

    AUTO_FOCUS = "#lines"

    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back", tooltip="Back to the invoice list"),
        # As in tig and less: q leaves the view (the main screen's q quits).
        Binding("q,backspace,left,h", "back", "Back", show=False, id="detail.back_keys",
                tooltip="Back to the invoice list"),
        Binding("o", "open_url", "Open in browser", id="detail.open_url",
                tooltip="Open the invoice's web page"),
        Binding("d", "download_pdf", "Download PDF", id="detail.download",
                tooltip="Save the invoice PDF to the downloads folder"),
        Binding("y", "yank", "Copy number", show=False, id="detail.yank",
                tooltip="Copy the invoice's number (its id when it has none)"),
    ]

    def __init__(self, invoice: Invoice, account: AccountConfig | None,
                 settings: Settings | None = None) -> None:
        super().__init__()
        self.invoice = invoice
        self.account = account
        self.settings = settings or Settings()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="detail-top"):
            yield Static(self._header_block(), id="invoice-header")
            yield Static(self._money_block(), id="invoice-money")
        yield LinesTable(id="lines", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        invoice = self.invoice
        header = self.query_one("#invoice-header")
        # Border titles are parsed as markup unless given as Content.
        header.border_title = Content(f"Invoice {sanitize(invoice.title)}")
        if invoice.is_estimate:
            header.border_subtitle = "ESTIMATE — figures may change"
        self.query_one("#invoice-money").border_title = Content(
            f"Amounts · {currency_code(invoice.currency) or UNKNOWN_CURRENCY}")
        self._fill_lines()

    def _line_cells(self) -> list[dict[str, str]]:
        """The numeric cells' text of each line, by column label."""
        invoice = self.invoice
        cells = []
        for line in invoice.lines:
            currency = line.currency or invoice.currency
            cells.append({
                "Qty": _number(line.quantity),
                "Unit price": format_money(line.unit_price, currency),
                "Net": format_money(line.net, currency),
                "Tax": format_money(line.tax, currency),
                "Gross": format_money(line.gross, currency),
            })
        return cells

    def _fill_lines(self) -> None:
        invoice = self.invoice
        table = self.query_one(LinesTable)
        table.border_title = f"Lines · {len(invoice.lines)}"
        table.border_subtitle = "Enter: taxes and metering" if invoice.lines else "no line items"
        cells = self._line_cells()
        # Numbers take the width they need, so the amounts stay on screen at 80 columns;
        # the description gets what is left (shortened; the full text is in the modal).
        widths = {label: max([len(label), *(len(row[label]) for row in cells)])
                  for label in NUMERIC_COLUMNS}
        kind_width = max([4, *(len(line.kind) for line in invoice.lines)])
        metered = any(line.consumption is not None for line in invoice.lines)
        others = sum(width + 2 for width in widths.values()) + kind_width + 2 + 2 + 4
        room = self.app.size.width - others - (USAGE_WIDTH if metered else 0)
        description_width = max(16, min(DESCRIPTION_WIDTH, room))
        for label in LINE_COLUMNS:
            title = Text(label, justify="right" if label in NUMERIC_COLUMNS else "left")
            width = description_width if label == "Description" else None
            table.add_column(title, key=label.lower(), width=width)
        variables = self.app.theme_variables
        for index, (line, row) in enumerate(zip(invoice.lines, cells, strict=True)):
            table.add_row(
                *(to_rich(cell, variables) for cell in (
                    Content.styled(sanitize(line.kind), "$text-muted"),
                    Content(sanitize(line.description)).truncate(description_width, ellipsis=True),
                    *(Content(row[label]).right(widths[label]) for label in NUMERIC_COLUMNS),
                    usage_bar(line.consumption, line.limit),
                )),
                key=str(index),
            )

    def _header_block(self) -> Content:
        invoice = self.invoice
        rows: list[tuple[str, Content | str]] = []
        if invoice.number:
            rows.append(("Number", Content.styled(sanitize(invoice.number), "bold")))
        if invoice.label:
            rows.append(("Label", Content.styled(sanitize(invoice.label), "bold")))
        rows += [
            ("Account", Content.assemble(
                (sanitize(invoice.account), "bold"),
                (f"  {provider_display_name(invoice.provider)}", "$text-muted"))),
            ("Issued", _date(invoice.issued)),
            ("Due", _date(invoice.due)),
            ("Period", format_period(invoice.period_start, invoice.period_end) or "—"),
            ("Status", status_content(invoice, detail=True)),
            ("Web", sanitize(invoice.url) or "—"),
            ("PDF", sanitize(invoice.pdf_url) or "—"),
        ]
        return field_block(rows)

    def _money_block(self) -> Content:
        invoice = self.invoice
        cur = invoice.currency
        amounts = [
            ("Subtotal", invoice.subtotal), ("Discount", invoice.discount),
            ("Tax", invoice.tax), ("Total", invoice.total), ("Amount due", invoice.amount_due),
        ]
        texts = [money_text(amount, cur) for _, amount in amounts]
        width = max(len(t) for t in texts)
        rows: list[tuple[str, Content | str]] = []
        for (label, _), text in zip(amounts, texts, strict=True):
            style = "bold $accent" if label in ("Total", "Amount due") else ""
            rows.append((label, Content.styled(text.rjust(width), style)))
        if invoice.tax_rate is not None:
            rows.append(("Tax rate", percent_text(invoice.tax_rate, fraction=False).rjust(width)))
        if tax_exempt(invoice):
            rows.append(("", Content.styled("Tax exempt", "italic")))
        if invoice.is_estimate:
            rows.append(("", Content.styled("estimate", "italic $warning")))
        rows.append(_billed_row(invoice))
        parts = [field_block(rows)]
        note = estimate_note(invoice)
        if note is not None:
            # Our figures, not the provider's: say so (and when partial) on a line of its
            # own, from the left edge so the whole phrase fits the block's width.
            style = "bold $error" if invoice.estimate_incomplete else "italic $warning"
            parts.append(Content.styled(note, style))
        # The arithmetic goes under the rows, unlabelled: it needs the block's width.
        return Content("\n").join([*parts, *self._check_lines()])

    def _check_lines(self) -> list[Content]:
        """The provider's own arithmetic, one line per equation; ``≠`` when it doesn't add up."""
        lines: list[Content] = []
        for check in money_checks(self.invoice):
            verdict = check.verdict
            equation = check.equation.replace(" = ", f" {CHECK_MARKS[verdict]} ")
            off = format_money(check.difference.copy_abs(), self.invoice.currency,
                               with_code=True)
            if verdict == "exact":
                lines.append(Content.styled(equation, "$text-muted"))
            elif verdict == "rounding":
                lines.append(Content.styled(equation, "$text-muted"))
                lines.append(Content.styled(f"  within rounding ({off})", "$text-muted"))
            else:
                lines.append(Content.styled(f"✗ {equation}", "bold $error"))
                lines.append(Content.styled(f"  provider's figures are off by {off}", "$error"))
        return lines

    @on(DataTable.RowSelected, "#lines")
    def _on_line_selected(self, event: DataTable.RowSelected) -> None:
        position = int(str(event.row_key.value))
        self.app.push_screen(LineDetailScreen(self.invoice, position),
                             callback=self._after_line_detail)

    def _after_line_detail(self, position: int | None) -> None:
        # j/k stepped through the lines there: come back on the line last shown.
        if position is not None:
            self.query_one("#lines", DataTable).move_cursor(row=position)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_open_url(self) -> None:
        url = self.invoice.url or self.invoice.pdf_url
        if not url:
            self.notify("This invoice has no web link.", markup=False)
            return
        if not url.startswith(("https://", "http://")):
            self.notify("The invoice link is not a web address; not opening it.",
                        severity="warning", markup=False)
            return
        if self.app.is_web:  # served in a browser: the browser opens it
            self.app.open_url(url)
            self.notify(f"Opening {sanitize(url)}", markup=False)
        else:
            self._open_in_browser(url)

    @work(thread=True, group="browser", exit_on_error=False)
    def _open_in_browser(self, url: str) -> None:
        opened = open_in_browser(url)
        self.app.call_from_thread(self._browser_result, url, opened)

    def _browser_result(self, url: str, opened: bool) -> None:
        if opened:
            self.notify(f"Opening {sanitize(url)}", markup=False)
            return
        # Over ssh, or with no desktop: the link is still one paste away (OSC 52).
        self.app.copy_to_clipboard(url)
        self.notify(f"No web browser could be opened here; the link was copied to the "
                    f"clipboard: {sanitize(url)}", title="Open in browser",
                    severity="warning", markup=False, timeout=8)

    def action_yank(self) -> None:
        copy_text(self, invoice_reference(self.invoice))

    def action_download_pdf(self) -> None:
        if self.account is None:
            self.notify("This invoice's account is not in the config.", severity="warning",
                        markup=False)
            return
        self.notify("Downloading the PDF…", markup=False)
        self._download(self.account, self.invoice)

    @work(exclusive=True, group="download", exit_on_error=False)
    async def _download(self, account: AccountConfig, invoice: Invoice) -> None:
        # download_pdf turns every failure a user can act on into one ProviderError line;
        # anything else is a bug, which on_worker_state_changed shows.
        try:
            target = await download_pdf(account, self.settings, invoice)
        except ProviderError as error:
            self.notify(f"✗ {sanitize(error)}", title="PDF", severity="error", markup=False)
            return
        self.notify(f"Saved {sanitize(target)}", title="PDF", markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # exit_on_error=False keeps a bug in a worker from ending the app; this keeps it
        # from vanishing. Only the type: the exception's text could quote a secret.
        if event.state != WorkerState.ERROR:
            return
        title, doing = WORKER_TASKS.get(event.worker.group, ("Error", "finish a background task"))
        self.notify(f"✗ could not {doing} (internal error: {type(event.worker.error).__name__})"
                    " — this is a bug in invoice-tui; please report it",
                    title=title, severity="error", markup=False)

"""Spend by month: billed per account and month, a block per currency, a bar chart on top.

The figures are a :class:`~invoice_tui.spend.SpendTable` (plain data, worked out by the
main screen from its indexes); this screen only draws it. Enter on a cell hands back
what to show in the invoice table (:class:`SpendPick`); the main screen brings this
screen back on the same cell when Esc leaves that table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from invoice_tui.model import format_money
from invoice_tui.spend import (
    CurrencySpend,
    Drill,
    SpendRow,
    SpendTable,
    bar_blocks,
    change_text,
    month_label,
)
from invoice_tui.text import sanitize
from invoice_tui.ui.formatting import to_rich
from invoice_tui.ui.widgets.provider_pane import provider_display_name
from invoice_tui.view import ESTIMATE_MARK

# Rows of bars per currency: at least 2 (16 steps of an eighth: two currencies of two
# providers still fit on 24 lines), taller where the rows leave room.
CHART_HEIGHT = (2, 6)
ESTIMATE = "est."
NOTHING = "·"  # a month without any invoice in the currency
LABEL_WIDTH = (12, 22)  # the first column: at least, at most (a longer name is cut)


@dataclass(frozen=True, slots=True)
class SpendPick:
    """Enter on a cell: what the invoice table shows, and the cell to come back to
    (``month`` ``None``: the estimate column)."""

    drill: Drill
    row: str
    month: int | None


@dataclass(frozen=True, slots=True)
class _Line:
    """A row of the grid: a figure row (``spend``), a chart row (``level``) or the changes."""

    key: str
    block: CurrencySpend
    spend: SpendRow | None = None
    level: int | None = None


def _row_key(block: CurrencySpend, row: SpendRow) -> str:
    return f"{block.currency}:{row.kind}:{row.provider}:{row.account}"


def _lines(table: SpendTable, chart_height: int) -> list[_Line]:
    lines: list[_Line] = []
    for block in table.blocks:
        lines += [_Line(f"{block.currency}:chart:{level}", block, level=level)
                  for level in range(chart_height)]
        lines += [_Line(_row_key(block, row), block, row) for row in block.rows]
        lines.append(_Line(f"{block.currency}:change", block))
    return lines


def _money(amount: Decimal | None, currency: str) -> str:
    return format_money(amount, currency) if amount is not None else ""


def _label(block: CurrencySpend, row: SpendRow) -> Text:
    if row.kind == "total":
        return Text(f"Total {block.currency}", style="bold")
    if row.kind == "provider":
        return Text(provider_display_name(sanitize(row.provider)), style="bold")
    # Under its provider; Text, so a name is never markup.
    last = next(r for r in reversed(block.rows) if r.provider == row.provider)
    return Text(("└ " if last is row else "├ ") + sanitize(row.account))


class SpendGrid(DataTable[Text]):
    """Months across, accounts down; the cursor only rests on figures.

    Only as many whole months as fit are columns (never a figure cut by a scroll: ",368.50"
    would read as 368.50); moving past the first or last shown month shifts them.
    ``row`` and ``month`` (an index into the table's months, ``None``: the estimate) are
    the cursor, whatever is shown.
    """

    BINDINGS = [
        Binding("left,h", "earlier", "Earlier", show=False, id="spend.earlier",
                tooltip="The month before"),
        Binding("right,l", "later", "Later", show=False, id="spend.later",
                tooltip="The month after (after the last: the estimate)"),
        Binding("up,k", "cursor_up", "Up", show=False, id="spend.up",
                tooltip="The account or provider above"),
        Binding("down,j", "cursor_down", "Down", show=False, id="spend.down",
                tooltip="The account or provider below"),
        Binding("home,g", "first_month", "First month", show=False, id="spend.first",
                tooltip="The first month"),
        Binding("end,G", "last_month", "Last month", show=False, id="spend.last",
                tooltip="The last month"),
        Binding("enter", "select_cursor", "Invoices", id="spend.select",
                tooltip="The invoice table, filtered to this account (or provider) and month"),
    ]

    def __init__(self, table: SpendTable, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="cell", zebra_stripes=False)
        self.table = table
        self.chart_height = CHART_HEIGHT[0]
        self.lines = _lines(table, self.chart_height)
        self.row = next((i for i, line in enumerate(self.lines)
                         if line.spend is not None and line.spend.kind == "account"), 0)
        self.month: int | None = len(table.months) - 1
        self.first = 0  # the first month shown
        self.shown = 0  # how many months are shown (0: not drawn yet)
        self._measure()

    def _measure(self) -> None:
        table = self.table
        rows = [(block, row) for block in table.blocks for row in block.rows]
        self.label_width = max(LABEL_WIDTH[0], min(LABEL_WIDTH[1], max(
            (len(_label(block, row).plain) for block, row in rows), default=0)))
        texts = [_money(value, block.currency) for block, row in rows for value in row.billed]
        texts += [change_text(change) for block in table.blocks
                  for change in block.total.changes()]
        self.month_width = max(7, *map(len, texts))
        self.estimate_width = max(len(ESTIMATE), *(
            len(ESTIMATE_MARK + _money(row.estimate, block.currency)) for block, row in rows))

    # --- what fits ------------------------------------------------------------------

    def on_resize(self) -> None:
        self._fit_chart()
        padding = 2 * self.cell_padding
        room = self.scrollable_content_region.width - self.label_width - padding
        if self.table.has_estimate:
            room -= self.estimate_width + padding
        self._show(max(1, room // (self.month_width + padding)))

    def _fit_chart(self) -> None:
        """As tall a chart as the rows leave room for (the header row aside)."""
        blocks = len(self.table.blocks)
        if not blocks:
            return
        figures = len(self.lines) - blocks * self.chart_height
        room = (self.scrollable_content_region.height - 1 - figures) // blocks
        height = max(CHART_HEIGHT[0], min(CHART_HEIGHT[1], room))
        if height != self.chart_height:
            key = self.lines[self.row].key
            self.chart_height = height
            self.lines = _lines(self.table, height)
            self.row = next(i for i, line in enumerate(self.lines) if line.key == key)
            self.shown = 0  # redraw

    def _show(self, shown: int | None = None) -> None:
        """Shift the months so the cursor's is in view, redraw if need be, put the cursor."""
        count = len(self.table.months)
        shown = min(count, shown or self.shown)
        if not shown:
            return
        month = count - 1 if self.month is None else self.month
        # First drawn: the newest months (as when it opened, on coming back to a cell).
        first = self.first if self.shown else count - shown
        first = min(max(first, month - shown + 1), month)
        first = max(0, min(first, count - shown))
        if (first, shown) != (self.first, self.shown):
            self.first, self.shown = first, shown
            self._draw()
        column = len(self.columns) - 1 if self.month is None else self.month - first + 1
        self.move_cursor(row=self.row, column=column)

    def _draw(self) -> None:
        table = self.table
        self.clear(columns=True)
        months = range(self.first, self.first + self.shown)
        self.add_column("", width=self.label_width, key="label")
        for index in months:
            month = table.months[index]
            self.add_column(month_label(month), key=str(month), width=self.month_width)
        if table.has_estimate:
            self.add_column(Text(ESTIMATE, style="italic"), key="estimate",
                            width=self.estimate_width)
        variables = self.app.theme_variables
        for line in self.lines:
            label, cells = self._cells(line, months, variables)
            if table.has_estimate:
                cells.append(self._estimate(line))
            self.add_row(label, *cells, key=line.key)
        if not table.blocks:
            self.add_row(Text("No invoices to sum in this period and these accounts",
                              style="italic"), key="empty")

    def _cells(self, line: _Line, months: range, variables: dict[str, str]
               ) -> tuple[Text, list[Text]]:
        block, row = line.block, line.spend
        code = block.currency
        if row is not None:
            return _label(block, row), [self._figure_text(row.billed[i], code, row)
                                        for i in months]
        if line.level is not None:  # the chart of the block's totals, scaled per currency
            totals = block.total.billed
            largest = max((v for v in totals if v is not None), default=Decimal(0))
            label = (Text(code, style="bold") if line.level == 0 else Text(
                f"max {format_money(largest, code)}" if largest > 0 and line.level == 1
                else "", style="dim"))
            return label, [to_rich(Content.styled(
                bar_blocks(totals[i], largest, self.chart_height)[line.level] * self.month_width,
                "$accent"), variables) for i in months]
        return Text("vs month before", style="dim"), [
            Text(change_text(block.total.change(i)), justify="right", style="dim")
            for i in months]

    @staticmethod
    def _figure_text(value: Decimal | None, currency: str, row: SpendRow) -> Text:
        if value is None:
            return Text(NOTHING, style="dim", justify="right")
        return Text(format_money(value, currency), justify="right",
                    style="bold" if row.kind != "account" else "")

    @staticmethod
    def _estimate(line: _Line) -> Text:
        row = line.spend
        if row is None:
            return Text("")
        if not row.estimate:  # nothing estimated (a prepaid account): no figure
            return Text(NOTHING, style="dim", justify="right")
        return Text(ESTIMATE_MARK + _money(row.estimate, line.block.currency),
                    style="italic", justify="right")

    # --- moving ---------------------------------------------------------------------

    def _figure(self, row: int) -> bool:
        return 0 <= row < len(self.lines) and self.lines[row].spend is not None

    def action_cursor_up(self) -> None:
        self._move_to_figure(-1)

    def action_cursor_down(self) -> None:
        self._move_to_figure(1)

    def _move_to_figure(self, step: int) -> None:
        row = self.row + step
        while 0 <= row < len(self.lines) and not self._figure(row):
            row += step
        if self._figure(row):
            self.row = row
            self._show()

    def action_earlier(self) -> None:
        if self.month is None:
            self.month = len(self.table.months) - 1
        elif self.month > 0:
            self.month -= 1
        self._show()

    def action_later(self) -> None:
        if self.month is not None and self.month < len(self.table.months) - 1:
            self.month += 1
        elif self.table.has_estimate:
            self.month = None
        self._show()

    def action_first_month(self) -> None:
        self.month = 0
        self._show()

    def action_last_month(self) -> None:
        self.month = len(self.table.months) - 1
        self._show()

    def place(self, row_key: str, month: int | None) -> None:
        """Put the cursor on that row's month (``None``: the estimate), if shown at all."""
        row = next((i for i, line in enumerate(self.lines) if line.key == row_key), None)
        months = self.table.months
        if row is None or (month is None and not self.table.has_estimate) or (
                month is not None and month not in months):
            return
        self.row, self.month = row, None if month is None else months.index(month)
        self._show()

    @on(DataTable.CellHighlighted)
    def _follow(self, _: DataTable.CellHighlighted) -> None:
        # A click: the cell it chose, or the nearest figure (not a name, bar or change).
        row, column = self.cursor_coordinate  # not the event's: it may be stale by now
        if not self.shown:
            return
        if 1 <= column <= self.shown:
            self.month = self.first + column - 1
        elif column > self.shown and self.table.has_estimate:
            self.month = None
        if row != self.row:
            below = next((r for r in range(row, len(self.lines)) if self._figure(r)), None)
            above = next((r for r in range(row, -1, -1) if self._figure(r)), None)
            self.row = below if below is not None else above if above is not None else self.row
        if (row, column) != self._coordinate():
            self.move_cursor(row=self.row, column=self._coordinate()[1])

    def _coordinate(self) -> tuple[int, int]:
        column = len(self.columns) - 1 if self.month is None else self.month - self.first + 1
        return self.row, column

    def picked(self) -> tuple[SpendRow, CurrencySpend, int | None] | None:
        """The figure row under the cursor, its block and month (``None``: the estimate)."""
        if not self.lines or not self._figure(self.row):
            return None
        line = self.lines[self.row]
        assert line.spend is not None
        return line.spend, line.block, self.month


class SpendScreen(Screen[SpendPick | None]):
    """Billed per month, per currency: providers with their accounts under them, totals,
    a bar chart and month-over-month changes; the current estimate apart."""

    AUTO_FOCUS = "#spend"

    DEFAULT_CSS = """
    SpendScreen #spend {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
    }
    SpendScreen #spend:focus {
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
    }
    SpendScreen #spend-info {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="spend.back", tooltip="Back to the invoice list"),
        Binding("q", "back", "Back", show=False, id="spend.back_q",
                tooltip="Back to the invoice list"),
    ]

    def __init__(self, table: SpendTable, cursor: tuple[str, int | None] | None = None) -> None:
        super().__init__()
        self.table = table
        self._cursor = cursor

    def compose(self) -> ComposeResult:
        yield Header()
        yield SpendGrid(self.table, id="spend")
        yield Static(id="spend-info")
        yield Footer()

    @property
    def grid(self) -> SpendGrid:
        return self.query_one("#spend", SpendGrid)

    def on_mount(self) -> None:
        grid = self.grid
        table = self.table
        scope = ("All accounts" if table.accounts is None
                 else ", ".join(sorted(sanitize(name) for name in table.accounts)))
        grid.border_title = Content(f"Spend by month · billed · {table.period.label()}")
        undated = f" · {table.undated:,} undated not shown" if table.undated else ""
        grid.border_subtitle = Content(scope + undated)
        if self._cursor is not None:  # back from the invoices: the cell it left
            grid.place(*self._cursor)
        self._describe()

    @on(DataTable.CellHighlighted, "#spend")
    def _on_highlighted(self, _: DataTable.CellHighlighted) -> None:
        self._describe()

    def _describe(self) -> None:
        """The cursor's cell in words, under the grid."""
        info = self.query_one("#spend-info", Static)
        picked = self.grid.picked()
        if picked is None:
            info.update(Content(""))
            return
        row, block, column = picked
        code = block.currency
        who = sanitize(row.account) if row.kind == "account" else (
            provider_display_name(sanitize(row.provider)) if row.kind == "provider"
            else f"All {code}")
        if column is None:
            amount = _money(row.estimate, code) if row.estimate else ""
            what = (f"est. {amount} {code}: estimates and next invoices, not in billed"
                    if amount else "no estimate")
        else:
            month = month_label(self.table.months[column])
            value = row.billed[column]
            change = change_text(row.change(column))
            what = (f"{month} · no invoice in {code}" if value is None
                    else f"{month} · billed {format_money(value, code, with_code=True)}")
            if change:
                before = month_label(self.table.months[column] - 1)
                what += f" · {change} vs {before}"
        info.update(Content(f"{who} · {what}"))

    # --- actions --------------------------------------------------------------------

    @on(DataTable.CellSelected, "#spend")
    def _on_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        grid = self.grid
        picked = grid.picked()
        if picked is None:
            return
        row, _, column = picked
        month = None if column is None else self.table.months[column]
        self.dismiss(SpendPick(self.table.drill(row, column), grid.lines[grid.row].key, month))

    def action_back(self) -> None:
        self.dismiss(None)

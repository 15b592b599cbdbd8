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

# Rows of bars per currency: 16 steps of an eighth, and two currencies of two providers
# still fit on 24 lines.
CHART_HEIGHT = 2
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
    """A row of the grid: a figure row (``spend``) or a drawing (chart, changes)."""

    key: str
    spend: SpendRow | None
    block: CurrencySpend


def _row_key(block: CurrencySpend, row: SpendRow) -> str:
    return f"{block.currency}:{row.kind}:{row.provider}:{row.account}"


class SpendGrid(DataTable[Text]):
    """Months across, accounts down; the cursor only rests on figures."""

    BINDINGS = [
        Binding("left,h", "cursor_left", "Earlier", show=False, id="spend.earlier",
                tooltip="The month before"),
        Binding("right,l", "cursor_right", "Later", show=False, id="spend.later",
                tooltip="The month after (last: the estimate)"),
        Binding("up,k", "cursor_up", "Up", show=False, id="spend.up",
                tooltip="The account or provider above"),
        Binding("down,j", "cursor_down", "Down", show=False, id="spend.down",
                tooltip="The account or provider below"),
        Binding("home,g", "first_month", "First month", show=False, id="spend.first",
                tooltip="The first month shown"),
        Binding("end,G", "last_month", "Last month", show=False, id="spend.last",
                tooltip="The last month shown"),
        Binding("enter", "select_cursor", "Invoices", id="spend.select",
                tooltip="The invoice table, filtered to this account (or provider) and month"),
    ]

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, cursor_type="cell", fixed_columns=1, zebra_stripes=False,
                         show_cursor=True)
        self.lines: list[_Line] = []

    def _figure(self, row: int) -> bool:
        return 0 <= row < len(self.lines) and self.lines[row].spend is not None

    def action_cursor_up(self) -> None:
        self._move_to_figure(self.cursor_row, -1)

    def action_cursor_down(self) -> None:
        self._move_to_figure(self.cursor_row, 1)

    def _move_to_figure(self, row: int, step: int) -> None:
        row += step
        while 0 <= row < len(self.lines) and not self._figure(row):
            row += step
        if self._figure(row):
            self.move_cursor(row=row)

    def action_cursor_left(self) -> None:
        if self.cursor_column > 1:  # column 0 is the names
            self.move_cursor(column=self.cursor_column - 1)

    def action_first_month(self) -> None:
        self.move_cursor(column=1)

    def action_last_month(self) -> None:
        self.move_cursor(column=len(self.columns) - 1)

    @on(DataTable.CellHighlighted)
    def _keep_on_figures(self, event: DataTable.CellHighlighted) -> None:
        # A click may land on a name, a bar or a change: the nearest figure instead.
        row, column = self.cursor_coordinate  # not the event's: it may be stale by now
        if column == 0 and len(self.columns) > 1:
            self.move_cursor(column=1)
        if not self._figure(row):
            below = next((r for r in range(row, len(self.lines)) if self._figure(r)), None)
            above = next((r for r in range(row, -1, -1) if self._figure(r)), None)
            target = below if below is not None else above
            if target is not None:
                self.move_cursor(row=target)


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
        yield SpendGrid(id="spend")
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
        self._fill(grid)
        self._place_cursor(grid)
        self._describe()

    # --- drawing --------------------------------------------------------------------

    def _fill(self, grid: SpendGrid) -> None:
        table = self.table
        label_width = max(LABEL_WIDTH[0], min(LABEL_WIDTH[1], max(
            (len(self._label(block, row).plain) for block in table.blocks
             for row in block.rows), default=0)))
        grid.add_column("", width=label_width, key="label")
        for column, month in enumerate(table.months):
            texts = [self._money(row.billed[column], block.currency)
                     for block in table.blocks for row in block.rows]
            texts += [change_text(block.total.change(column)) for block in table.blocks]
            grid.add_column(month_label(month), key=str(month),
                            width=max(7, *(len(text) for text in texts)))
        if table.has_estimate:
            texts = [ESTIMATE_MARK + self._money(row.estimate, block.currency)
                     for block in table.blocks for row in block.rows]
            grid.add_column(Text(ESTIMATE, style="italic"), key="estimate",
                            width=max(len(ESTIMATE), *(len(text) for text in texts)))
        for block in table.blocks:
            self._add_block(grid, block, label_width)
        if not table.blocks:
            grid.add_row(Text("No invoices to sum in this period and these accounts",
                              style="italic"), key="empty")

    def _add_block(self, grid: SpendGrid, block: CurrencySpend, label_width: int) -> None:
        table = self.table
        widths = [column.width for column in list(grid.columns.values())[1:]]
        totals = block.total.billed
        largest = max((value for value in totals if value is not None), default=Decimal(0))
        bars = [bar_blocks(value, largest, CHART_HEIGHT) for value in totals]
        variables = self.app.theme_variables
        scale = f"max {format_money(largest, block.currency)}" if largest > 0 else ""
        for level in range(CHART_HEIGHT):
            label = (Text(block.currency, style="bold") if level == 0
                     else Text(scale[:label_width], style="dim"))
            cells = [to_rich(Content.styled(bar[level] * width, "$accent"), variables)
                     for bar, width in zip(bars, widths, strict=False)]
            if table.has_estimate:
                cells.append(Text(""))
            self._add(grid, _Line(f"{block.currency}:chart:{level}", None, block), label, cells)
        for row in block.rows:
            cells = [self._figure_text(value, block.currency, row) for value in row.billed]
            if table.has_estimate:  # nothing estimated (a prepaid account): no figure
                estimate = self._money(row.estimate, block.currency) if row.estimate else ""
                cells.append(Text(ESTIMATE_MARK + estimate if estimate else NOTHING,
                                  style="italic" if estimate else "dim", justify="right"))
            self._add(grid, _Line(_row_key(block, row), row, block),
                      self._label(block, row), cells)
        changes = [Text(change_text(block.total.change(column)), justify="right",
                        style="dim") for column in range(len(table.months))]
        if table.has_estimate:
            changes.append(Text(""))
        self._add(grid, _Line(f"{block.currency}:change", None, block),
                  Text("vs month before", style="dim"), changes)

    @staticmethod
    def _add(grid: SpendGrid, line: _Line, label: Text, cells: list[Text]) -> None:
        grid.lines.append(line)
        grid.add_row(label, *cells, key=line.key)

    @staticmethod
    def _label(block: CurrencySpend, row: SpendRow) -> Text:
        if row.kind == "total":
            return Text(f"Total {block.currency}", style="bold")
        if row.kind == "provider":
            return Text(provider_display_name(sanitize(row.provider)), style="bold")
        # Under its provider; Text, so a name is never markup.
        last = next(r for r in reversed(block.rows) if r.provider == row.provider)
        return Text(("└ " if last is row else "├ ") + sanitize(row.account))

    @staticmethod
    def _money(amount: Decimal | None, currency: str) -> str:
        return format_money(amount, currency) if amount is not None else ""

    def _figure_text(self, value: Decimal | None, currency: str, row: SpendRow) -> Text:
        if value is None:
            return Text(NOTHING, style="dim", justify="right")
        return Text(format_money(value, currency), justify="right",
                    style="bold" if row.kind != "account" else "")

    # --- the cursor -----------------------------------------------------------------

    def _place_cursor(self, grid: SpendGrid) -> None:
        """On the cell it left (Esc from the invoices), else the first account's last month."""
        months = [str(month) for month in self.table.months]
        if self._cursor is not None:
            key, month = self._cursor
            row = next((i for i, line in enumerate(grid.lines) if line.key == key), None)
            column = (len(months) + 1 if month is None and self.table.has_estimate
                      else months.index(str(month)) + 1 if str(month) in months else None)
            if row is not None and column is not None:
                grid.move_cursor(row=row, column=column)
                return
        first = next((i for i, line in enumerate(grid.lines)
                      if line.spend is not None and line.spend.kind == "account"), 0)
        grid.move_cursor(row=first, column=len(months))
        # The estimate beside the newest month in view too, once the grid knows its width.
        self.call_after_refresh(lambda: grid.scroll_to(x=grid.max_scroll_x, animate=False))

    def _picked(self) -> tuple[_Line, int | None] | None:
        """The line and month column under the cursor (``None`` column: the estimate)."""
        grid = self.grid
        row, column = grid.cursor_coordinate
        if not grid.lines or not 0 <= row < len(grid.lines) or column < 1:
            return None
        line = grid.lines[row]
        if line.spend is None:
            return None
        return line, (column - 1 if column <= len(self.table.months) else None)

    @on(DataTable.CellHighlighted, "#spend")
    def _on_highlighted(self, _: DataTable.CellHighlighted) -> None:
        self._describe()

    def _describe(self) -> None:
        """The cursor's cell in words, under the grid."""
        info = self.query_one("#spend-info", Static)
        picked = self._picked()
        if picked is None:
            info.update(Content(""))
            return
        line, column = picked
        row = line.spend
        assert row is not None
        code = line.block.currency
        who = sanitize(row.account) if row.kind == "account" else (
            provider_display_name(sanitize(row.provider)) if row.kind == "provider"
            else f"All {code}")
        if column is None:
            amount = self._money(row.estimate, code) if row.estimate else ""
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
        picked = self._picked()
        if picked is None:
            return
        line, column = picked
        assert line.spend is not None
        month = None if column is None else self.table.months[column]
        self.dismiss(SpendPick(self.table.drill(line.spend, column), line.key, month))

    def action_back(self) -> None:
        self.dismiss(None)

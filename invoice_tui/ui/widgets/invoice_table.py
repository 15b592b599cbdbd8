"""The invoice table: a line-API ``ScrollView`` that draws only the rows on screen.

The stock ``DataTable`` builds every row up front (seconds for 100 000 invoices and
again on every filter). Here the rows are the :class:`~invoice_tui.view.InvoiceView`'s
filtered, sorted index and ``render_line`` turns the few visible ones into strips on
demand (as Toolong's log view does), so loading, filtering and sorting cost what the
view costs and painting costs one screen.

Text from an API is sanitized and drawn as plain segments: never parsed as markup.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator, Sequence
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from invoice_tui.index import AccountIndex
from invoice_tui.meaning import MoneyFacts, MoneyTotals, meaning, money_totals
from invoice_tui.model import Invoice
from invoice_tui.view import (
    Column,
    InvoiceView,
    Period,
    cell_text,
    column,
    fit_columns,
)

__all__ = ["InvoiceTable", "TableState"]

_TOTALS_IN_THREAD_AT = 4096  # visible rows: from here on, totals are summed in a thread
_GAP = 1  # cells between columns
_MARGIN = 1  # cells left of the first column
_EMPTY_LINES = 3  # lines the empty table's text may wrap to


class TableState(NamedTuple):
    """Everything needed to put the table back exactly as it was (Esc from a detail view)."""

    cursor_key: tuple[str, str] | None
    cursor_row: int
    scroll_y: int
    query: str
    period: Period
    accounts: frozenset[str] | None
    statuses: frozenset[str] | None
    sort_key: str
    sort_reverse: bool


class _TableMessage(Message):
    """A message from an :class:`InvoiceTable`; ``control`` is the table, for ``@on(…, "#id")``."""

    coalesce: ClassVar[bool] = False  # a pending one of the same kind and table is superseded

    def __init__(self, table: InvoiceTable) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> InvoiceTable:
        return self.table

    def can_replace(self, message: Message) -> bool:
        return self.coalesce and type(message) is type(self) and (
            isinstance(message, _TableMessage) and message.table is self.table)


class InvoiceTable(ScrollView, can_focus=True):
    """Every account's invoices, filtered and sorted by an :class:`InvoiceView`."""

    ALLOW_MAXIMIZE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="invoice_table.cursor_up",
                tooltip="Move to the previous invoice"),
        Binding("down,j", "cursor_down", "Down", show=False, id="invoice_table.cursor_down",
                tooltip="Move to the next invoice"),
        Binding("pageup", "cursor_page(-1)", "Page up", show=False,
                id="invoice_table.page_up", tooltip="Move one screen up"),
        Binding("pagedown", "cursor_page(1)", "Page down", show=False,
                id="invoice_table.page_down", tooltip="Move one screen down"),
        Binding("ctrl+u", "cursor_page(-0.5)", "Half page up", show=False,
                id="invoice_table.half_page_up", tooltip="Move half a screen up"),
        Binding("ctrl+d", "cursor_page(0.5)", "Half page down", show=False,
                id="invoice_table.half_page_down", tooltip="Move half a screen down"),
        Binding("home,g", "cursor_first", "First", show=False, id="invoice_table.first",
                tooltip="Go to the first invoice"),
        Binding("end,G", "cursor_last", "Last", show=False, id="invoice_table.last",
                tooltip="Go to the last invoice"),
        Binding("enter", "select", "Open", id="invoice_table.open",
                tooltip="Open the invoice under the cursor"),
        Binding("s", "sort_next", "Sort", id="invoice_table.sort_next",
                tooltip="Sort by the next column"),
        Binding("S", "sort_reverse", "Reverse", show=False, id="invoice_table.sort_reverse",
                tooltip="Reverse the sort order"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "invoice-table--header",
        "invoice-table--header-sorted",
        "invoice-table--cursor",
        "invoice-table--even-row",
        "invoice-table--empty",
        "invoice-table--estimate",
        "invoice-table--status-paid",
        "invoice-table--status-open",
        "invoice-table--status-overdue",
        "invoice-table--status-cancelled",
        "invoice-table--status-estimate",
        "invoice-table--status-upcoming",
        "invoice-table--status-issued",
        "invoice-table--status-other",
    }

    DEFAULT_CSS = """
    InvoiceTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
        & > .invoice-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .invoice-table--header-sorted {
            color: $accent;
            text-style: bold;
        }
        & > .invoice-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .invoice-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .invoice-table--even-row {
            background: $surface-lighten-1 40%;
        }
        & > .invoice-table--empty {
            color: $text-muted;
            text-style: italic;
        }
        & > .invoice-table--estimate { text-style: italic; }
        & > .invoice-table--status-paid { color: $text-success; }
        & > .invoice-table--status-open { color: $text-primary; }
        & > .invoice-table--status-overdue { color: $text-error; text-style: bold; }
        & > .invoice-table--status-cancelled { color: $text-muted; text-style: dim; }
        & > .invoice-table--status-estimate { color: $text-warning; text-style: italic; }
        & > .invoice-table--status-upcoming { color: $text-warning; text-style: italic; }
        & > .invoice-table--status-issued { }
        & > .invoice-table--status-other { }
    }
    """

    cursor_row: reactive[int] = reactive(0, repaint=False, init=False)
    """Index of the highlighted row in the visible rows."""

    class Selected(_TableMessage):
        """An invoice was chosen (Enter or double-click)."""

        def __init__(self, table: InvoiceTable, invoice: Invoice) -> None:
            super().__init__(table)
            self.invoice = invoice

    class Highlighted(_TableMessage):
        """The cursor moved to another invoice (or to none). Bursts coalesce."""

        coalesce = True

        def __init__(self, table: InvoiceTable, invoice: Invoice | None) -> None:
            super().__init__(table)
            self.invoice = invoice

    class ViewChanged(_TableMessage):
        """The visible rows, the filter or the sort changed. Bursts coalesce."""

        coalesce = True

    def __init__(
        self,
        view: InvoiceView | None = None,
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's widget signature
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._view = view if view is not None else InvoiceView()
        self._cursor_key: tuple[str, str] | None = None
        self._highlighted_key: tuple[str, str] | None | bool = False  # False: never posted
        self._line_cache: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        # Rich styles by (focused, component classes): worked out once, not per line drawn
        # (rich_style walks the ancestors; a screen of rows asked for it ~200 times).
        self._styles: dict[tuple[bool, tuple[str, ...]], Style] = {}
        self._columns_cache: tuple[tuple[int, int], list[tuple[Column, int]]] | None = None
        self._layout: tuple[tuple[str, int], ...] = ()  # the columns' keys and widths
        self._rows_stale = True
        self._sync_scheduled = False
        self._empty_text = "No invoices yet"
        self._totals_version = -1  # the view version whose totals are being summed
        self._hidden_sort: str | None = None  # hidden_sort at the last resize

    # -- public API ----------------------------------------------------------------------

    @property
    def view(self) -> InvoiceView:
        """The query model behind the table (call :meth:`refresh_rows` after changing it)."""
        return self._view

    @property
    def empty_text(self) -> str:
        """What the table says while the accounts it shows have no invoice at all (their
        first sync under way, or failed): filters are not why it is empty then."""
        return self._empty_text

    @empty_text.setter
    def empty_text(self, text: str) -> None:
        if text != self._empty_text:
            self._empty_text = text
            if not self._view.rows:
                self.refresh()

    @property
    def hidden_sort(self) -> str | None:
        """"sorted by tax ▼" while the sort column is hidden at this width (its header, and
        so its arrow, is not drawn), else ``None``."""
        key = self._view.sort_key
        if any(col.key == key for col, _ in self._columns()):
            return None
        return f"sorted by {column(key).title.lower()} {_arrow(self._view.sort_reverse)}"

    @property
    def cursor_invoice(self) -> Invoice | None:
        """The invoice under the cursor, if any row is visible."""
        self._sync_rows()
        return self._invoice_at(self.cursor_row)

    def totals(self) -> dict[str, MoneyTotals] | None:
        """The view's totals of the visible rows; ``None`` while they are being summed.

        Summing 100 000 invoices exactly takes tens of milliseconds: a big set is summed in
        a thread (``ViewChanged`` is posted when they are in), so no keystroke waits — and
        only once the frame with the rows is drawn, which it would slow down (the GIL).
        """
        view = self._view
        if view.loading:
            return None
        if view.cached_totals() is not None or len(view.rows) < _TOTALS_IN_THREAD_AT:
            return view.totals()
        if self._totals_version != view.version:
            self._totals_version = view.version
            self.call_after_refresh(self._start_sum, view.version)
        return None

    def _start_sum(self, version: int) -> None:
        if self._view.version != version:
            return  # another key came first: its own totals are on their way
        facts = self._view.money_facts()
        self.run_worker(lambda: self._sum(facts, version), name="totals",
                        group="totals", thread=True, exit_on_error=False)

    def _sum(self, facts: Iterable[MoneyFacts], version: int) -> None:
        totals = money_totals(self._while_current(facts, version))
        if self._view.version == version:
            self.app.call_from_thread(self._summed, totals, version)

    def _while_current(self, facts: Iterable[MoneyFacts], version: int
                       ) -> Iterator[MoneyFacts]:
        # A keystroke later these totals are of rows no longer shown: stop summing them (the
        # partial sums are thrown away) rather than hold the GIL the next frame needs.
        for count, fact in enumerate(facts):
            if not count % 4096 and self._view.version != version:
                return
            yield fact

    def _summed(self, totals: dict[str, MoneyTotals], version: int) -> None:
        if self._view.set_totals(totals, version):
            self.post_message(self.ViewChanged(self))

    def set_account_index(self, index: AccountIndex) -> None:
        """Show one account's invoices (read in a thread from the store), replacing what it
        showed; the cursor stays on its invoice when still visible."""
        self._view.set_index(index)
        self.refresh_rows()

    def set_preview(self, rows: Sequence[tuple[int, Invoice]], count: int) -> None:
        """Before any account's index: the first (pk, invoice) rows and how many there are."""
        self._view.set_preview(rows, count)
        self.refresh_rows()

    def remove_account(self, account: str) -> None:
        """Drop one account's invoices."""
        self._view.remove_account(account)
        self.refresh_rows()

    def set_query(self, text: str) -> None:
        """Filter by words over number, label, status, account and line descriptions."""
        self._view.set_query(text)
        self.refresh_rows()

    def set_period(self, period: Period) -> None:
        """Show only invoices issued in ``period``."""
        self._view.set_period(period)
        self.refresh_rows()

    def set_accounts(self, names: Iterable[str] | None) -> None:
        """Show only these accounts (``None``: all)."""
        self._view.set_accounts(names)
        self.refresh_rows()

    def set_statuses(self, statuses: Iterable[str] | None) -> None:
        """Show only these statuses (``None``: all)."""
        self._view.set_statuses(statuses)
        self.refresh_rows()

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by a column key; the same key again reverses (unless ``reverse`` is given)."""
        self._view.sort_by(key, reverse)
        self.refresh_rows()

    def refresh_rows(self) -> None:
        """Re-read the view after it changed (every setter here calls this).

        The work (filtering, sorting, moving the cursor, ``ViewChanged``) runs once, just
        after the current message handler: a burst of changes (every account loaded from
        the cache in one go, a restored state) costs one recomputation. ``cursor_invoice``
        and ``snapshot_state`` are always up to date; ``cursor_row`` after that.
        """
        self._rows_stale = True
        if self.is_mounted and not self._sync_scheduled:  # before mount, on_mount syncs
            self._sync_scheduled = True
            self.call_later(self._sync_rows)

    def _sync_rows(self) -> None:
        self._sync_scheduled = False
        if not self._rows_stale:
            return
        self._rows_stale = False
        rows = self._view.rows  # (lines are cached by what they show: nothing to drop)
        self.virtual_size = Size(0, len(rows) + 1)  # + the header line
        target: int | None = None
        if self._cursor_key is not None:
            target = self._view.nearest_index(*self._cursor_key)
        if target is None:
            target = min(self.cursor_row, max(0, len(rows) - 1))
        self._move_cursor(target)
        self.refresh()
        self.post_message(self.ViewChanged(self))

    def snapshot_state(self) -> TableState:
        """Cursor, scroll position, filters and sort, for :meth:`restore_state`."""
        self._sync_rows()
        view = self._view
        return TableState(
            cursor_key=self._cursor_key, cursor_row=self.cursor_row,
            scroll_y=round(self.scroll_y), query=view.query, period=view.period,
            accounts=view.accounts, statuses=view.statuses,
            sort_key=view.sort_key, sort_reverse=view.sort_reverse,
        )

    def restore_state(self, state: TableState) -> None:
        """Put back what :meth:`snapshot_state` saw (the cursor follows its invoice)."""
        view = self._view
        view.set_query(state.query)
        view.set_period(state.period)
        view.set_accounts(state.accounts)
        view.set_statuses(state.statuses)
        view.sort_by(state.sort_key, state.sort_reverse)
        self._cursor_key = state.cursor_key
        self.set_reactive(InvoiceTable.cursor_row, state.cursor_row)
        self._rows_stale = True
        self._sync_rows()
        self.scroll_to(y=state.scroll_y, animate=False, force=True)
        self._scroll_cursor_into_view()

    # -- cursor --------------------------------------------------------------------------

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self._view.rows) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        self._after_cursor_move()

    def _move_cursor(self, row: int) -> None:
        row = self.validate_cursor_row(row)
        if row != self.cursor_row:
            self.cursor_row = row  # the watcher repaints, scrolls and posts Highlighted
        else:
            self._after_cursor_move()

    def _invoice_at(self, row: int) -> Invoice | None:
        rows = self._view.rows
        return rows[row] if 0 <= row < len(rows) else None

    def _after_cursor_move(self) -> None:
        # Not cursor_invoice: syncing here would pull the cursor back to the old invoice.
        invoice = self._invoice_at(self.cursor_row)
        self._cursor_key = None if invoice is None else (invoice.account, invoice.id)
        self._scroll_cursor_into_view()
        if self._cursor_key != self._highlighted_key:
            self._highlighted_key = self._cursor_key
            self.post_message(self.Highlighted(self, invoice))

    @property
    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # minus the header

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, force=True)
        elif self.cursor_row >= top + self._page_height:
            self.scroll_to(y=self.cursor_row - self._page_height + 1, animate=False, force=True)

    def _refresh_row(self, row: int) -> None:
        self.refresh_line(row + 1)  # line 0 is the header

    # -- actions -------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._sync_rows()
        self._move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._sync_rows()
        self._move_cursor(self.cursor_row + 1)

    def action_cursor_page(self, pages: float) -> None:
        self._sync_rows()
        step = max(1, int(self._page_height * abs(pages)))
        step = step if pages > 0 else -step
        self.scroll_to(y=round(self.scroll_y) + step, animate=False, force=True)
        self._move_cursor(self.cursor_row + step)

    def action_cursor_first(self) -> None:
        self._sync_rows()
        self._move_cursor(0)

    def action_cursor_last(self) -> None:
        self._sync_rows()
        self._move_cursor(len(self._view.rows) - 1)

    def action_select(self) -> None:
        self._sync_rows()
        invoice = self.cursor_invoice
        if invoice is not None:
            self.post_message(self.Selected(self, invoice))

    def action_sort_next(self) -> None:
        self._sync_rows()
        keys = [col.key for col, _ in self._columns()]
        current = self._view.sort_key
        following = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        self.sort_by(following)

    def action_sort_reverse(self) -> None:
        self._sync_rows()
        self.sort_by(self._view.sort_key, not self._view.sort_reverse)

    # -- events --------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._sync_rows()

    def on_resize(self, event: events.Resize) -> None:
        self._line_cache.clear()
        self._scroll_cursor_into_view()
        hidden = self.hidden_sort
        if hidden != self._hidden_sort:  # the sort column came or went: say so around it
            self._hidden_sort = hidden
            self.post_message(self.ViewChanged(self))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        self._sync_rows()
        if offset.y == 0:
            key = self._column_at(offset.x)
            if key is not None:
                self.sort_by(key)
            return
        row = round(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._view.rows):
            self._move_cursor(row)
            if event.chain >= 2:
                self.action_select()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_cache.clear()
        self._styles.clear()

    def _style(self, *components: str) -> Style:
        """The widget's style plus these component classes' (``invoice-table--`` + each)."""
        key = (self.has_focus, components)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            for name in components:
                style = style + self.get_component_rich_style(f"invoice-table--{name}")
            self._styles[key] = style
        return style

    # -- rendering -----------------------------------------------------------------------

    def _columns(self) -> list[tuple[Column, int]]:
        width = self.scrollable_content_region.width
        key = (width, self._view.version)
        if self._columns_cache is None or self._columns_cache[0] != key:
            natural = self._view.natural_widths()
            self._columns_cache = (key, fit_columns(max(0, width - _MARGIN), _GAP, natural))
            self._layout = tuple((col.key, col_width) for col, col_width in self._columns_cache[1])
        return self._columns_cache[1]

    def _column_at(self, x: int) -> str | None:
        left = _MARGIN
        for col, width in self._columns():
            if left <= x < left + width + _GAP:
                return col.key
            left += width + _GAP
        return None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._render_header(width)
        rows = self._view.rows
        if not rows:
            return self._render_empty(y, width)
        row = round(self.scroll_y) + y - 1
        if row >= len(rows):
            return Strip.blank(width, self._style())
        invoice = rows[row]
        is_cursor = row == self.cursor_row
        # By what the line shows, not where: after a sort or a narrower filter, invoices
        # still on screen are not drawn again (an Invoice hashes by value).
        self._columns()
        key = (invoice, row % 2, width, is_cursor, self.has_focus, self._layout)
        strip = self._line_cache.get(key)
        if strip is None:
            strip = self._render_row(invoice, row, width, is_cursor)
            self._line_cache[key] = strip
        return strip

    def _render_header(self, width: int) -> Strip:
        base = self._style("header")
        sorted_style = self._style("header", "header-sorted")
        arrow = " " + _arrow(self._view.sort_reverse)
        cells: list[tuple[str, Style]] = []
        for col, col_width in self._columns():
            if col.key == self._view.sort_key:
                cells.append((_fit(col.title + arrow, col_width, col.align), sorted_style))
            else:
                cells.append((_fit(col.title, col_width, col.align), base))
        return _assemble(cells, width, base)

    def _render_empty(self, y: int, width: int) -> Strip:
        middle = max(1, self.scrollable_content_region.height // 2)
        if not middle <= y < middle + _EMPTY_LINES:
            return Strip.blank(width, self._style())
        # Wrapped (a sync's failure reason is long), a few lines at most.
        lines = textwrap.wrap(self._why_empty(), max(1, width - 2)) or [""]
        if len(lines) > _EMPTY_LINES:
            lines[_EMPTY_LINES - 1] += " " + " ".join(lines[_EMPTY_LINES:])
        text = lines[y - middle] if y - middle < len(lines) else ""
        style = self._style("empty")
        return Strip([Segment(_fit(text, width, "center"), style)], width)

    def _why_empty(self) -> str:
        view = self._view
        if view.loading:
            return f"Loading {view.total_count:,} invoices…"
        shown = view.accounts
        if not view.total_count or (shown is not None
                                    and shown.isdisjoint(view.account_names)):
            return self.empty_text  # no filter hides anything: there is nothing yet
        if view.query or view.statuses is not None or shown is not None:
            return "No invoices match · Esc clears the filters"
        return f"No invoices in {view.period.label()}"

    def _render_row(self, invoice: Invoice, row: int, width: int, is_cursor: bool) -> Strip:
        # zebra stripes (style the class as nothing to turn them off), then the cursor on top
        row_parts = (*(("even-row",) if row % 2 == 0 else ()), *(("cursor",) if is_cursor else ()))
        row_style = self._style(*row_parts)
        status_style = self._style(*row_parts[:1], f"status-{meaning(invoice)}", *row_parts[1:])
        amount_style = (self._style(*row_parts[:1], "estimate", *row_parts[1:])
                        if invoice.is_estimate else row_style)
        cells: list[tuple[str, Style]] = []
        for col, col_width in self._columns():
            text = cell_text(invoice, col.key)
            style = row_style
            if col.key == "status":
                style = status_style
            elif col.align == "right":
                style = amount_style
            cells.append((_fit(text, col_width, col.align), style))
        return _assemble(cells, width, row_style)


def _arrow(reverse: bool) -> str:
    return "▼" if reverse else "▲"


def _fit(text: str, width: int, align: str) -> str:
    """``text`` padded or cut (with "…") to exactly ``width`` cells, wide characters included."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…"
    pad = width - length
    if align == "right":
        return " " * pad + text
    if align == "center":
        return " " * (pad // 2) + text + " " * (pad - pad // 2)
    return text + " " * pad


def _assemble(cells: list[tuple[str, Style]], width: int, fill: Style) -> Strip:
    """One line: margin, cells ``_GAP`` apart, padded (or cropped) to ``width``.

    Neighbours of the same style are one segment: Textual then filters, divides and
    measures a handful per line instead of twenty.
    """
    texts, styles = [" " * _MARGIN], [fill]
    for index, (text, style) in enumerate(cells):
        if index:
            texts.append(" " * _GAP)
            styles.append(fill)
        texts.append(text)
        styles.append(style)
    segments: list[Segment] = []
    start = 0
    for end in range(1, len(texts) + 1):
        if end == len(texts) or styles[end] is not styles[start]:
            segments.append(Segment("".join(texts[start:end]), styles[start]))
            start = end
    strip = Strip(segments)
    return strip.crop_extend(0, width, fill) if strip.cell_length != width else strip

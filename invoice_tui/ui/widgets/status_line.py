"""The bottom status line: visible count, billed/due/est. per currency, period, filter, sync."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from textual.content import Content
from textual.widgets import Static

from invoice_tui.meaning import MoneyTotals
from invoice_tui.text import sanitize
from invoice_tui.ui.formatting import relative_time, totals_text

_SEPARATOR = Content.styled("  │  ", "$text-muted")


class StatusLine(Static):
    """One line summarising what the invoice table shows.

    When the terminal is too narrow for everything, the parts shown elsewhere go first
    (the period is in the table's title, the filter in its input), then the sync time;
    the count and the per-currency totals always stay. If they still do not fit, the
    totals shorten by whole parts (``meaning.fit_totals``): the ``est.`` figures, then
    whole currencies ("+1 currency") — never a cut figure.
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._sections: list[tuple[int, Content]] = []  # (drop order, 0 = never), in order
        self._totals: Mapping[str, MoneyTotals] = {}
        self._totals_part: Content | None = None  # the section that shortens to fit
        self._line: tuple[str, tuple[object, ...]] | None = None  # text and styles shown

    def show(
        self,
        *,
        visible: int,
        total: int,
        totals: Mapping[str, MoneyTotals] | None,
        period: str,
        query: str,
        last_sync: dt.datetime | None,
        now: dt.datetime,
        syncing: int = 0,
        loading: bool = False,
        sync_failed: bool = False,
    ) -> None:
        """Redraw from the table's view and the accounts' sync state.

        ``totals`` is ``None`` while they are being worked out (shown as such); ``loading``
        while only the first rows of ``total`` invoices are read (no totals yet);
        ``sync_failed`` when every account of the latest sync failed (``last_sync`` is then
        the last good one, not the latest).
        """
        self._totals = (totals or {}) if visible else {}
        self._totals_part = _totals_content(self._totals)
        if loading:
            count = Content.assemble(("loading ", "$text-muted"), (f"{total:,}", "bold"),
                                     " invoices…")
        else:
            count = Content.assemble((f"{visible:,}", "bold"), f" of {total:,} invoices")
        if totals is None and visible:
            self._totals_part = Content.styled("totals …", "$text-muted")
        sections = [(0, count)] if loading else [(0, count), (0, self._totals_part)]
        sections.append((5, Content.assemble(("period ", "$text-muted"), period)))
        if query:
            sections.append((4, Content.assemble(("filter ", "$text-muted"),
                                                 (f"“{sanitize(query)}”", "bold"))))
        when: Content | str = relative_time(last_sync, now)
        if sync_failed:  # last_sync is of an earlier sync that worked: not news
            when = Content.assemble(("failed", "$text-error"),
                                    (f" (last ok {when})" if last_sync else "", "$text-muted"))
        sections.append((3, Content.assemble(("last sync ", "$text-muted"), when)))
        if syncing:
            sections.append((2, Content.styled(f"⟳ {syncing} syncing", "$warning")))
        self._sections = sections
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        width = self.content_region.width or self.app.size.width
        shown = list(self._sections)
        while _length(shown) > width and any(order for order, _ in shown):
            drop = max(order for order, _ in shown)
            shown = [(order, part) for order, part in shown if order != drop]
        if _length(shown) > width and self._totals:
            rest = _length([(o, p) for o, p in shown if p is not self._totals_part])
            room = max(0, width - rest - _SEPARATOR.cell_length)
            short = _totals_content(self._totals, room)
            shown = [(o, short if p is self._totals_part else p) for o, p in shown]
            sections = [(o, short if p is self._totals_part else p) for o, p in self._sections]
            # The shorter totals may leave room: bring back what was dropped, least
            # droppable first, and stop at the first that does not fit (keeps the order).
            kept = {o for o, _ in shown}
            for order in sorted({o for o, _ in sections} - kept):
                wider = [(o, p) for o, p in sections if o in kept or o == order]
                if _length(wider) > width:
                    break
                shown, kept = wider, kept | {order}
        # Not _SEPARATOR.join(): Textual 8.2's Content.join counts one separator too many in
        # cell_length, so truncate() would cut a line that fits.
        pieces: list[Content] = []
        for _, part in shown:
            pieces += [_SEPARATOR, part] if pieces else [part]
        line = Content.assemble(*pieces)
        line = line.truncate(width, ellipsis=True) if width else line
        drawn = (line.plain, tuple(line.spans))  # Content's == compares the text alone
        if drawn != self._line:  # a repaint only for a change (a sort changes nothing here)
            self._line = drawn
            # One line, always (its CSS height): no layout of the whole screen for new text.
            self.update(line, layout=False)


def _totals_content(totals: Mapping[str, MoneyTotals], width: int | None = None) -> Content:
    return Content.styled(totals_text(totals, width), "bold $accent")


def _length(sections: list[tuple[int, Content]]) -> int:
    return sum(part.cell_length for _, part in sections) + _SEPARATOR.cell_length * max(
        0, len(sections) - 1)

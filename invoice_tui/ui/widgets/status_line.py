"""The bottom status line: visible count, billed/due/est. per currency, the active filters
as chips, sync."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from textual.content import Content
from textual.widgets import Static

from invoice_tui.meaning import MoneyTotals
from invoice_tui.text import sanitize
from invoice_tui.ui.formatting import relative_time, totals_text

_SEPARATOR = Content.styled("  │  ", "$text-muted")
_CHIP_STYLE = "$text-accent on $accent-muted"
_SHORTEST_CHIP = 6  # cells of a chip cut to fit: " ab… " still says which filter it is


class StatusLine(Static):
    """One line summarising what the invoice table shows.

    The active filters (query terms, status, period, accounts) are chips. When the
    terminal is too narrow for everything, the sync time goes first; then the chips
    shorten (the first ones stay, the rest counted: ``+2``; never none); then the totals
    shorten by whole parts (``meaning.fit_totals``): the ``est.`` figures, then whole
    currencies ("+1 currency") — never a cut figure. The count always stays.
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._sections: list[tuple[int, Content]] = []  # (drop order, 0 = never), in order
        self._totals: Mapping[str, MoneyTotals] = {}
        self._totals_part: Content | None = None  # the section that shortens to fit
        self._chips: tuple[str, ...] = ()
        self._chips_at: int | None = None  # … and where the chips are, which shorten first
        self._line: tuple[str, tuple[object, ...]] | None = None  # text and styles shown

    def show(
        self,
        *,
        visible: int,
        total: int,
        totals: Mapping[str, MoneyTotals] | None,
        period: str,
        chips: Sequence[str] = (),
        last_sync: dt.datetime | None,
        now: dt.datetime,
        syncing: int = 0,
        loading: bool = False,
        sync_failed: bool = False,
    ) -> None:
        """Redraw from the table's view and the accounts' sync state.

        ``totals`` is ``None`` while they are being worked out (shown as such); ``loading``
        while only the first rows of ``total`` invoices are read (no totals yet). ``chips``:
        the active filters, as typed (sanitized here); with none, the ``period`` is named.
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
        self._chips = tuple(sanitize(chip) for chip in chips)
        self._chips_at = len(sections) if chips else None
        if chips:
            sections.append((0, _chips_content(self._chips)))
        else:
            sections.append((5, Content.assemble(("period ", "$text-muted"), period)))
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
        sections = list(self._sections)
        # The chips first give up all but the first whole one, then the totals shorten, then
        # (a very narrow terminal) the first chip is cut.
        shown, sections = self._fit_chips(shown, sections, width, cut=False)
        if _length(shown) > width and self._totals:
            rest = _length([(o, p) for o, p in shown if p is not self._totals_part])
            room = max(0, width - rest - _SEPARATOR.cell_length)
            short = _totals_content(self._totals, room)
            shown = [(o, short if p is self._totals_part else p) for o, p in shown]
            sections = [(o, short if p is self._totals_part else p) for o, p in sections]
            # The shorter totals may leave room: bring back what was dropped, least
            # droppable first, and stop at the first that does not fit (keeps the order).
            kept = {o for o, _ in shown}
            for order in sorted({o for o, _ in sections} - kept):
                wider = [(o, p) for o, p in sections if o in kept or o == order]
                if _length(wider) > width:
                    break
                shown, kept = wider, kept | {order}
        shown, sections = self._fit_chips(shown, sections, width, cut=True)
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

    def _fit_chips(self, shown: _Sections, sections: _Sections, width: int, *, cut: bool
                   ) -> tuple[_Sections, _Sections]:
        """``shown`` and ``sections`` with the chips shortened to what room is left."""
        if self._chips_at is None or _length(shown) <= width:
            return shown, sections
        chips = sections[self._chips_at][1]
        rest = _length([(o, p) for o, p in shown if p is not chips])
        short = _chips_content(self._chips, max(0, width - rest - _SEPARATOR.cell_length), cut)
        return ([(o, short if p is chips else p) for o, p in shown],
                [(o, short if p is chips else p) for o, p in sections])


_Sections = list[tuple[int, Content]]


def _totals_content(totals: Mapping[str, MoneyTotals], width: int | None = None) -> Content:
    return Content.styled(totals_text(totals, width), "bold $accent")


def _length(sections: list[tuple[int, Content]]) -> int:
    return sum(part.cell_length for _, part in sections) + _SEPARATOR.cell_length * max(
        0, len(sections) - 1)


def _chip(text: str, width: int | None = None) -> Content:
    body = Content(text)  # Content, not markup: a term may hold "[" from anyone's data
    if width is not None and body.cell_length + 2 > width:
        body = body.truncate(max(2, width - 2), ellipsis=True)
    return Content.assemble(" ", body, " ").stylize(_CHIP_STYLE)


def _chips_content(chips: Sequence[str], width: int | None = None, cut: bool = True
                   ) -> Content:
    """The chips in ``width`` cells (``None``: all): as many whole ones as fit, the rest
    counted (``+2``); at least the first, whole or (``cut``) cut to fit."""
    whole = [_chip(text) for text in chips]
    for count in range(len(whole), 0, -1):
        line = _spaced([*whole[:count], *_more(len(whole) - count)])
        if width is None or line.cell_length <= width:
            return line
    rest = _more(len(whole) - 1)
    if not cut:
        return _spaced([whole[0], *rest])
    room = max(_SHORTEST_CHIP, (width or 0) - sum(part.cell_length + 1 for part in rest))
    return _spaced([_chip(chips[0], room), *rest])


def _more(count: int) -> list[Content]:
    return [Content.styled(f"+{count}", "bold")] if count else []


def _spaced(parts: Sequence[Content]) -> Content:
    pieces: list[Content] = []
    for part in parts:
        pieces += [Content(" "), part] if pieces else [part]
    return Content.assemble(*pieces)

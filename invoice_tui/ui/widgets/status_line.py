"""The bottom status line: visible count, per-currency totals, period, filter, last sync."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from textual.content import Content
from textual.widgets import Static

from invoice_tui.ui.formatting import relative_time, safe, totals_text


class StatusLine(Static):
    """One line summarising what the invoice table shows."""

    def show(
        self,
        *,
        visible: int,
        total: int,
        totals: Mapping[str, Decimal],
        period: str,
        query: str,
        last_sync: dt.datetime | None,
        now: dt.datetime,
        syncing: int = 0,
    ) -> None:
        """Redraw from the table's view and the accounts' sync state."""
        sep = ("  │  ", "$text-muted")
        parts: list[str | tuple[str, str]] = [
            (f"{visible:,}", "bold"), f" of {total:,} invoices", sep,
            (totals_text(totals) if visible else "no amounts", "bold $accent"), sep,
            ("period ", "$text-muted"), period,
        ]
        if query:
            parts += [sep, ("filter ", "$text-muted"), (f"“{safe(query)}”", "bold")]
        parts += [sep, ("last sync ", "$text-muted"), relative_time(last_sync, now)]
        if syncing:
            parts += [sep, (f"⟳ {syncing} syncing", "$warning")]
        self.update(Content.assemble(*parts))

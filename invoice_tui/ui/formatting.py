"""Small display helpers shared by the screens (relative times, money lines, usage bars).

Everything here returns Textual ``Content`` built from plain strings, so text that
came from an API is never parsed as markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.screen import Screen
from textual.style import Style

from invoice_tui.clip import shortened
from invoice_tui.meaning import MEANING_TEXT, Meaning, MoneyTotals, fit_totals, meaning
from invoice_tui.meaning import status_label as _status_label
from invoice_tui.model import Invoice, format_money
from invoice_tui.text import sanitize

# Colour of each status meaning (meaning.meaning); theme variables, not colours. A
# Voximplant invoice is "issued": already charged, nothing to act on, so no colour.
STATUS_STYLES: Mapping[Meaning, str] = {
    "paid": "$success",
    "open": "$accent",
    "overdue": "$error",
    "cancelled": "$text-muted",
    "estimate": "$warning",
    "upcoming": "$warning",
    "issued": "",
    "other": "",
}


def relative_time(then: dt.datetime | None, now: dt.datetime) -> str:
    """``"just now"``, ``"5 min ago"``, ``"3 h ago"``, ``"2 d ago"`` (never negative)."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    if seconds < 60:
        # A clock a little behind the server's (or a frozen test clock) reads as "just now".
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    return f"{hours // 24} d ago"


def money_text(amount: Decimal | None, currency: str | None) -> str:
    """An amount with its ISO code, or an em dash when absent."""
    if amount is None:
        return "—"
    return format_money(amount, currency or "", with_code=bool(currency))


TOTALS_SEPARATOR = "  │  "  # between currencies: each one's billed · due · est. stay together


def totals_text(totals: Mapping[str, MoneyTotals], width: int | None = None) -> str:
    """Billed, due and est. per currency (see ``meaning.fit_totals``) — never a mixed sum.

    With a ``width``, shortened by whole parts to fit it.
    """
    if not totals:
        return "no amounts"
    return TOTALS_SEPARATOR.join(fit_totals(totals, width, TOTALS_SEPARATOR))


def status_content(invoice: Invoice, *, detail: bool = False) -> Content:
    """The status as shown (``meaning.status_label``) coloured by its meaning.

    ``detail`` adds what the table has no room for: the raw word when the label differs,
    what the status means, and a reverse ``ESTIMATE`` badge for estimates.
    """
    kind = meaning(invoice)
    shown = _status_label(invoice) or "?"
    parts: list[str | tuple[str, str]] = [(shown, f"bold {STATUS_STYLES[kind]}".strip())]
    if detail:
        raw = sanitize(invoice.status)
        if raw != shown:
            parts += [("  status ", "$text-muted"), (f"“{raw}”", "")]
        if kind == "estimate":
            parts += [" ", (" ESTIMATE ", "bold reverse $warning")]
        if kind != raw.strip().casefold():  # not "paid  paid"
            parts.append((f"  {MEANING_TEXT[kind]}", "italic $text-muted"))
    return Content.assemble(*parts)


def usage_bar(consumption: Decimal | None, limit: Decimal | None, width: int = 10) -> Content:
    """``"████░░░░░░ 40 % of 1,000"``; over the limit in the error colour; empty when unknown."""
    if consumption is None:
        return Content("")
    if limit is None or limit <= 0:
        return Content(f"{_number(consumption)} used")
    ratio = consumption / limit
    filled = min(width, int((ratio * width).to_integral_value(rounding="ROUND_FLOOR")))
    percent = int((ratio * 100).to_integral_value(rounding="ROUND_HALF_UP"))
    over = consumption > limit
    bar_style = "$error" if over else ("$warning" if ratio >= Decimal("0.8") else "$success")
    return Content.assemble(
        ("█" * filled, bar_style),
        ("░" * (width - filled), "$text-muted"),
        (f" {percent} % of {_number(limit)}", "bold $error" if over else ""),
    )


def _number(value: Decimal) -> str:
    """A quantity with thousands separators and no trailing zeros noise."""
    if value == value.to_integral_value():
        return f"{value.to_integral_value():,f}"
    return f"{value.normalize():,f}"


def to_rich(content: Content, variables: Mapping[str, str]) -> Text:
    """``Content`` as a Rich ``Text`` with theme variables resolved (for DataTable cells).

    DataTable parses ``str`` cells as markup, so untrusted text goes in as ``Text``.
    """
    text = Text(content.plain, no_wrap=True)
    for span in content.spans:
        if isinstance(span.style, Style):
            style = span.style
        else:
            # "auto 60%" needs a background to blend with; Rich's "dim" is the same intent.
            style = Style.parse(span.style.replace("$text-muted", "dim"), dict(variables))
        text.stylize(style.rich_style, span.start, span.end)
    return text


def field_block(rows: list[tuple[str, Content | str]]) -> Content:
    """Label/value pairs, one per line, labels muted and padded to one width."""
    width = max((len(label) for label, _ in rows), default=0)
    return Content("\n").join(
        Content.assemble((label.ljust(width + 2), "$text-muted"), value) for label, value in rows
    )


def copy_text(screen: Screen[Any], text: str, what: str | None = None) -> None:
    """Copy ``text`` (plain, sanitized by :mod:`invoice_tui.clip`) to the clipboard through
    the terminal (OSC 52: works over ssh and in tmux) and toast what was copied: ``what``,
    else the text itself, shortened."""
    screen.app.copy_to_clipboard(text)
    screen.notify(f"Copied {what or shortened(text)}", title="Clipboard", markup=False)

"""Small display helpers shared by the screens (relative times, money lines, usage bars).

Everything here returns Textual ``Content`` built from plain strings, so text that
came from an API is never parsed as markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from rich.text import Text
from textual.content import Content
from textual.style import Style

from invoice_tui.model import format_money
from invoice_tui.text import sanitize
from invoice_tui.view import status_group

# Colour of each status group (view.status_group); theme variables, not colours.
STATUS_GROUP_STYLES: Mapping[str, str] = {
    "paid": "$success",
    "open": "$accent",
    "overdue": "$error",
    "cancelled": "$text-muted",
    "estimate": "$warning",
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


def totals_text(totals: Mapping[str, Decimal]) -> str:
    """Per-currency totals joined with " · " — never one mixed sum."""
    if not totals:
        return "no amounts"
    return " · ".join(format_money(amount, code, with_code=True) for code, amount in totals.items())


def status_content(status: str, *, estimate_badge: bool = False) -> Content:
    """A status coloured by meaning; optional reverse ``ESTIMATE`` badge for estimates."""
    shown = sanitize(status) or "?"
    style = STATUS_GROUP_STYLES[status_group(shown)]
    parts: list[str | tuple[str, str]] = [(shown, f"bold {style}".strip())]
    if estimate_badge and shown.lower() == "estimate":
        parts += [" ", (" ESTIMATE ", "bold reverse $warning")]
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

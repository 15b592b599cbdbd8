"""What the yank keys copy (`y`, `Y`), as plain text: no UI here, the screens send it.

Every piece comes from a provider, so every piece is sanitized: no escape sequence,
control or bidi character reaches the clipboard (or the terminal, which carries the
copy as an OSC 52 sequence), and no tab or newline breaks a tab-separated row.
"""

from __future__ import annotations

from .model import Invoice, Line, format_money
from .text import sanitize
from .view import COLUMNS, cell_text

#: How much of the copied text the toast repeats.
SHOWN_LIMIT = 40


def _cell(text: str) -> str:
    # sanitize makes every tab and line break a space: none shifts the columns after it.
    return sanitize(text)


def invoice_reference(invoice: Invoice) -> str:
    """The invoice's number, else its id (Unleash invoices have no number)."""
    return _cell(invoice.number or invoice.id)


def invoice_row(invoice: Invoice) -> str:
    """The invoice's row of the table, every column (shown at this width or not), as
    tab-separated plain text: the cells exactly as the table writes them, in its column
    order (:data:`~invoice_tui.view.COLUMNS`)."""
    return "\t".join(_cell(cell_text(invoice, column.key)) for column in COLUMNS)


def line_row(invoice: Invoice, line: Line) -> str:
    """One line item as tab-separated text: kind, description, quantity, unit price, net,
    tax, gross and currency (empty where the provider gives no figure)."""
    currency = line.currency or invoice.currency
    quantity = "" if line.quantity is None else f"{line.quantity:f}"
    money = [format_money(amount, currency)
             for amount in (line.unit_price, line.net, line.tax, line.gross)]
    return "\t".join(_cell(text) for text in (line.kind, line.description, quantity, *money,
                                                currency))


def shortened(text: str, limit: int = SHOWN_LIMIT) -> str:
    """``text`` for a toast: tabs shown as ``·``, cut with ``…`` past ``limit`` characters."""
    shown = sanitize(text.replace("\t", " · "))
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"

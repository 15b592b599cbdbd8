"""What the yank keys copy: plain, sanitized text (no UI needed to check it)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ui_helpers import UNTRUSTED, hostile_invoice

from invoice_tui.clip import invoice_reference, invoice_row, line_row, shortened
from invoice_tui.model import Invoice, Line
from invoice_tui.view import COLUMNS


def test_the_row_is_the_tables_columns_tab_separated() -> None:
    invoice = Invoice(account="vox-main", provider="voximplant", id="42", currency="USD",
                      status="new", number="VOX-1", issued=dt.date(2026, 10, 1),
                      period_start=dt.date(2026, 9, 1), period_end=dt.date(2026, 9, 30),
                      subtotal=Decimal("1000"), tax=Decimal("200.5"), total=Decimal("1200.5"))
    assert [c.title for c in COLUMNS] == ["Issued", "Account", "Invoice", "Period", "Status",
                                          "Subtotal", "Tax", "Total", "Cur", "Due"]
    assert invoice_row(invoice) == ("2026-10-01\tvox-main\tVOX-1\t2026-09-01…09-30\tnew\t"
                                    "1,000.00\t200.50\t1,200.50\tUSD\t")
    assert invoice_reference(invoice) == "VOX-1"
    assert invoice_reference(Invoice(account="a", provider="unleash", id="2026-10|Oct",
                                     currency="EUR", status="paid")) == "2026-10|Oct"


def test_hostile_text_reaches_the_clipboard_inert() -> None:
    invoice = hostile_invoice()
    copied = [invoice_reference(invoice), invoice_row(invoice),
              line_row(invoice, invoice.lines[0])]
    for text in copied:
        assert "\x1b" not in text and "\x07" not in text and "\n" not in text
    assert len(invoice_row(invoice).split("\t")) == len(COLUMNS)
    # Markup stays as text (nothing parses it), escape sequences are gone whole.
    assert invoice_reference(invoice) == "INV [bold red]x[/] [link=https://evil.example]click[/link]"
    assert UNTRUSTED not in invoice_row(invoice)
    line = line_row(invoice, invoice.lines[0]).split("\t")
    assert line == ["usage", "Calls [bold red]x[/] [link=https://evil.example]click[/link]",
                    "3", "", "", "", "", "EUR"]  # built without net/gross figures


def test_a_line_with_a_tab_in_its_text_stays_one_cell() -> None:
    invoice = Invoice(account="a", provider="voximplant", id="1", currency="USD", status="new")
    line = Line(kind="service", description="Calls\tto\nmobiles", amount=Decimal("12"),
                tax=Decimal("2"), currency="USD", net=Decimal("10"), gross=Decimal("12"))
    assert line_row(invoice, line) == "service\tCalls to mobiles\t\t\t10.00\t2.00\t12.00\tUSD"


def test_shortened_for_a_toast() -> None:
    assert shortened("a\tb") == "a · b"
    assert shortened("x" * 50, 10) == "x" * 9 + "…"

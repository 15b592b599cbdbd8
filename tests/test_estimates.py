"""Unleash estimates recomputed from their lines, as Unleash's own billing page does.

Parse paths over real HTTP (the hostile server answers exactly the body a case
scripts); the words on screen through Pilot on the demo emulator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hostile import HostileServer, json_reply, unleash_account
from ui_helpers import (
    SIZE,
    TODAY,
    ScriptedSync,
    main_screen,
    scripted_app,
    settle,
    settled_demo,
    widget_text,
)

from invoice_tui.config import Settings
from invoice_tui.demo import demo_account
from invoice_tui.demo.data import unleash_invoices
from invoice_tui.model import (
    BOOL_FIELDS,
    Invoice,
    Line,
    estimate_note,
    invoice_from_dict,
    invoice_to_dict,
    tax_exempt,
)
from invoice_tui.sync import SyncSucceeded, sync_account
from invoice_tui.ui.screens.detail import InvoiceDetailScreen
from invoice_tui.view import cell_text

FAST = Settings(timeout=2, max_retries=0, max_response_mb=1)


def _line(total: object = None, currency: str = "USD", **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"description": "x", "quantity": 1, "currency": currency,
                            "lookupKey": "k", **extra}
    if total is not None:
        line["totalAmount"] = total
    return line


def _invoice(status: str = "estimate", main: tuple[object, ...] = (),
             usage: tuple[object, ...] = (), **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "invoiceDate": "2026-11-01T00:00:00.000Z", "status": status, "currency": "USD",
        "monthText": "November 2026",
        "mainLines": [item if isinstance(item, dict) else _line(item) for item in main],
        "usageLines": [item if isinstance(item, dict) else _line(item) for item in usage],
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not ABSENT}


ABSENT = object()  # a field the case leaves out of the body
ZEROS = {"subtotal": 0, "taxAmount": 0, "totalAmount": 0}

# (name, API invoice, subtotal, tax, total, computed, incomplete, the detail's word)
CASES = [
    ("0/0/0 with main and usage lines",
     _invoice(main=(900, "0.50"), usage=(100,), taxPercentage=8.25, **ZEROS),
     "1000.50", "82.54", "1083.04", True, False, "computed from the lines"),
    ("totals absent; tax rounds half up to cents",
     _invoice(main=(10,), usage=("0.50",), taxPercentage=5),
     "10.50", "0.53", "11.03", True, False, "computed from the lines"),
    ("no taxPercentage: tax 0",
     _invoice(main=(40,), usage=(2,), **ZEROS),
     "42", "0.00", "42.00", True, False, "computed from the lines"),
    ("taxPercentage 0: tax 0",
     _invoice(main=(40,), taxPercentage=0, **ZEROS),
     "40", "0.00", "40.00", True, False, "computed from the lines"),
    ("only the total is 0",
     _invoice(main=(40,), taxPercentage=10, subtotal=40, taxAmount=4, totalAmount=0),
     "40", "4.00", "44.00", True, False, "computed from the lines"),
    ("non-zero API figures are kept",
     _invoice(main=(900,), usage=(100,), taxPercentage=10, subtotal=5, taxAmount="0.5",
              totalAmount="5.5"),
     "5", "0.5", "5.5", False, False, None),
    ("a usage line without an amount: incomplete",
     _invoice(main=(100,), usage=(20, None), taxPercentage=10, **ZEROS),
     "120", "12.00", "132.00", True, True, "incomplete: a usage line has no amount"),
    ("a main line in another currency is not added",
     _invoice(main=(_line(7, "EUR"), 3), taxPercentage=10, **ZEROS),
     "3", "0.30", "3.30", True, True, "incomplete: a main line is in EUR"),
    ("an estimate without lines",
     _invoice(taxPercentage=10, **ZEROS),
     "0", "0.00", "0.00", True, False, "computed from the lines"),
    ("a paid invoice's 0 totals are the provider's",
     _invoice(status="paid", main=(100,), taxPercentage=10, **ZEROS),
     "0", "0", "0", False, False, None),
]


def _fetched(hostile: HostileServer, raw: dict[str, Any]) -> Invoice:
    hostile.respond = json_reply({"invoices": [raw]})
    outcome = asyncio.run(sync_account(unleash_account(hostile), FAST))
    assert isinstance(outcome, SyncSucceeded), outcome
    (invoice,) = outcome.invoices
    return invoice


@pytest.mark.parametrize(("raw", "subtotal", "tax", "total", "computed", "incomplete", "word"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_estimate_figures_over_http(hostile: HostileServer, raw: dict[str, Any], subtotal: str,
                                    tax: str, total: str, computed: bool, incomplete: bool,
                                    word: str | None) -> None:
    invoice = _fetched(hostile, raw)
    got = (invoice.subtotal, invoice.tax, invoice.total)
    assert got == (Decimal(subtotal), Decimal(tax), Decimal(total))
    # Exactly, digits included: "0.00" is a computed tax in cents, "0" the API's.
    assert tuple(str(value) for value in got) == (subtotal, tax, total)
    assert (invoice.totals_computed, invoice.estimate_incomplete) == (computed, incomplete)
    assert estimate_note(invoice) == word
    assert not tax_exempt(invoice)


def test_tax_exempt_when_unleash_sends_no_tax_amount(hostile: HostileServer) -> None:
    paid = _fetched(hostile, _invoice(status="paid", main=(50,), subtotal=50, totalAmount=50))
    assert paid.tax is None and tax_exempt(paid) and not paid.totals_computed
    zero = _fetched(hostile, _invoice(status="paid", main=(50,), subtotal=50, totalAmount=50,
                                      taxAmount=0))
    assert zero.tax == 0 and not tax_exempt(zero)  # 0 is a tax figure, not an exemption


def test_a_three_digit_currency_rounds_tax_to_its_own_digits(hostile: HostileServer) -> None:
    raw = _invoice(main=("10.005",), taxPercentage=5, currency="kwd", **ZEROS)
    for line in raw["mainLines"]:
        line["currency"] = "KWD"
    invoice = _fetched(hostile, raw)
    # 10.005 × 5 % = 0.50025 → 0.500 (KWD has three minor digits)
    assert (str(invoice.subtotal), str(invoice.tax), str(invoice.total)) == (
        "10.005", "0.500", "10.505")


def test_table_marks_computed_figures_and_every_estimate_total() -> None:
    base = Invoice(account="a", provider="unleash", id="1", currency="USD", status="estimate",
                   subtotal=Decimal(10), tax=Decimal(1), total=Decimal(11))
    assert [cell_text(base, key) for key in ("subtotal", "tax", "total")] == [
        "10.00", "1.00", "~11.00"]
    computed = Invoice(account="a", provider="unleash", id="1", currency="USD",
                       status="estimate", subtotal=Decimal(10), tax=Decimal(1),
                       total=Decimal(11), totals_computed=True)
    assert [cell_text(computed, key) for key in ("subtotal", "tax", "total")] == [
        "~10.00", "~1.00", "~11.00"]
    paid = Invoice(account="a", provider="unleash", id="1", currency="USD", status="paid",
                   subtotal=Decimal(10), tax=None, total=Decimal(10))
    assert [cell_text(paid, key) for key in ("subtotal", "tax", "total")] == ["10.00", "", "10.00"]


# --- on screen: the demo's estimates (0/0/0 from the API, as Unleash sends them) ---------

def _demo_estimate(name: str) -> dict[str, Any]:
    raw = unleash_invoices(demo_account(name), TODAY, "http://unused")["invoices"]
    (estimate,) = [i for i in raw if i["status"] == "estimate"]
    assert (estimate["subtotal"], estimate["totalAmount"]) == (0, 0)
    return estimate


async def _open_estimate(app: Any, pilot: Any, account: str) -> InvoiceDetailScreen:
    main = main_screen(app)
    main.show_account(account)
    await pilot.pause()
    index = next(i for i, inv in enumerate(main.table.view.rows) if inv.is_estimate)
    main.table.focus()
    await pilot.press("g", *["j"] * index, "enter")
    detail = app.screen
    assert isinstance(detail, InvoiceDetailScreen)
    return detail


async def test_detail_says_computed_and_incomplete_on_the_demo() -> None:
    acme = _demo_estimate("unleash-acme")
    lines = acme["mainLines"] + acme["usageLines"]
    subtotal = sum((line["totalAmount"] for line in lines), Decimal(0))
    tax = (subtotal * acme["taxPercentage"] / 100).quantize(Decimal("0.01"))
    contoso = _demo_estimate("unleash-contoso")
    assert [line for line in contoso["usageLines"] if "totalAmount" not in line]
    async with settled_demo() as (app, pilot):
        detail = await _open_estimate(app, pilot, "unleash-acme")
        money = widget_text(detail.query_one("#invoice-money"))
        assert "computed from the lines" in money and "incomplete" not in money
        assert f"{subtotal + tax:,.2f}" in money and f"{tax:,.2f}" in money
        assert "Tax exempt" not in money
        assert detail.invoice.totals_computed and detail.invoice.total == subtotal + tax
        await pilot.press("escape")
        detail = await _open_estimate(app, pilot, "unleash-contoso")
        money = widget_text(detail.query_one("#invoice-money"))
        assert "incomplete: a usage line has no amount" in money
        assert "computed from the lines" not in money


async def test_detail_says_tax_exempt(tmp_path: Any) -> None:
    exempt = Invoice(account="acme", provider="unleash", id="x", currency="USD", status="paid",
                     label="October 2026", issued=dt.date(2026, 10, 1), subtotal=Decimal(50),
                     total=Decimal(50), lines=(Line(kind="main", description="Seats",
                                                    amount=Decimal(50), currency="USD"),))
    app = scripted_app(tmp_path, ScriptedSync({"vox-main": (), "acme": (exempt,)}),
                       ("vox-main", "voximplant"), ("acme", "unleash"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen) and detail.invoice == exempt
        money = widget_text(detail.query_one("#invoice-money"))
        assert "Tax exempt" in money and "computed" not in money


def test_export_dict_round_trips_the_flags_and_refuses_non_booleans() -> None:
    invoice = Invoice(account="a", provider="unleash", id="1", currency="USD",
                      status="estimate", subtotal=Decimal("3"), tax=Decimal("0.30"),
                      total=Decimal("3.30"), totals_computed=True, estimate_incomplete=True)
    data = invoice_to_dict(invoice)
    assert (data["totals_computed"], data["estimate_incomplete"]) == (True, True)
    assert list(data)[list(data).index("pdf_url") + 1:][:2] == [
        "totals_computed", "estimate_incomplete"]
    assert invoice_from_dict(data) == invoice
    # An export written before the fields existed reads as the provider's figures.
    older = {key: value for key, value in data.items() if key not in BOOL_FIELDS}
    assert not invoice_from_dict(older).totals_computed
    with pytest.raises(ValueError, match="not true or false"):
        invoice_from_dict(data | {"totals_computed": "true"})

"""One meaning per column (issue 7, items 4 and 5): line Net · Tax · Gross for both
providers, the provider's own arithmetic checked, tax rates as percent.

Parse paths run over real HTTP to the hostile server fixture or the demo emulator;
the arithmetic and the formatter are exact ``Decimal`` unit tests; the screens run
under Pilot.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hostile import (
    HostileServer,
    by_endpoint,
    json_reply,
    unleash_account,
    vox_invoice,
    vox_page,
    voximplant_account,
)
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from ui_helpers import settled_demo, widget_text

from invoice_tui import cli
from invoice_tui.config import AccountConfig, Settings, save_config
from invoice_tui.model import (
    LINE_FIELDS,
    Invoice,
    Line,
    format_money,
    invoice_from_dict,
    invoice_to_dict,
    money_checks,
    percent_text,
)
from invoice_tui.sync import SyncSucceeded, sync_account
from invoice_tui.ui.screens.detail import InvoiceDetailScreen, LinesTable
from invoice_tui.ui.screens.line_detail import LineDetailScreen

D = Decimal
FAST = Settings(timeout=2, max_retries=0, max_response_mb=1)

# Voximplant rows: total_amount includes the row's tax. Odd digits on purpose: a float
# anywhere on the way would show (0.1 − 0.03 is 0.07 only in Decimal).
VOX_ROWS = [
    {"service_name": "Calls", "amount": {"total_amount": 12.345, "tax_amount": 2.0575,
                                         "currency": "USD"},
     "taxes": [{"name": "Sales tax", "rate": 0.0625, "amount": 2.0575, "currency": "USD"}]},
    {"service_name": "SMS", "amount": {"total_amount": 0.1, "tax_amount": 0.03,
                                       "currency": "USD"}, "taxes": []},
    {"service_name": "Numbers", "amount": {"total_amount": 5, "currency": "USD"}, "taxes": []},
]
UNLEASH_INVOICE = {
    "invoiceDate": "2026-10-01T00:00:00Z", "status": "paid", "currency": "EUR",
    "subtotal": 1285.5, "taxAmount": 244.25, "totalAmount": 1529.75, "taxPercentage": 19,
    "monthText": "September 2026",
    "mainLines": [{"description": "Seats", "quantity": 17, "unitPrice": 75.5,
                   "totalAmount": 1283.5, "currency": "EUR", "lookupKey": "seats"}],
    "usageLines": [{"description": "Edge", "quantity": 1, "totalAmount": 2,
                    "currency": "EUR", "lookupKey": "edge", "consumption": 4, "limit": 3},
                   {"description": "Traffic (not metered yet)", "currency": "EUR",
                    "lookupKey": "traffic"}],
}


def _serve_voximplant(hostile: HostileServer) -> None:
    invoice = vox_invoice(7, rows=VOX_ROWS, amount={
        "total_amount": 17.445, "tax_amount": 2.0875, "amount_to_pay": 17.445,
        "discount_amount": 0, "currency": "USD"})
    hostile.respond = by_endpoint({
        "GetAccountInvoices": vox_page([invoice], total_count=1),
        "GetAccountInfo": json_reply({"result": {"balance": 5, "currency": "USD"}}),
    })


def _synced(account: AccountConfig) -> tuple[Invoice, ...]:
    outcome = asyncio.run(sync_account(account, FAST))
    assert isinstance(outcome, SyncSucceeded), outcome
    return outcome.invoices


def _export(capsys: pytest.CaptureFixture[str], tmp_path: Path, account: AccountConfig,
            *args: str) -> str:
    path = tmp_path / "config.toml"
    save_config(path, {"settings": {"timeout": 2, "max_retries": 0, "max_response_mb": 1},
                       "accounts": [dict(account.options)]})
    code = cli.main(["--config", str(path), "--cache-dir", str(tmp_path / "cache"),
                     "export", *args])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return out


# --- net and gross, as each provider means them ------------------------------------------

def test_voximplant_rows_are_gross_and_net_is_total_minus_tax(hostile: HostileServer,
                                                                 tmp_path: Path) -> None:
    _serve_voximplant(hostile)
    (invoice,) = _synced(voximplant_account(hostile, tmp_path))
    calls, sms, numbers = invoice.lines
    assert (calls.amount, calls.tax, calls.net, calls.gross) == (
        D("12.345"), D("2.0575"), D("10.2875"), D("12.345"))
    assert (sms.amount, sms.tax, sms.net, sms.gross) == (D("0.1"), D("0.03"), D("0.07"), D("0.1"))
    # No tax figure: the gross is known, the net is not (never "tax 0" by assumption).
    assert (numbers.amount, numbers.tax, numbers.net, numbers.gross) == (D(5), None, None, D(5))


def test_unleash_lines_are_net_and_have_no_gross(hostile: HostileServer) -> None:
    hostile.respond = json_reply({"invoices": [UNLEASH_INVOICE]})
    (invoice,) = _synced(unleash_account(hostile))
    seats, edge, traffic = invoice.lines
    assert (seats.amount, seats.tax, seats.net, seats.gross) == (D("1283.5"), None,
                                                                  D("1283.5"), None)
    assert (edge.net, edge.gross) == (D(2), None)
    assert (traffic.amount, traffic.net, traffic.gross) == (None, None, None)


def test_export_json_keeps_amount_as_sent_and_adds_net_gross_after_tax(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _serve_voximplant(hostile)
    (invoice,) = json.loads(_export(capsys, tmp_path, voximplant_account(hostile, tmp_path),
                                    "--format", "json"))
    line = invoice["lines"][0]
    keys = list(line)
    assert keys[keys.index("tax") + 1: keys.index("tax") + 3] == ["net", "gross"]
    assert {k: line[k] for k in ("amount", "tax", "net", "gross")} == {
        "amount": "12.345", "tax": "2.0575", "net": "10.2875", "gross": "12.345"}
    numbers = invoice["lines"][2]
    assert (numbers["amount"], numbers["tax"], numbers["net"], numbers["gross"]) == (
        "5", None, None, "5")
    # The tax rate stays as sent (a fraction), not the on-screen percent.
    assert line["taxes"][0]["rate"] == "0.0625"


def test_export_csv_lines_has_net_and_gross_columns(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = json_reply({"invoices": [UNLEASH_INVOICE]})
    out = _export(capsys, tmp_path, unleash_account(hostile), "--format", "csv", "--lines")
    rows = list(csv.DictReader(io.StringIO(out)))
    header = next(csv.reader(io.StringIO(out)))
    assert header[header.index("tax"):header.index("tax") + 4] == ["tax", "net", "gross",
                                                                    "currency"]
    assert [(r["amount"], r["tax"], r["net"], r["gross"]) for r in rows] == [
        ("1283.5", "", "1283.5", ""), ("2", "", "2", ""), ("", "", "", "")]
    assert [r["invoice_tax_rate"] for r in rows] == ["19"] * 3  # the raw percent


def test_net_and_gross_round_trip_through_dict_and_line_fields_order() -> None:
    assert LINE_FIELDS[LINE_FIELDS.index("tax"):LINE_FIELDS.index("tax") + 3] == (
        "tax", "net", "gross")
    line = Line(kind="service", description="x", amount=D("1.10"), tax=D("0.10"),
                net=D("1.00"), gross=D("1.10"))
    invoice = Invoice(account="a", provider="voximplant", id="1", currency="USD",
                      status="new", lines=(line,))
    assert invoice_from_dict(json.loads(json.dumps(invoice_to_dict(invoice)))) == invoice


# --- tax rates as percent --------------------------------------------------------------

@pytest.mark.parametrize(("rate", "fraction", "shown"), [
    (D("0.2"), True, "20 %"),
    (D("0.0625"), True, "6.25 %"),
    (D("0.20"), True, "20 %"),
    (D("8.25"), False, "8.25 %"),
    (D("19"), False, "19 %"),
    (D("19.000"), False, "19 %"),
    (D("0"), True, "0 %"),
    (D("0"), False, "0 %"),
    (D("-0.0"), True, "0 %"),
    (D("1E+1"), False, "10 %"),
    (D("1e-30"), True, "0.0000000000000000000000000001 %"),
    (D("1e-30"), False, "0.000000000000000000000000000001 %"),
    # More digits than Decimal's default precision: moved, never rounded.
    (D("0.12345678901234567890123456789012"), True, "12.345678901234567890123456789012 %"),
    (None, True, "—"),
    (None, False, "—"),
])
def test_percent_text(rate: Decimal | None, fraction: bool, shown: str) -> None:
    assert percent_text(rate, fraction=fraction) == shown


# --- do the provider's own figures add up? -----------------------------------------------

def _vox(**changes: Any) -> Invoice:
    lines = (Line(kind="service", description="a", amount=D("96.00"), tax=D("16.00"),
                  net=D("80.00"), gross=D("96.00")),
             Line(kind="service", description="b", amount=D("24.00"), tax=D("4.00"),
                  net=D("20.00"), gross=D("24.00")))
    invoice = Invoice(account="v", provider="voximplant", id="1", currency="USD", status="new",
                      subtotal=D("100.00"), discount=D("12.00"), tax=D("20.00"),
                      total=D("120.00"), amount_due=D("108.00"), lines=lines)
    return dataclasses.replace(invoice, **changes)


def _verdicts(invoice: Invoice) -> dict[str, tuple[str, Decimal]]:
    return {c.equation: (c.verdict, c.difference) for c in money_checks(invoice)}


def test_figures_that_add_up_exactly() -> None:
    assert _verdicts(_vox()) == {
        "subtotal + tax = total": ("exact", D(0)),
        "total − discount = amount due": ("exact", D(0)),
        "Σ lines gross = total": ("exact", D(0)),
    }


def test_off_by_one_minor_unit_is_rounding() -> None:
    checks = _verdicts(_vox(amount_due=D("108.01"), total=D("119.99"), subtotal=D("99.99")))
    assert checks == {
        "subtotal + tax = total": ("exact", D(0)),
        "total − discount = amount due": ("mismatch", D("0.02")),  # 108.01 − (119.99 − 12)
        "Σ lines gross = total": ("rounding", D("-0.01")),
    }
    # Half a minor unit per operand: a + b = c tolerates 0.015 USD, so 0.01 passes.
    (check,) = [c for c in money_checks(_vox(amount_due=D("107.99")))
                if c.equation.startswith("total")]
    assert (check.verdict, check.difference, check.tolerance) == ("rounding", D("-0.01"),
                                                                  D("0.015"))


def test_off_by_more_than_rounding_is_a_mismatch() -> None:
    checks = _verdicts(_vox(tax=D("20.05"), amount_due=D("100.00")))
    assert checks["subtotal + tax = total"] == ("mismatch", D("-0.05"))
    assert checks["total − discount = amount due"] == ("mismatch", D("-8.00"))


def test_tolerance_follows_the_currency_minor_unit() -> None:
    jpy = Invoice(account="u", provider="unleash", id="1", currency="JPY", status="paid",
                  subtotal=D(1000), tax=D(100), total=D(1101))
    (check,) = money_checks(jpy)
    assert (check.verdict, check.tolerance) == ("rounding", D("1.5"))
    (check,) = money_checks(dataclasses.replace(jpy, total=D(1102)))
    assert check.verdict == "mismatch"
    bhd = dataclasses.replace(jpy, currency="BHD", total=D("1100.002"))
    (check,) = money_checks(bhd)
    assert (check.verdict, check.tolerance) == ("mismatch", D("0.0015"))


def test_unleash_lines_are_checked_against_the_subtotal() -> None:
    lines = (Line(kind="main", description="Seats", amount=D("1275.00"), net=D("1275.00")),
             Line(kind="usage", description="Traffic", amount=D("10.00"), net=D("10.00")))
    invoice = Invoice(account="u", provider="unleash", id="1", currency="USD", status="paid",
                      subtotal=D("1285.00"), tax=D("106.01"), total=D("1391.01"),
                      tax_rate=D("8.25"), lines=lines)
    assert _verdicts(invoice) == {"subtotal + tax = total": ("exact", D(0)),
                                  "Σ lines net = subtotal": ("exact", D(0))}
    assert _verdicts(dataclasses.replace(invoice, subtotal=D("1290.00"), total=D("1396.01")))[
        "Σ lines net = subtotal"] == ("mismatch", D("5.00"))


def test_unknown_figures_are_not_checked() -> None:
    # A line without a net (an unmetered usage line): no line check, never "counts as 0".
    lines = (Line(kind="main", description="Seats", amount=D(10), net=D(10)),
             Line(kind="usage", description="Traffic"))
    invoice = Invoice(account="u", provider="unleash", id="1", currency="USD",
                      status="estimate", subtotal=D(99), tax=None, total=D(99), lines=lines)
    assert money_checks(invoice) == ()
    assert money_checks(_vox(total=None, lines=())) == ()


def test_a_sum_that_cannot_be_exact_is_not_checked() -> None:
    huge = _vox(subtotal=D("1E+90"), tax=D("1E-20"), total=D("1E+90"), amount_due=None,
                lines=())
    assert money_checks(huge) == ()


# --- on screen -------------------------------------------------------------------------

def _cells(table: LinesTable, column: str) -> list[str]:
    index = list(table.columns).index(column)
    return [str(table.get_cell_at(Coordinate(row, index))).strip()
            for row in range(table.row_count)]


async def test_detail_lines_show_net_tax_gross_for_voximplant() -> None:
    async with settled_demo() as (app, pilot):
        app.screen.show_account("vox-eu")  # type: ignore[attr-defined]
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen)
        table = detail.query_one(LinesTable)
        assert [str(c.label) for c in table.columns.values()] == [
            "Kind", "Description", "Qty", "Unit price", "Net", "Tax", "Gross", "Usage"]
        lines = detail.invoice.lines
        assert lines and all(line.gross == line.amount for line in lines)
        assert all(line.net is not None and line.tax is not None
                   and line.net + line.tax == line.gross for line in lines)
        currency = detail.invoice.currency
        for key, field in (("net", "net"), ("tax", "tax"), ("gross", "gross")):
            assert _cells(table, key) == [format_money(getattr(line, field), currency)
                                          for line in lines]
        money = widget_text(detail.query_one("#invoice-money"))
        assert "subtotal + tax = total" in money
        assert "total − discount = amount due" in money
        assert "Σ lines gross = total" in money
        assert "≠" not in money and "✗" not in money

        await pilot.press("enter")
        modal = app.screen
        assert isinstance(modal, LineDetailScreen)
        text = widget_text(modal.query_one("#line-metering"))
        line = lines[0]
        for label, amount in (("Net", line.net), ("Tax", line.tax), ("Gross", line.gross)):
            assert f"{label}" in text
            assert format_money(amount, currency, with_code=True) in text
        taxes = modal.query_one("#line-taxes", DataTable)
        rates = [str(taxes.get_cell_at(Coordinate(row, 1))) for row in range(taxes.row_count)]
        assert rates == [percent_text(t.rate, fraction=True) for t in line.taxes]
        assert rates and all(rate.endswith(" %") for rate in rates)
        assert "19 %" in rates  # vox-eu's VAT, sent as 0.19


async def test_detail_lines_show_unleash_net_with_gross_blank() -> None:
    async with settled_demo() as (app, pilot):
        app.screen.show_account("unleash-acme")  # type: ignore[attr-defined]
        await pilot.press("j", "enter")
        detail = app.screen
        assert isinstance(detail, InvoiceDetailScreen)
        table = detail.query_one(LinesTable)
        lines = detail.invoice.lines
        currency = detail.invoice.currency
        assert _cells(table, "net") == [format_money(line.amount, currency) for line in lines]
        assert _cells(table, "gross") == [""] * len(lines)
        assert _cells(table, "tax") == [""] * len(lines)
        money = widget_text(detail.query_one("#invoice-money"))
        assert "8.25 %" in money  # taxPercentage, already a percent
        assert "Σ lines net = subtotal" in money

        await pilot.press("enter")
        text = widget_text(app.screen.query_one("#line-metering"))
        assert "Gross" in text and "Net" in text
        assert format_money(lines[0].net, currency, with_code=True) in text


async def test_money_block_marks_figures_that_do_not_add_up() -> None:
    bad = _vox(tax=D("20.05"), amount_due=D("107.99"))
    async with settled_demo() as (app, pilot):
        await app.push_screen(InvoiceDetailScreen(bad, None))
        await pilot.pause()
        money = widget_text(app.screen.query_one("#invoice-money"))
        assert "✗ subtotal + tax ≠ total" in money
        assert "provider's figures are off by 0.05 USD" in money
        assert "total − discount ≈ amount due" in money
        assert "within rounding (0.01 USD)" in money
        assert "Σ lines gross = total" in money

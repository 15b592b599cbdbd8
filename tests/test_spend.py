"""Spend by month as plain data (``invoice_tui.spend``): no UI, indexes read from a store."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from invoice_factory import make_invoice, synthetic_invoices
from store_fill import read_index, store_of

from invoice_tui.index import AccountIndex
from invoice_tui.meaning import money_facts, money_totals
from invoice_tui.model import Invoice
from invoice_tui.spend import (
    AccountSpend,
    Drill,
    SpendBook,
    account_spend,
    bar_blocks,
    change_text,
    month_change,
    month_label,
    month_number,
    shown_months,
    spend_table,
)
from invoice_tui.view import Period

TODAY = dt.date(2026, 11, 20)
NOV, OCT, SEP = month_number(2026, 11), month_number(2026, 10), month_number(2026, 9)


def _indexes(*invoices: Invoice) -> list[AccountIndex]:
    path = store_of(invoices).path
    names = dict.fromkeys(invoice.account for invoice in invoices)
    return [read_index(path, name, extras=False)[0] for name in names]


def _spends(*invoices: Invoice) -> list[AccountSpend]:
    return [account_spend(index) for index in _indexes(*invoices)]


def inv(account: str, number: int, issued: dt.date | None, total: str, *,
        status: str = "paid", currency: str = "USD", provider: str = "unleash") -> Invoice:
    return make_invoice(account, str(number), issued=issued, total=Decimal(total),
                        status=status, currency=currency, provider=provider)


def test_months_are_consecutive_numbers_and_read_as_the_period_filter_does() -> None:
    assert month_number(2026, 12) + 1 == month_number(2027, 1)
    assert month_label(month_number(2026, 3)) == "2026-03" == Period("month", 2026, 3).label()


def test_billed_per_month_and_currency_never_mixed() -> None:
    spend, = _spends(
        inv("a", 1, dt.date(2026, 10, 1), "10.00"),
        inv("a", 2, dt.date(2026, 10, 31), "5.50"),
        inv("a", 3, dt.date(2026, 10, 15), "7.00", currency="EUR"),
        inv("a", 4, dt.date(2026, 11, 1), "1.25"),
    )
    assert spend.billed == {"EUR": {OCT: Decimal("7.00")},
                            "USD": {OCT: Decimal("15.50"), NOV: Decimal("1.25")}}
    assert all(type(v) is Decimal for sums in spend.billed.values() for v in sums.values())


def test_cancelled_estimates_and_upcoming_are_not_billed_estimates_are_apart() -> None:
    spend, = _spends(
        inv("a", 1, dt.date(2026, 11, 2), "100", status="paid"),
        inv("a", 2, dt.date(2026, 11, 3), "40", status="invoiced"),  # open: billed
        inv("a", 3, dt.date(2026, 11, 4), "1000", status="void"),
        inv("a", 4, dt.date(2026, 11, 5), "7", status="estimate"),
        inv("a", 5, dt.date(2026, 11, 6), "3", status="upcoming"),
        inv("a", 6, dt.date(2026, 11, 7), "999", status="draft"),  # not a known charge
    )
    assert spend.billed == {"USD": {NOV: Decimal(140)}}
    assert spend.estimated == {"USD": {NOV: Decimal(10)}}
    assert spend.estimate_statuses == {"estimate", "upcoming"}


@pytest.mark.parametrize("by_date", [False, True], ids=["shuffled", "stored-by-date"])
def test_a_cell_is_what_money_totals_says_for_that_account_and_month(by_date: bool) -> None:
    # The one money rule: each cell equals the status line's billed for the same invoices.
    # Stored by date, each month's invoices are together (read as slices); shuffled, not.
    invoices = synthetic_invoices(3000)
    if by_date:
        invoices.sort(key=lambda i: (i.issued or dt.date.min, i.id), reverse=True)
    by_key: dict[tuple[str, int, str], list[Invoice]] = {}
    for invoice in invoices:
        if invoice.issued is not None:
            month = month_number(invoice.issued.year, invoice.issued.month)
            by_key.setdefault((invoice.account, month, invoice.currency), []).append(invoice)
    spends = {spend.account: spend for spend in _spends(*invoices)}
    for (account, month, code), group in by_key.items():
        expected = money_totals(map(money_facts, group))[code]
        assert spends[account].billed[code][month] == expected.billed
        assert spends[account].estimated[code][month] == expected.estimated
    assert sum(spend.undated for spend in spends.values()) == sum(
        invoice.issued is None for invoice in invoices)


def test_unknown_currencies_are_left_out_like_money_totals_does() -> None:
    spend, = _spends(inv("a", 1, dt.date(2026, 11, 2), "5", currency="XXX"),
                     inv("a", 2, dt.date(2026, 11, 2), "5", currency="\x1b[31m"),
                     inv("a", 3, dt.date(2026, 11, 2), "2", currency="usd"))
    assert spend.billed == {"USD": {NOV: Decimal(2)}}


def test_undated_invoices_are_in_no_month_and_counted() -> None:
    spend, = _spends(inv("a", 1, None, "5"), inv("a", 2, dt.date(2026, 11, 2), "2"))
    assert spend.undated == 1 and spend.billed == {"USD": {NOV: Decimal(2)}}


def test_book_sums_an_index_once_and_again_only_when_replaced() -> None:
    first, = _indexes(inv("a", 1, dt.date(2026, 11, 2), "2"))
    book = SpendBook()
    assert book.spend(first) is book.spend(first)
    second, = _indexes(inv("a", 1, dt.date(2026, 11, 2), "3"))
    assert book.spend(second).billed == {"USD": {NOV: Decimal(3)}}


# --- month over month ------------------------------------------------------------------------


@pytest.mark.parametrize(("previous", "current", "text"), [
    ("100", "112", "+12 %"),
    ("100", "97", "-3.0 %"),
    ("100", "100", "0 %"),
    ("300", "301", "+0.3 %"),
    ("100", None, "-100 %"),
    (None, "50", "new"),
    ("0", "50", "new"),  # never ∞
    ("-20", "50", "new"),  # a credit is no base for a percentage
    (None, None, ""),
    ("0", "0", ""),
])
def test_month_over_month_change(previous: str | None, current: str | None, text: str) -> None:
    change = month_change(None if previous is None else Decimal(previous),
                          None if current is None else Decimal(current))
    assert change_text(change) == text


# --- the table -------------------------------------------------------------------------------


def _demo_like() -> list[AccountSpend]:
    return _spends(
        inv("vox-main", 1, dt.date(2026, 9, 1), "100", provider="voximplant", status="new"),
        inv("vox-main", 2, dt.date(2026, 11, 1), "150", provider="voximplant", status="new"),
        inv("vox-eu", 3, dt.date(2026, 10, 1), "80", provider="voximplant", status="new",
            currency="EUR"),
        inv("acme", 4, dt.date(2026, 10, 1), "60"),
        inv("acme", 5, dt.date(2026, 11, 1), "60", status="invoiced"),
        inv("acme", 6, dt.date(2026, 12, 1), "25", status="estimate"),  # dated next month
        inv("acme", 7, dt.date(2026, 12, 1), "75", status="upcoming"),
        inv("beta", 8, dt.date(2026, 11, 3), "40"),
    )


def test_table_has_a_block_per_currency_providers_with_their_accounts_then_a_total() -> None:
    table = spend_table(_demo_like(), Period(), TODAY)
    assert table.months == (SEP, OCT, NOV)  # from the first invoice to this month
    assert [block.currency for block in table.blocks] == ["EUR", "USD"]
    eur, usd = table.blocks
    assert [(r.kind, r.provider, r.account) for r in usd.rows] == [
        ("provider", "unleash", ""), ("account", "unleash", "acme"),
        ("account", "unleash", "beta"), ("provider", "voximplant", ""),
        ("account", "voximplant", "vox-main"), ("total", "", "")]
    assert usd.rows[0].billed == (None, Decimal(60), Decimal(100))  # acme + beta
    assert usd.rows[2].billed == (None, None, Decimal(40))
    assert usd.total.billed == (Decimal(100), Decimal(60), Decimal(250))
    assert [r.account for r in eur.rows] == ["", "vox-eu", ""]
    assert eur.total.billed == (None, Decimal(80), None)


def test_the_current_estimate_is_apart_never_in_billed() -> None:
    table = spend_table(_demo_like(), Period(), TODAY)
    usd = table.blocks[1]
    assert table.has_estimate and table.months[-1] == NOV  # next month's estimate: no column
    assert usd.rows[1].estimate == Decimal(100) and usd.total.estimate == Decimal(100)
    assert usd.rows[1].billed == (None, Decimal(60), Decimal(60))
    assert usd.rows[4].estimate == Decimal(0)  # vox-main: prepaid, nothing estimated


def test_changes_use_the_month_before_the_first_shown() -> None:
    table = spend_table(_demo_like(), Period("month", 2026, 11), TODAY)
    usd = table.blocks[1]
    assert table.months == (NOV,)
    assert change_text(usd.total.change(0)) == "+317 %"  # 60 in October → 250
    assert change_text(usd.rows[2].change(0)) == "new"  # beta: nothing in October


def test_filters_carry_over_accounts_and_a_year() -> None:
    table = spend_table(_demo_like(), Period("year", 2026), TODAY,
                        accounts=frozenset({"acme"}))
    assert table.months == tuple(range(month_number(2026, 1), NOV + 1))  # up to today
    usd, = table.blocks
    assert [r.account for r in usd.rows] == ["", "acme", ""]
    assert usd.total.billed[:8] == (None,) * 8  # empty months stay, as nothing
    past = spend_table(_demo_like(), Period("year", 2025), TODAY)
    assert len(past.months) == 12 and not past.has_estimate
    assert all(row.estimate is None for block in past.blocks for row in block.rows)


def test_drill_opens_the_row_accounts_in_that_month_or_the_estimates() -> None:
    table = spend_table(_demo_like(), Period(), TODAY)
    usd = table.blocks[1]
    assert table.drill(usd.rows[1], 1) == Drill(frozenset({"acme"}), Period("month", 2026, 10))
    assert table.drill(usd.rows[0], 2).accounts == {"acme", "beta"}
    assert table.drill(usd.rows[1], None) == Drill(frozenset({"acme"}), Period(),
                                                   frozenset({"estimate", "upcoming"}))


def test_shown_months_without_any_invoice_is_this_month() -> None:
    assert shown_months(Period(), [], NOV) == (NOV,)
    assert spend_table([], Period(), TODAY).blocks == ()


# --- the chart -------------------------------------------------------------------------------


def test_bars_are_scaled_in_eighths_top_first() -> None:
    largest = Decimal(160)
    assert bar_blocks(largest, largest, 2) == ["█", "█"]
    assert bar_blocks(Decimal(80), largest, 2) == [" ", "█"]
    assert bar_blocks(Decimal(90), largest, 2) == ["▁", "█"]
    assert bar_blocks(Decimal("0.01"), largest, 2) == [" ", "▁"]  # something shows
    assert bar_blocks(Decimal(0), largest, 2) == [" ", " "]
    assert bar_blocks(None, largest, 2) == [" ", " "]
    assert bar_blocks(Decimal(-5), largest, 2) == [" ", " "]

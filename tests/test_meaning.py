"""Status meanings per provider and the billed / due / est. totals (``invoice_tui.meaning``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from invoice_factory import make_invoice

from invoice_tui.meaning import (
    MoneyTotals,
    billed_exclusion,
    fit_totals,
    meaning,
    money_facts,
    status_label,
    totals_phrases,
)
from invoice_tui.meaning import money_totals as totals_of_facts


def money_totals(invoices):  # type: ignore[no-untyped-def]
    return totals_of_facts(map(money_facts, invoices))


def vox(status: str, **fields: object):  # type: ignore[no-untyped-def]
    return make_invoice(provider="voximplant", status=status, **fields)


def unl(status: str, **fields: object):  # type: ignore[no-untyped-def]
    return make_invoice(provider="unleash", status=status, **fields)


# --- the status tables -----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["new", "taxed", "accepted", "committed", "numbered",
                                    "NEW", " Numbered ", "some-future-step", ""])
def test_voximplant_statuses_are_issued_never_open_or_overdue(status: str) -> None:
    # Prepaid: every Voximplant invoice documents spend already charged.
    assert meaning(vox(status)) == "issued"
    assert billed_exclusion(vox(status)) is None


@pytest.mark.parametrize("status", ["cancelled", "canceled", "Cancelled"])
def test_voximplant_cancelled(status: str) -> None:
    assert meaning(vox(status)) == "cancelled"
    assert billed_exclusion(vox(status)) == "cancelled"


UNLEASH_TABLE = {
    "paid": "paid", "invoiced": "open", "open": "open",
    "past-due": "overdue", "past_due": "overdue", "overdue": "overdue", "unpaid": "overdue",
    "uncollectible": "overdue",
    "void": "cancelled", "cancelled": "cancelled", "canceled": "cancelled",
    "estimate": "estimate", "upcoming": "upcoming", "draft": "other", "refunded?": "other",
    "PAID": "paid", " Past-Due ": "overdue",
}


@pytest.mark.parametrize(("status", "expected"), sorted(UNLEASH_TABLE.items()))
def test_unleash_status_table(status: str, expected: str) -> None:
    assert meaning(unl(status)) == expected


def test_the_same_word_means_what_its_provider_means() -> None:
    # "new" is a prepared document at Voximplant; Unleash never sends it: not a charge.
    assert meaning(vox("new")) == "issued"
    assert meaning(unl("new")) == "other"
    # Any other provider: the common billing words, unknown ones "other".
    other = make_invoice(provider="acme-cloud", status="Paid")
    assert meaning(other) == "paid"
    assert meaning(make_invoice(provider="acme-cloud", status="issued")) == "issued"
    assert meaning(make_invoice(provider="acme-cloud", status="numbered")) == "other"


def test_billed_exclusion_says_why_in_words() -> None:
    assert billed_exclusion(unl("paid")) is None
    assert billed_exclusion(unl("invoiced")) is None
    assert billed_exclusion(unl("past-due")) is None
    assert billed_exclusion(unl("void")) == "cancelled"
    assert billed_exclusion(unl("estimate")) == "an estimate"
    assert billed_exclusion(unl("upcoming")) == "the next invoice"
    assert billed_exclusion(unl("draft")) == "not a known charge"


def test_status_label_is_the_raw_word_except_unleash_upcoming() -> None:
    assert status_label(unl("upcoming")) == "Next invoice"
    assert status_label(unl("Upcoming")) == "Next invoice"
    assert status_label(vox("upcoming")) == "upcoming"  # only Unleash calls it so
    assert status_label(vox("numbered")) == "numbered"
    assert status_label(unl("paid\x1b[2J\x1b]0;PWNED\x07")) == "paid"


# --- totals ----------------------------------------------------------------------------------

D = Decimal


def test_money_totals_exact_over_mixed_statuses_providers_and_currencies() -> None:
    invoices = [
        # Voximplant USD: prepaid, billed, never due (even with an amount to pay).
        vox("new", total=D("120.00"), amount_due=D("120.00")),
        vox("numbered", total=D("0.10")),
        vox("cancelled", total=D("999.99"), amount_due=D("999.99")),
        # Unleash USD.
        unl("paid", total=D("1000.00")),
        unl("invoiced", total=D("200.05")),  # no amount_due: the total is due
        unl("past-due", total=D("300.00"), amount_due=D("50.00")),  # amount_due wins
        unl("estimate", total=D("33.33")),
        unl("upcoming", total=D("0.01")),
        unl("void", total=D("7")),
        unl("draft", total=D("8")),
        unl("paid", total=None),  # adds nothing, breaks nothing
        # EUR, lowercase code from a server: one currency with "EUR".
        unl("invoiced", total=D("10.10"), currency="eur"),
        unl("paid", total=D("0.90"), currency="EUR"),
        vox("accepted", total=D("5"), currency="EUR"),
        # Unknown currencies are never summed.
        unl("paid", total=D("1"), currency="XXX"),
        unl("paid", total=D("1"), currency="€€"),
        # JPY, all cancelled: present, with zeros.
        vox("cancelled", total=D("500"), currency="JPY"),
    ]
    totals = money_totals(invoices)
    assert totals == {
        "EUR": MoneyTotals(billed=D("16.00"), due=D("10.10"), estimated=D(0)),
        "JPY": MoneyTotals(billed=D(0), due=D(0), estimated=D(0)),
        "USD": MoneyTotals(billed=D("1620.15"), due=D("250.05"), estimated=D("33.34")),
    }
    assert list(totals) == ["EUR", "JPY", "USD"]  # alphabetical, whatever the input order
    assert list(money_totals(reversed(invoices))) == ["EUR", "JPY", "USD"]
    for money in totals.values():
        for value in (money.billed, money.due, money.estimated):
            assert type(value) is Decimal


def test_voximplant_new_is_never_due() -> None:
    totals = money_totals([vox(s, total=D("10"), amount_due=D("10"))
                           for s in ("new", "taxed", "accepted", "committed", "numbered")])
    assert totals == {"USD": MoneyTotals(billed=D("50"), due=D(0), estimated=D(0))}


def test_due_falls_back_to_the_total_only_where_no_amount_due_is_sent() -> None:
    assert money_totals([unl("invoiced", total=D("10"), amount_due=D("0"))])["USD"].due == 0
    assert money_totals([unl("invoiced", total=D("10"))])["USD"].due == D("10")
    assert money_totals([unl("invoiced", total=None)])["USD"].due == 0


def test_no_invoices_no_totals() -> None:
    assert money_totals([]) == {}
    assert money_totals([unl("paid", currency="XXX")]) == {}


# --- the words on screen ---------------------------------------------------------------------

TOTALS = {
    "EUR": MoneyTotals(billed=D("12345.67"), due=D("100"), estimated=D("50")),
    "JPY": MoneyTotals(billed=D("1500"), due=D(0), estimated=D(0)),
    "USD": MoneyTotals(billed=D("3000"), due=D(0), estimated=D("9.5")),
}
FULL = ["billed 12,345.67 EUR · due 100.00 EUR · est. 50.00 EUR", "billed 1,500 JPY",
        "billed 3,000.00 USD · est. 9.50 USD"]


def test_totals_phrases_say_billed_due_est_with_figure_and_code() -> None:
    assert totals_phrases(TOTALS) == FULL
    assert totals_phrases(TOTALS, estimates=False) == [
        "billed 12,345.67 EUR · due 100.00 EUR", "billed 1,500 JPY", "billed 3,000.00 USD"]


def test_fit_totals_drops_whole_parts_never_cuts_a_figure() -> None:
    sep = "  │  "
    full_width = len(sep.join(FULL))
    assert fit_totals(TOTALS, None, sep) == FULL
    assert fit_totals(TOTALS, full_width, sep) == FULL
    # One cell less: the est. figures go first.
    no_est = ["billed 12,345.67 EUR · due 100.00 EUR", "billed 1,500 JPY", "billed 3,000.00 USD"]
    assert fit_totals(TOTALS, full_width - 1, sep) == no_est
    # Then whole currencies from the end, named.
    width = len(sep.join(no_est)) - 1
    assert fit_totals(TOTALS, width, sep) == [*no_est[:2], "+USD"]
    assert fit_totals(TOTALS, 60, sep) == [no_est[0], "+JPY, USD"]
    # Then the first currency's due; its billed always stays (the caller crops the rest).
    assert fit_totals(TOTALS, 40, sep) == ["billed 12,345.67 EUR", "+JPY, USD"]
    assert fit_totals(TOTALS, 10, sep) == ["billed 12,345.67 EUR", "+JPY, USD"]
    single = {"USD": TOTALS["USD"]}
    assert fit_totals(single, 10, sep) == ["billed 3,000.00 USD"]

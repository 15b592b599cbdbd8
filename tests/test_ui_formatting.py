"""The UI's display helpers: relative times, per-currency totals, usage bars, literal text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from invoice_factory import make_invoice
from ui_helpers import NOW, UNTRUSTED

from invoice_tui.meaning import MoneyTotals
from invoice_tui.model import AccountSummary
from invoice_tui.providers import FetchProgress
from invoice_tui.text import sanitize
from invoice_tui.ui.formatting import (
    money_text,
    relative_time,
    status_content,
    totals_text,
    usage_bar,
)
from invoice_tui.ui.widgets.provider_pane import progress_text, summary_facts


def test_relative_time_buckets() -> None:
    minute = dt.timedelta(minutes=1)
    assert relative_time(None, NOW) == "never"
    assert relative_time(NOW + minute, NOW) == "just now"  # clock skew never reads negative
    assert relative_time(NOW - dt.timedelta(seconds=59), NOW) == "just now"
    assert relative_time(NOW - 5 * minute, NOW) == "5 min ago"
    assert relative_time(NOW - 90 * minute, NOW) == "1 h ago"
    assert relative_time(NOW - dt.timedelta(days=3), NOW) == "3 d ago"


def test_totals_are_per_currency_never_mixed() -> None:
    zero = Decimal(0)
    totals = {"EUR": MoneyTotals(Decimal("980"), Decimal("80"), zero),
              "JPY": MoneyTotals(Decimal("1500"), zero, zero),
              "USD": MoneyTotals(Decimal("1234.5"), zero, Decimal("12"))}
    text = totals_text(totals)
    assert text == ("billed 980.00 EUR · due 80.00 EUR  │  billed 1,500 JPY  │  "
                    "billed 1,234.50 USD · est. 12.00 USD")
    assert totals_text(totals, 60) == "billed 980.00 EUR · due 80.00 EUR  │  +JPY, USD"
    assert totals_text({}) == "no amounts"


def test_money_text_uses_the_currency_code() -> None:
    assert money_text(Decimal("0.125"), "USD") == "0.125 USD"
    assert money_text(None, "USD") == "—"


def test_usage_bar_shows_consumption_against_the_limit() -> None:
    assert usage_bar(Decimal(800), Decimal(1000)).plain == "████████░░ 80 % of 1,000"
    over = usage_bar(Decimal(1200), Decimal(1000))
    assert over.plain == "██████████ 120 % of 1,000"
    assert any("$error" in str(span.style) for span in over.spans)
    assert usage_bar(None, Decimal(5)).plain == ""
    assert usage_bar(Decimal("2.5"), None).plain == "2.5 used"


def test_untrusted_text_is_stripped_of_escapes_but_kept_literal() -> None:
    shown = sanitize(UNTRUSTED)
    assert "\x1b" not in shown and "\x07" not in shown and "ZXZpbA" not in shown
    assert shown.startswith("[bold red]x[/] [link=https://evil.example]click[/link]")
    estimate = make_invoice(provider="unleash", status="estimate")
    assert status_content(estimate).plain == "estimate"
    assert status_content(estimate, detail=True).plain == "estimate  ESTIMATE "
    hostile = make_invoice(provider="unleash", status="[b]paid\x1b[2J")
    assert status_content(hostile).plain == "[b]paid"


def test_status_content_in_the_detail_keeps_the_raw_word_and_says_the_meaning() -> None:
    upcoming = make_invoice(provider="unleash", status="upcoming")
    assert status_content(upcoming).plain == "Next invoice"
    assert status_content(upcoming, detail=True).plain == "Next invoice  status “upcoming”"
    past_due = make_invoice(provider="unleash", status="past-due")
    assert status_content(past_due, detail=True).plain == "past-due  overdue"
    numbered = make_invoice(provider="voximplant", status="numbered")
    assert status_content(numbered, detail=True).plain == (
        "numbered  issued; prepaid, already charged to the balance")
    paid = make_invoice(provider="unleash", status="paid")
    assert status_content(paid, detail=True).plain == "paid"  # not "paid  paid"


def test_summary_facts_show_plan_and_balance_with_their_codes() -> None:
    assert summary_facts(None) == [] and summary_facts(AccountSummary()) == []
    plan = AccountSummary(plan_price=Decimal("1875"), plan_currency="USD")
    assert summary_facts(plan) == ["plan 1,875.00 USD"]
    balance = AccountSummary(balance=Decimal("1234.5"), balance_currency="EUR")
    assert summary_facts(balance) == ["balance 1,234.50 EUR"]
    both = AccountSummary(plan_price=Decimal(5), plan_currency="EUR", balance=Decimal(1),
                          balance_currency="EUR")
    assert summary_facts(both, terse=True) == ["plan 5.00 EUR", "bal. 1.00 EUR"]
    # The currency's own minor digits; a prepaid account may be overdrawn.
    assert summary_facts(AccountSummary(balance=Decimal("-12000"), balance_currency="JPY")) == [
        "balance -12,000 JPY"]
    assert summary_facts(AccountSummary(balance=Decimal(0), balance_currency="USD")) == [
        "balance 0.00 USD"]
    # A code that is not ISO-shaped is never shown as sent.
    assert summary_facts(AccountSummary(balance=Decimal(5), balance_currency="\x1b[2J")) == [
        "balance 5.00 XXX"]


def test_progress_text() -> None:
    assert progress_text(None) == "syncing…"
    assert progress_text(FetchProgress(150, 3)) == "3 pg · 150 invoices"
    assert progress_text(FetchProgress(1500, 3, total_pages=12)) == "3/12 pg · 1,500 invoices"
    # The total known: invoices only, so it fits the pane even at 100 000.
    assert progress_text(FetchProgress(31500, 315, 100000, 1000)) == "31,500/100,000 invoices"

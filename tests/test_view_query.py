"""The view applies the `/` query: every term kind, negation, and narrowing from the
previous result only when the new query keeps a subset of it."""

from __future__ import annotations

import pytest
from invoice_factory import make_invoice, synthetic_invoices
from query_oracle import matches_query
from store_fill import view_of

from invoice_tui.model import Invoice
from invoice_tui.query import parse_query
from invoice_tui.view import InvoiceView

INVOICES = synthetic_invoices(700)


@pytest.fixture(scope="module")
def view() -> InvoiceView:
    return view_of(*INVOICES)


def expected(query: str, invoices: list[Invoice] = INVOICES) -> set[tuple[str, str]]:
    parsed = parse_query(query)
    return {(inv.account, inv.id) for inv in invoices if matches_query(inv, parsed)}


def shown(view: InvoiceView) -> set[tuple[str, str]]:
    return {(inv.account, inv.id) for inv in view.rows}


@pytest.mark.parametrize("query", [
    "status:paid", "status:overdue", "status:past-due", 'status:"next invoice"', "-status:new",
    "provider:unleash", "provider:vox", "-provider:u", "account:eu", "account:UNLEASH-",
    "currency:eur", "currency:JPY", "-currency:usd", "total>20000", "total<=5000",
    "total=0", "-total>=100", "due<2024-06", "due<=2024-06", "due>2025", "due:2024-02",
    "-due>=2024", "issued>=2025-03-01", "issued<2023-02", "since:2025-06", "until:2023",
    "-since:2024", '"recording storage"', "-calls", "-東京 sms", "zürich -vox",
    "status:paid currency:eur total>100 since:2024", "-status:cancelled -status:estimate",
])
def test_every_term_kind_agrees_with_the_invoices_own_fields(view: InvoiceView,
                                                             query: str) -> None:
    view.set_query(query)
    assert shown(view) == expected(query)
    assert 0 < len(view.rows) < len(INVOICES) or query in ("total=0",), query


def test_a_bad_term_filters_nothing(view: InvoiceView) -> None:
    view.set_query("total>abc calls")
    assert view.parsed_query.problems
    assert shown(view) == expected("calls")


@pytest.mark.parametrize("steps", [
    ["-s", "-sm", "-sms", "-sm", "-s"],  # a longer excluded word keeps more
    ["total>1000", "total>10000", "total>100", "total<100", "total<=100", "-total<=100"],
    ["status:paid", "-status:paid", "status:pai", "status:paid"],
    ["account:vox-m", "account:vox", "-account:vox", "account:vox-e"],
    ["provider:unleash", "provider:u", "provider:vox", "-provider:vox"],
    ["due<2024-06", "due<=2024-06", "due>2024-06", "due>2024"],
    ["calls", "call", "-call", "-calls", "calls"],
    ["since:2024", "since:2024 until:2024", "since:2024 until:2024-06", "until:2024-06"],
    ["c", "cu", "cur", "curr", "currency:", "currency:e", "currency:eu", "currency:eur"],
])
def test_narrowing_holds_whatever_the_next_query(steps: list[str]) -> None:
    view = view_of(*INVOICES)
    for query in steps:
        view.set_query(query)
        assert shown(view) == expected(query), query


def test_terms_combine_with_the_period_account_and_status_filters() -> None:
    view = view_of(*INVOICES)
    view.set_accounts({"unleash-acme", "vox-eu"})
    view.set_statuses({"paid", "new"})
    view.set_query("-status:paid total>100")
    keep = {(inv.account, inv.id) for inv in INVOICES
            if inv.account in ("unleash-acme", "vox-eu") and inv.status in ("paid", "new")}
    assert shown(view) == expected("-status:paid total>100") & keep


def test_a_status_that_means_different_things_per_provider() -> None:
    # "new" is Voximplant's charge and nothing known at Unleash: status:<meaning> decides
    # per provider, not per word.
    invoices = [make_invoice("v", "1", status="new"),
                make_invoice("u", "2", status="new", provider="unleash"),
                make_invoice("u", "3", status="upcoming", provider="unleash")]
    view = view_of(*invoices)
    for query in ("status:new", 'status:"next invoice"', "status:charge", "-status:upcoming"):
        view.set_query(query)
        assert shown(view) == expected(query, invoices), query


def test_a_data_change_drops_the_cached_term_masks() -> None:
    view = view_of(make_invoice("a", "1", status="paid"))
    view.set_query("status:paid")
    assert len(view.rows) == 1
    from store_fill import replace_account
    replace_account(view, "a", [make_invoice("a", "1", status="new")])
    assert list(view.rows) == []


def test_a_query_narrowed_to_one_invoice_and_then_to_none() -> None:
    # One place left, then none: the gathers over the places take their one-item path.
    view = view_of(*INVOICES)
    target = INVOICES[5]
    word = (target.number or target.id).casefold()
    status = target.status.casefold()
    for query, count in [(word, 1), (f"{word} status:{status}", 1), (f"{word} calls", None),
                         (f"{word} -status:{status}", 0), (f"{word} -{word}", 0)]:
        view.set_query(query)
        assert shown(view) == expected(query), query
        assert count is None or len(view.rows) == count, query

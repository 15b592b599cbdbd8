"""The `/` query language: parsing (never raising), hints, and the per-field rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_tui.query import (
    FIELDS,
    Term,
    compare_amount,
    compare_day,
    parse_query,
    status_matches,
    text_field_matches,
)


def _one(text: str) -> Term:
    query = parse_query(text)
    assert query.problems == (), query.problems
    (term,) = query.terms
    return term


def test_words_and_phrases_are_folded_and_anded() -> None:
    query = parse_query('VOX  "PSTN Calls" -cancelled')
    assert query.words == ("vox", "pstn calls")
    assert query.excluded_words == ("cancelled",)
    assert query.field_terms == () and query.problems == ()


@pytest.mark.parametrize("text, field, op", [
    ("status:past-due", "status", "="), ("provider:Unleash", "provider", "="),
    ("account=acme", "account", "="), ("currency:eur", "currency", "="),
    ("total>1000", "total", ">"), ("total<=5", "total", "<="), ("TOTAL>=1,000.50", "total", ">="),
    ("due<2026-12-01", "due", "<"), ("issued>=2026-01", "issued", ">="),
    ("since:2026-01", "since", "="), ("until:2026", "until", "="),
])
def test_field_terms(text: str, field: str, op: str) -> None:
    term = _one(text)
    assert (term.field, term.op, term.negated) == (field, op, False)
    assert _one("-" + text).negated


def test_values() -> None:
    assert _one("currency:eur").text == "eur"
    assert _one("total>1,000.50").amount == Decimal("1000.50")
    assert _one("due<2026-12-01").days == (dt.date(2026, 12, 1),) * 2
    assert _one("due<2026-02").days == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert _one("until:2026").days == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert _one('account:"big co"').text == "big co"


@pytest.mark.parametrize("text, hint", [
    ("total>abc", "total needs a number — total>1000"),
    ("total>", "total> needs a value, e.g. total>1000"),
    ("due<2026-13-01", "due<2026-13-01 is not a date — use YYYY-MM-DD, YYYY-MM or YYYY"),
    ("since:2026-03-04", "since:2026-03-04 is not a month or a year — since:2026-01"),
    ("since>2026", "since takes a month or a year — since:2026-01"),
    ("status>paid", "status is matched, not compared — status:past-due"),
    ("stauts:paid", "stauts: is not a filter — did you mean status:?"),
])
def test_a_bad_term_is_a_hint_not_an_error(text: str, hint: str) -> None:
    query = parse_query(f"vox {text}")
    assert query.problems == (hint,)
    assert query.words[0] == "vox"  # the rest still filters


def test_a_word_with_a_colon_is_just_a_word() -> None:
    assert _one("https://x.example/1").text == "https://x.example/1"
    assert _one("12:30").field == "text"


def test_a_term_being_typed_is_no_problem_yet() -> None:
    assert parse_query("-").terms == () and parse_query("-").problems == ()
    assert parse_query('"pstn ca').words == ("pstn ca",)  # the quote not closed yet
    assert parse_query('""').terms == ()


def test_status_matches_the_word_the_label_or_the_meaning() -> None:
    assert status_matches(_one("status:past-due"), "unleash", "past-due")
    assert status_matches(_one("status:overdue"), "unleash", "past-due")
    assert status_matches(_one('status:"next invoice"'), "unleash", "upcoming")
    assert status_matches(_one("status:issued"), "voximplant", "taxed")
    assert not status_matches(_one("status:paid"), "unleash", "unpaid")


def test_text_fields() -> None:
    assert text_field_matches(_one("provider:unl"), "unleash")
    assert not text_field_matches(_one("provider:leash"), "unleash")
    assert text_field_matches(_one("account:acme"), "unleash-acme")
    assert text_field_matches(_one("currency:eur"), "EUR")
    assert not text_field_matches(_one("currency:eu"), "EUR")


def test_comparisons_take_a_month_or_year_as_a_range() -> None:
    nov, dec1, dec31 = dt.date(2026, 11, 30), dt.date(2026, 12, 1), dt.date(2026, 12, 31)
    assert compare_day(_one("due<2026-12"), nov) and not compare_day(_one("due<2026-12"), dec1)
    assert compare_day(_one("due<=2026-12"), dec31)
    assert compare_day(_one("due>2026-11"), dec1) and not compare_day(_one("due>2026-11"), nov)
    assert compare_day(_one("due>=2026-12"), dec1) and not compare_day(_one("due>=2026-12"), nov)
    assert compare_day(_one("due:2026-12"), dec31) and not compare_day(_one("due:2026-12"), nov)
    assert compare_day(_one("since:2026-12"), dec1) and not compare_day(_one("since:2026-12"), nov)
    assert compare_day(_one("until:2026-11"), nov) and not compare_day(_one("until:2026-11"), dec1)
    assert not compare_day(_one("due<2026-12"), None)  # no due date: never matches


def test_amounts_compare_exactly() -> None:
    assert compare_amount(_one("total>1000"), Decimal("1000.01"))
    assert not compare_amount(_one("total>1000"), Decimal("1000.00"))
    assert compare_amount(_one("total<=5"), Decimal("5"))
    assert compare_amount(_one("total:5"), Decimal("5.00"))
    assert not compare_amount(_one("total>0"), None)


@given(st.text(max_size=60))
def test_parsing_never_raises_and_terms_are_clean(text: str) -> None:
    query = parse_query(text)
    for term in query.terms:
        assert term.field == "text" or term.field in FIELDS
        assert "\x1b" not in term.source and "\x1b" not in term.text
    for problem in query.problems:
        assert "\x1b" not in problem and "\n" not in problem

"""Property tests: provider parsers given arbitrary JSON-like garbage raise only ProviderError."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_unleash import BODY_JSON
from test_voximplant import PAGE_JSON

from invoice_tui.model import AccountSummary, currency_code, invoice_to_dict
from invoice_tui.providers import unleash, voximplant
from invoice_tui.providers._http import loads
from invoice_tui.providers.base import ProviderError
from invoice_tui.text import sanitize

FIELD_NAMES = [
    # Voximplant
    "result", "total_count", "count", "error", "errors", "code", "msg", "invoice_id",
    "invoice_number", "invoice_date", "status", "period", "from", "to", "amount", "tax_amount",
    "total_amount", "amount_to_pay", "discount_amount", "currency", "rows", "service_name",
    "taxes", "taxable_measure", "level", "rate", "name", "category", "balance",
    # Unleash
    "planPrice", "planCurrency", "invoices", "invoiceDate", "dueDate", "totalAmount", "subtotal",
    "taxAmount", "taxPercentage", "invoiceURL", "invoicePDF", "monthText", "mainLines",
    "usageLines", "description", "quantity", "lookupKey", "startDate", "endDate", "limit",
    "consumption", "unitPrice",
]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(["NaN", "-Infinity", "1e999999", "0.1", "-5", "2026-13-45", "2026-02-03",
                     "2026-02-03T10:00:00Z", "", "²", "١٢", "\x1b[2J", "USD", "9" * 5000]),
    st.text(max_size=20),
)
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=5)), children,
                        max_size=6),
    ),
    max_leaves=40,
)


# Real-shaped answers (the hand-written ones the provider tests check field by field),
# decoded as the providers decode them.
VALID: dict[str, Any] = {
    "voximplant": loads(PAGE_JSON),
    "info": loads('{"result": {"account_id": 1, "balance": 12.50, "currency": "EUR"}}'),
    "unleash": loads(BODY_JSON),
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replaced(value[head], rest, new)
    return copy


def mutated(kind: str) -> st.SearchStrategy[Any]:
    """A valid answer with one to three values somewhere inside swapped for garbage."""
    @st.composite
    def build(draw: st.DrawFn) -> Any:
        body = VALID[kind]
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            body = _replaced(body, draw(st.sampled_from(_paths(body))), draw(json_like))
        return body
    return build()


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_provider_errors(parse: Any, body: Any) -> None:
    try:
        result = parse(body)
    except ProviderError as error:
        assert error.reason and "\n" not in str(error)
        return
    # Whatever parsed must be exact, finite money that exports (no float, no NaN), text
    # the one sanitizer leaves as is, and currency codes of three uppercase letters.
    for value in _values(result):
        assert not isinstance(value, float)
        if isinstance(value, Decimal):
            assert value.is_finite()
        if isinstance(value, str):
            assert sanitize(value) == value
    for code in _currencies(result):
        assert code is None or currency_code(code) == code
    for invoice in getattr(result, "invoices", ()):
        json.dumps(invoice_to_dict(invoice))
    for line in getattr(result, "warnings", ()):
        assert sanitize(line) == line


def _currencies(result: Any) -> list[str | None]:
    if result is None:
        return []
    if isinstance(result, AccountSummary):
        return [result.plan_currency, result.balance_currency]
    invoices = getattr(result, "invoices", ())
    lines = [line for invoice in invoices for line in invoice.lines]
    return [*(i.currency for i in invoices), *(line.currency for line in lines),
            *(tax.currency for line in lines for tax in line.taxes),
            *_currencies(getattr(result, "summary", None))]


def _values(obj: Any) -> list[Any]:
    if isinstance(obj, tuple):
        return [v for item in obj for v in _values(item)]
    if dataclasses.is_dataclass(obj):
        return [v for f in dataclasses.fields(obj) for v in _values(getattr(obj, f.name))]
    return [obj]


@FUZZ
@given(json_like | mutated("voximplant"))
def test_voximplant_page_parser_raises_only_provider_error(body: Any) -> None:
    _only_provider_errors(lambda b: voximplant.parse_page("fuzz", b), body)


@FUZZ
@given(json_like | mutated("info"))
def test_voximplant_account_info_parser_raises_only_provider_error(body: Any) -> None:
    _only_provider_errors(voximplant.parse_account_info, body)


@FUZZ
@given(json_like | mutated("unleash"))
def test_unleash_parser_raises_only_provider_error(body: Any) -> None:
    _only_provider_errors(lambda b: unleash.parse_invoices("fuzz", b), body)


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_json_decoding_raises_only_value_errors(data: bytes) -> None:
    try:
        loads(data)
    except ValueError:
        pass


@given(st.lists(st.decimals(min_value=-10**6, max_value=10**6, places=2), min_size=1,
                max_size=8))
def test_line_amounts_sum_exactly_to_the_total(amounts: list[Decimal]) -> None:
    total = sum(amounts, Decimal(0))
    text = json.dumps({"invoices": [{
        "invoiceDate": "2026-01-01", "currency": "USD", "status": "paid",
        "totalAmount": "__TOTAL__",
        "mainLines": [{"description": str(i), "totalAmount": f"__A{i}__"}
                      for i in range(len(amounts))]}]})
    # Write the numbers as JSON numbers (not strings), exactly as a server would.
    text = text.replace('"__TOTAL__"', f"{total:f}")
    for i, amount in enumerate(amounts):
        text = text.replace(f'"__A{i}__"', f"{amount:f}")
    (invoice,) = unleash.parse_invoices("a", loads(text)).invoices
    assert sum((line.amount or Decimal(0) for line in invoice.lines), Decimal(0)) == invoice.total
    assert [line.amount for line in invoice.lines] == amounts


# --- absurd numbers (issue 6 row 6) -----------------------------------------------------------

# Every number a hostile server can put where the page has one: integers far past
# any 64-bit range, floats (NaN and ±inf too, for callers that hand floats in), and
# Decimals with exponents up to ±10^9 (what ``1e999999999`` in JSON decodes to).
absurd_numbers = st.one_of(
    st.integers(min_value=-(10**500), max_value=10**500),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    st.decimals(),
    st.builds(lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
              st.integers(min_value=-(10**30), max_value=10**30),
              st.integers(min_value=-(10**9), max_value=10**9)),
    st.booleans(),
)
def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


NUMBER_PATHS = [path for path in _paths(VALID["voximplant"])
                if type(_at(VALID["voximplant"], path)) in (int, Decimal)]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(NUMBER_PATHS), absurd_numbers), min_size=1,
                max_size=5))
def test_any_number_in_any_numeric_field_of_a_page_is_at_worst_a_provider_error(
        numbers: list[tuple[tuple[Any, ...], Any]]) -> None:
    body = VALID["voximplant"]
    for path, number in numbers:
        body = _replaced(body, path, number)
    _only_provider_errors(lambda b: voximplant.parse_page("fuzz", b), body)
    try:
        page = voximplant.parse_page("fuzz", body)
    except ProviderError as error:
        assert len(str(error)) < 400
        return
    # A total_count that was kept is a bounded whole number, shown in a short message.
    if page.total_count is not None:
        assert 0 <= page.total_count <= 10**18 + 1
        assert len(voximplant.shown_count(page.total_count)) <= 25


@FUZZ
@given(absurd_numbers, absurd_numbers)
def test_any_number_in_an_error_body_is_one_short_line(code: Any, delay: Any) -> None:
    for body in ({"error": {"code": code, "msg": f"repeat after {delay} s"}},
                 {"error": {"code": 416, "msg": f"repeat after {delay} s"}},
                 {"errors": [{"code": code, "message": delay}]}):
        error = voximplant.api_error(body)
        assert error is not None and "\n" not in str(error) and len(str(error)) < 400
        if error.retry_after is not None:
            assert 0 <= error.retry_after < float("inf")

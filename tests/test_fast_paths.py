"""The fast paths of a big fetch and export give exactly what the careful paths give.

A 100,000-invoice export runs a fast JSON writer, a fast Voximplant invoice parser
and pipelined paging; each must be indistinguishable from the plain version but
for speed (issue 8).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from invoice_factory import synthetic_invoices
from test_parsers_fuzz import FUZZ, VALID, _paths, _replaced, json_like

from invoice_tui.demo import DemoServer, demo_config
from invoice_tui.demo.data import VoximplantInvoices, demo_account
from invoice_tui.export import dumps_indented, iter_json
from invoice_tui.model import Invoice, Line, Tax, invoice_to_dict
from invoice_tui.providers import _http, voximplant
from invoice_tui.providers._http import loads
from invoice_tui.providers.base import FetchOptions, ProviderError
from invoice_tui.providers.voximplant import VoximplantProvider, load_credentials

# --- the JSON export ----------------------------------------------------------------------


def _generic(invoices: list[Invoice]) -> str:
    """The export as the generic writer writes invoice_to_dict (what iter_json must equal)."""
    return dumps_indented([invoice_to_dict(invoice) for invoice in invoices]) \
        if invoices else "[]"


def _exported(invoices: list[Invoice]) -> str:
    return "".join(iter_json(invoices))


def test_fast_json_export_equals_the_generic_writer_on_demo_and_synthetic_data() -> None:
    data = VoximplantInvoices(demo_account("vox-main"), dt.date(2026, 11, 15), 300)
    demo = list(voximplant.parse_page("vox-main", loads(data.page_json(0, 300))).invoices)
    for invoices in (demo, synthetic_invoices(700), []):
        assert _exported(invoices) == _generic(invoices)


# Values a hand-made or old model may hold: every scalar type the generic writer knows,
# text with the characters an export escapes, amounts it writes in a special way.
_odd_text = st.text(alphabet=st.sampled_from(
    list("aé—\"\\ /") + ["\x00", "\x1b", "\x7f", "\x9b", "\u200b", "\u202e", "\u2028", "\ufeff"]),
    max_size=8)
_odd_amount = st.sampled_from([Decimal("1.50"), Decimal("-0"), Decimal("-0.0"), Decimal("-0.00"),
                               Decimal("1E+5"), Decimal("1e-9"), Decimal("NaN"),
                               Decimal("Infinity"), Decimal("-12.5")])
_odd_scalar = st.one_of(st.none(), _odd_text, _odd_amount, st.booleans(), st.integers(),
                        st.floats(allow_nan=False), st.dates(),
                        st.datetimes(min_value=dt.datetime(2000, 1, 1)))
_odd_flag = st.one_of(st.booleans(), st.none(), _odd_text, st.integers(),
                      st.lists(st.integers(), max_size=2),
                      st.dictionaries(_odd_text, st.none(), max_size=2))
_taxes = st.lists(st.builds(Tax, name=_odd_scalar, rate=_odd_scalar, amount=_odd_scalar,
                            currency=_odd_scalar), max_size=2)
_lines = st.lists(st.builds(Line, kind=_odd_text, description=_odd_scalar, amount=_odd_scalar,
                            period_start=_odd_scalar, lookup_key=_odd_scalar,
                            taxes=_taxes.map(tuple)), max_size=2)
_invoices = st.builds(Invoice, account=_odd_text, provider=st.just("voximplant"), id=_odd_scalar,
                      currency=_odd_scalar, status=_odd_text, number=_odd_scalar,
                      issued=_odd_scalar, total=_odd_scalar, totals_computed=_odd_flag,
                      estimate_incomplete=_odd_flag, lines=_lines.map(tuple))


@given(st.lists(_invoices, max_size=3))
def test_fast_json_export_equals_the_generic_writer_on_any_model(invoices: list[Invoice]) -> None:
    assert _exported(invoices) == _generic(invoices)


# --- the Voximplant parser ----------------------------------------------------------------


def _same(raw: Any) -> Invoice | None:
    """The fast parser's invoice, checked against parse_invoice whenever it gives one."""
    fast = voximplant._plain_invoice("a", raw)
    if fast is not None:
        # repr tells 1.50 from 1.5 (== would not): the very same values, not equal ones.
        assert repr(fast) == repr(voximplant.parse_invoice("a", raw))
    return fast


def test_the_fast_parser_takes_every_plain_demo_invoice() -> None:
    data = VoximplantInvoices(demo_account("vox-main"), dt.date(2026, 11, 15), 500)
    fast = [_same(raw) for raw in loads(data.page_json(0, 500))["result"]]
    # Only the demo's invoice with hostile text (index 1) needs the sanitizer.
    assert [index for index, invoice in enumerate(fast) if invoice is None] == [1]


# Values just off plain: what the sanitizer, the currency and date rules and the amount
# bounds would change or refuse, beside arbitrary JSON-like garbage.
_almost_plain = st.sampled_from([
    " a", "a ", "a  b", "a b", "", "\x1b[2J", "a\u200bb", "a\xa0b", "usd", "US$", "USDX",
    "2026-01-01", "2026-01-01 ", "2026-01-01T00:00:00Z", "2026-02-30", "20260101",
    "2026-W01-1", "12.50", 0, -1, 10**15, 10**40, True, Decimal("1E-18"), Decimal("1E-19"),
    Decimal("9.99E+14"), Decimal("1E+15"), Decimal("0E+99"), Decimal("-0"), Decimal("NaN"),
    Decimal("1." + "0" * 45), Decimal("1." + "0" * 44 + "1"), 1.5, [], {}, None,
])


@st.composite
def _mutated_invoice(draw: st.DrawFn) -> Any:
    """A real-shaped invoice (rows as lists) with one to three values swapped for garbage."""
    raw = VALID["voximplant"]["result"][0]
    raw = _replaced(raw, ("rows", 1, "taxes"), [raw["rows"][1]["taxes"]])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        raw = _replaced(raw, draw(st.sampled_from(_paths(raw))),
                        draw(_almost_plain | json_like))
    return raw


@FUZZ
@given(_mutated_invoice())
def test_the_fast_parser_gives_parse_invoices_invoice_or_none(raw: Any) -> None:
    try:
        _same(raw)
    except ProviderError:
        pytest.fail("the fast parser never raises: it leaves every problem to parse_invoice")


# --- paging: a round trip never waits for a parse ---------------------------------------


async def test_a_request_slot_is_free_while_the_answer_is_parsed() -> None:
    slot = asyncio.Semaphore(1)
    seen: list[bool] = []

    def handle(response: httpx.Response) -> int:
        seen.append(slot.locked())
        return response.status_code

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    async with httpx.AsyncClient(transport=transport) as client:
        status = await _http.request(client, "GET", "http://127.0.0.1/x", service="Test",
                                     options=FetchOptions(), policy=_http.RetryPolicy(),
                                     handle=handle, slot=slot)
    assert status == 200 and seen == [False]


class _CountingTransport(httpx.AsyncBaseTransport):
    """The real transport; ``third_page`` is set once a third page has been asked for."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.pages = 0
        self.third_page = threading.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/GetAccountInvoices"):
            self.pages += 1
            if self.pages >= 3:
                self.third_page.set()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_the_next_page_is_asked_for_while_a_page_is_parsed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = _CountingTransport()
    parse_page = voximplant.parse_page
    parses: list[object] = []
    waited: list[bool] = []

    def slow_parse(account: str, body: object, warnings: Any = None) -> voximplant.Page:
        # The second page's parse (offset 100; big pages parse in a thread) ends only
        # once a third page is on its way, which only pipelined paging does with one
        # slot (it may be on its way already); the timeout only keeps a failure short.
        parses.append(body)
        if len(parses) == 2:
            waited.append(transport.third_page.wait(timeout=30))
        return parse_page(account, body, warnings)

    monkeypatch.setattr(voximplant, "parse_page", slow_parse)
    with DemoServer(invoice_count=400, count_cap=100) as server:
        demo_config(server, tmp_path)  # writes the demo accounts' key files
        credentials = load_credentials(str(tmp_path / "vox-main-credentials.json"))
        provider = VoximplantProvider("vox-main", credentials, server.voximplant_base_url)
        async with httpx.AsyncClient(transport=transport) as client:
            result = await provider.fetch(client, FetchOptions(page_size=100, concurrency=1))
    assert waited == [True]
    assert len(result.invoices) == 400

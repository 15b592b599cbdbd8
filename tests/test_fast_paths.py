"""The fast paths of a big fetch and export give exactly what the careful paths give.

A 100,000-invoice export runs a fast JSON writer, a fast Voximplant invoice parser
and pipelined paging; each must be indistinguishable from the plain version but
for speed (issue 8).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from invoice_factory import synthetic_invoices

from invoice_tui.demo.data import VoximplantInvoices, demo_account
from invoice_tui.export import dumps_indented, iter_json
from invoice_tui.model import Invoice, Line, Tax, invoice_to_dict
from invoice_tui.providers import voximplant
from invoice_tui.providers._http import loads

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

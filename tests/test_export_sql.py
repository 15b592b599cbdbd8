"""The JSON export SQLite renders as a sync stores each batch is the Python renderer's text.

A JSON export online is written from texts the store renders in SQL (in C, without
the GIL, while the fetch goes on: issue 8); the Python renderer (``iter_json``) stays
the oracle, and the path for CSV, offline exports and syncs whose store writes failed.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal
from json.encoder import encode_basestring
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invoice_factory import synthetic_invoices
from store_fill import account_config, store_in

from invoice_tui import cli
from invoice_tui.config import config_path
from invoice_tui.demo import DemoServer, write_demo_config
from invoice_tui.export import (
    iter_json,
    iter_rendered_json,
    json_row_render,
    sort_for_export,
)
from invoice_tui.model import AccountSummary, Invoice, Line, Tax
from invoice_tui.store import InvoiceStore, RowRender, StoreError, SyncWriter

RENDER = json_row_render()
SYNCED_AT = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC)


def _python(invoices: list[Invoice]) -> bytes:
    """What the export wrote before: the Python renderer over the sorted invoices."""
    return ("".join(iter_json(sort_for_export(invoices))) + "\n").encode("utf-8")


def _rendering_sync(store: InvoiceStore, invoices: list[Invoice], batch: int = 3
                    ) -> list[SyncWriter]:
    """Each account's invoices written by a rendering sync, ``batch`` at a time."""
    by_account: dict[str, list[Invoice]] = {}
    for invoice in invoices:
        by_account.setdefault(invoice.account, []).append(invoice)
    writers = []
    for name, mine in by_account.items():
        writer = store.begin_sync(account_config(name, mine[0].provider), render=RENDER)
        for start in range(0, len(mine), batch):
            writer.add(mine[start:start + batch])
        writer.finish(AccountSummary(), SYNCED_AT)
        writers.append(writer)
    return writers


def test_json_quote_escapes_every_code_point_as_the_stdlib_escaper() -> None:
    connection = sqlite3.connect(":memory:")
    # Escapes are per character: a run of code points per query compares them all.
    for start in range(0, 0x110000, 4096):
        text = "".join(chr(code) for code in range(start, start + 4096)
                       if not 0xD800 <= code <= 0xDFFF)
        if text:
            (quoted,) = connection.execute("SELECT json_quote(?)", (text,)).fetchone()
            assert quoted == encode_basestring(text), hex(start)


def test_sql_rendering_equals_the_python_renderer_on_synthetic_data(tmp_path: Path) -> None:
    invoices = synthetic_invoices(400)
    with store_in(tmp_path) as store:
        writers = _rendering_sync(store, invoices, batch=50)
        assert len(writers) > 1  # several accounts: merged into the export order
        assert b"".join(iter_rendered_json(writers)) == _python(invoices)


def test_sql_rendering_keeps_the_month_range_of_the_python_path(tmp_path: Path) -> None:
    invoices = synthetic_invoices(300)
    since, until = (2025, 3), (2025, 9)
    kept = [invoice for invoice in invoices if invoice.issued is not None
            and since <= (invoice.issued.year, invoice.issued.month) <= until]
    assert 0 < len(kept) < len(invoices)
    with store_in(tmp_path) as store:
        writers = _rendering_sync(store, invoices, batch=40)
        assert b"".join(iter_rendered_json(writers, since, until)) == _python(kept)


# What a store can hold (typed as the model says) with the text an export must escape:
# every control, DEL, C1, bidi, zero-width, line separators, quotes, backslashes, CJK.
_text = st.text(alphabet=st.one_of(
    st.sampled_from(list('aZ0 é—通"\\/\t\n') + ["\x00", "\x1b", "\x7f", "\x85", "\x9b",
                                                 "\u061c", "\u200b", "\u200f", "\u2028",
                                                 "\u202e", "\u2060", "\u2067", "\ufeff"]),
    st.characters(exclude_categories=("Cs",))), max_size=6)
_amount = st.one_of(st.none(), st.sampled_from([
    Decimal("1.50"), Decimal("0"), Decimal("-0"), Decimal("-0.0"), Decimal("-0.00"),
    Decimal("1E+5"), Decimal("1e-9"), Decimal("-2.5E+3"), Decimal("NaN"), Decimal("Infinity"),
    Decimal("-Infinity"), Decimal("-12.5"), Decimal("123456789012345678901234567890.01")]))
_date = st.one_of(st.none(), st.dates(min_value=dt.date(1990, 1, 1),
                                      max_value=dt.date(2030, 12, 31)))
_optional_text = st.one_of(st.none(), _text)
_taxes = st.lists(st.builds(Tax, name=_optional_text, rate=_amount, amount=_amount,
                            level=_optional_text, category=_optional_text, taxable=_amount,
                            currency=_optional_text), max_size=2).map(tuple)
_lines = st.lists(st.builds(Line, kind=_text, description=_text, quantity=_amount,
                            unit_price=_amount, amount=_amount, tax=_amount, net=_amount,
                            gross=_amount, currency=_optional_text, period_start=_date,
                            period_end=_date, consumption=_amount, limit=_amount,
                            lookup_key=_optional_text, taxes=_taxes), max_size=2).map(tuple)
_invoice = st.builds(Invoice, account=st.sampled_from(["vox", "a\u202eb", "z—"]),
                     provider=st.just("voximplant"), id=_text, currency=_text, status=_text,
                     number=_optional_text, label=_optional_text, issued=_date, due=_date,
                     period_start=_date, period_end=_date, subtotal=_amount,
                     discount=_amount, tax=_amount, total=_amount, amount_due=_amount,
                     tax_rate=_amount, url=_optional_text, pdf_url=_optional_text,
                     totals_computed=st.booleans(), estimate_incomplete=st.booleans(),
                     lines=_lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(_invoice, max_size=6, unique_by=lambda invoice: (invoice.account, invoice.id)))
def test_sql_rendering_equals_the_python_renderer_on_any_storable_invoice(
        tmp_path_factory: pytest.TempPathFactory, invoices: list[Invoice]) -> None:
    with store_in(tmp_path_factory.mktemp("store")) as store:
        writers = _rendering_sync(store, invoices)
        assert b"".join(iter_rendered_json(writers)) == _python(invoices)


def test_a_sync_that_did_not_finish_renders_nothing(tmp_path: Path) -> None:
    invoices = synthetic_invoices(20)
    with store_in(tmp_path) as store:
        writer = store.begin_sync(account_config(invoices[0].account, "voximplant"),
                                  render=RENDER)
        writer.add([invoice for invoice in invoices if invoice.account == invoices[0].account])
        writer.abandon()
        assert list(writer.rendered()) == []


def test_a_bad_render_expression_fails_when_the_sync_begins(tmp_path: Path) -> None:
    with store_in(tmp_path) as store, pytest.raises(StoreError):
        store.begin_sync(account_config("vox", "voximplant"),
                         render=RowRender("no_such_column || i.id"))


def _export(capsys: pytest.CaptureFixture[str], *argv: str) -> bytes:
    code = cli.main(["export", *argv])
    out, _err = capsys.readouterr()
    assert code == 0
    return out.encode("utf-8")


def test_the_online_export_is_the_offline_exports_text(
        configured_server: DemoServer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    original = SyncWriter.rendered

    def counted(self: SyncWriter, *args: object) -> object:
        rendered.append(1)
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SyncWriter, "rendered", counted)
    online = _export(capsys)
    assert rendered  # the store rendered it
    # Offline, the Python renderer writes the same invoices from the store.
    assert online == _export(capsys, "--offline")
    assert json.loads(online)  # and it is JSON


def test_an_export_whose_store_writes_failed_is_rendered_in_python(
        configured_server: DemoServer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _export(capsys)

    def failing(self: SyncWriter, invoices: object) -> int:
        raise StoreError("disk full", "free some space")

    monkeypatch.setattr(SyncWriter, "add", failing)
    code = cli.main(["export"])
    out, err = capsys.readouterr()
    assert code == 0 and "not saved for offline use" in err
    assert out.encode("utf-8") == expected


@pytest.fixture
def configured_server(server: DemoServer) -> DemoServer:
    """The user's config (``$INVOICE_TUI_CONFIG``, a temp path) points at the emulator."""
    write_demo_config(server, config_path())
    return server

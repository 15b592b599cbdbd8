"""The fault matrix: every hostile server, file and terminal input of issue 6, over real HTTP.

Each section is one row of the matrix (what an attacker or a broken proxy does →
what the app must do). The servers are ``tests/hostile.py`` on loopback; nothing
here is mocked below the socket.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import unicodedata
import warnings
import zlib
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hostile import (
    HOSTILE_TOKEN,
    HostileServer,
    Request,
    Responder,
    by_endpoint,
    drip,
    dynamic,
    endless_chunked,
    form,
    gzip_bomb,
    huge,
    json_reply,
    json_text,
    reply,
    unleash_account,
    vox_invoice,
    vox_page,
    voximplant_account,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.traceback import Traceback
from store_helpers import fill_store, new_store
from ui_helpers import NOW, SIZE, TODAY, ScriptedSync, frozen_now, settle, widget_text

import invoice_tui
from invoice_tui import cli, export
from invoice_tui.config import (
    MB,
    AccountConfig,
    Config,
    Settings,
    config_path,
    load_config,
    save_config,
)
from invoice_tui.fs import write_atomic
from invoice_tui.meaning import money_facts, money_totals
from invoice_tui.model import Invoice, Line, format_money
from invoice_tui.providers._http import RetryPolicy
from invoice_tui.providers.base import FetchOptions, FetchResult, ProviderError
from invoice_tui.providers.unleash import parse_invoice as unleash_parse
from invoice_tui.providers.voximplant import (
    MAX_INVOICES,
    MAX_UNCOUNTED_INVOICES,
    VoximplantProvider,
)
from invoice_tui.providers.voximplant import parse_invoice as vox_parse
from invoice_tui.store import InvoiceStore, StoredAccount, open_store
from invoice_tui.sync import (
    SyncFailed,
    SyncOutcome,
    SyncSucceeded,
    download_pdf,
    make_client,
    pdf_file_stem,
    sync_account,
)
from invoice_tui.text import FRAGMENT
from invoice_tui.ui.app import InvoiceApp

REPO = Path(invoice_tui.__file__).parent.parent


# --- 1. escape sequences in the currency field ---------------------------------------

# Shared by sections 1, 2, 3 and 15: what "safe text" means, and quick real syncs.

#: A currency carrying an OSC title write, a string terminator and a clear-screen.
EVIL_CURRENCY = "USD\x1b]0;PWNED\x1b\\\x1b[2J"
#: Escapes (CSI, OSC 52 clipboard write, C1 CSI), bidi overrides/isolates, zero-width chars.
EVIL = ("A\x1b[2J\x1b]52;c;ZXZpbA==\x07B\x9b31m\u202eC\u2066D\u200bE\u200dF\ufeffG"
        "\u2060H\x85I")
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


def dangerous(char: str) -> bool:
    """ESC and every other C0 (but line ends), DEL, C1, bidi, zero-width or format char."""
    if char in "\n\r":
        return False
    return (char in BIDI or char in ZERO_WIDTH or ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0
            or unicodedata.category(char) in ("Cf", "Cs"))


def assert_safe(*texts: object) -> None:
    """No dangerous character in any of ``texts`` (strings, or objects' every string)."""
    for text in texts:
        for value in _strings(text):
            bad = sorted({hex(ord(c)) for c in value if dangerous(c)})
            assert not bad, f"{bad} in {value!r}"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    if hasattr(value, "__dataclass_fields__"):
        return [s for name in value.__dataclass_fields__ for s in _strings(getattr(value, name))]
    return []


FAST = Settings(timeout=2, max_retries=0, max_response_mb=1)


def synced(account: AccountConfig, settings: Settings = FAST) -> SyncOutcome:
    """One real sync of ``account`` over loopback HTTP."""
    return asyncio.run(sync_account(account, settings))


def run_export(capsys: pytest.CaptureFixture[str], tmp_path: Path, *accounts: AccountConfig,
               fmt: str = "json", lines: bool = False) -> tuple[int, str, str]:
    """``invoice-tui export`` on a config holding ``accounts``: exit code, stdout, stderr."""
    path = tmp_path / "config.toml"
    save_config(path, {"settings": {"timeout": 2, "max_retries": 0, "max_response_mb": 1},
                       "accounts": [dict(a.options) for a in accounts]})
    argv = ["--config", str(path), "--cache-dir", str(tmp_path / "cache"), "export",
            "--format", fmt, *(["--lines"] if lines else [])]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _billed(invoices: Iterable[Invoice]) -> dict[str, Decimal]:
    """The status line's billed figure per currency (the invoices here are all paid)."""
    totals = money_totals(map(money_facts, invoices))
    return {code: money.billed for code, money in totals.items()}


def unleash_invoice(month: str, currency: object = "USD", **overrides: Any) -> dict[str, Any]:
    """One well-formed Unleash detailed invoice with ``overrides`` applied."""
    invoice: dict[str, Any] = {
        "invoiceDate": "2026-10-01T00:00:00Z", "status": "paid", "currency": currency,
        "totalAmount": 10, "subtotal": 10, "taxAmount": 0, "monthText": month,
        "mainLines": [{"description": "Seats", "quantity": 1, "totalAmount": 10,
                       "currency": currency, "lookupKey": "seats"}],
        "usageLines": [],
    }
    invoice.update(overrides)
    return invoice



def test_unleash_currency_codes_are_validated_at_parse(hostile: HostileServer) -> None:
    hostile.respond = json_reply({"planPrice": 80, "planCurrency": EVIL_CURRENCY, "invoices": [
        unleash_invoice("October 2026", EVIL_CURRENCY),
        unleash_invoice("September 2026", "usd", invoiceDate="2026-09-01T00:00:00Z"),
        unleash_invoice("August 2026", "US$", invoiceDate="2026-08-01T00:00:00Z"),
    ]})
    outcome = synced(unleash_account(hostile))
    assert isinstance(outcome, SyncSucceeded)
    by_label = {i.label: i for i in outcome.invoices}
    assert [(by_label[m].currency, by_label[m].lines[0].currency)
            for m in ("October 2026", "September 2026", "August 2026")] == [
        ("XXX", "XXX"), ("USD", "USD"), ("XXX", "XXX")]
    assert outcome.summary.plan_currency == "XXX"
    evil = "'USD' with control characters"  # never the payload, raw or spelled out
    assert outcome.warnings == (
        f"planCurrency {evil} is not an ISO code — shown as XXX",
        f"invoice October 2026: currency {evil} is not an ISO code — shown as XXX "
        "(and 1 more invoice)",
    )
    assert_safe(outcome.invoices, outcome.summary, outcome.warnings)
    # XXX may stand for different currencies: never summed, left out of totals.
    assert _billed(outcome.invoices) == {"USD": Decimal(10)}


def test_voximplant_currency_codes_are_validated_everywhere(hostile: HostileServer,
                                                            tmp_path: Path) -> None:
    row = {"service_name": "Calls", "amount": {"total_amount": 12, "tax_amount": 2,
                                               "currency": "eur"},
           "taxes": [{"name": "VAT", "rate": 0.2, "amount": 2, "currency": EVIL_CURRENCY}]}
    evil_amount = {"total_amount": 5, "tax_amount": 0, "amount_to_pay": 5,
                   "discount_amount": 0, "currency": EVIL_CURRENCY}
    hostile.respond = by_endpoint({
        "GetAccountInvoices": vox_page([vox_invoice(1, rows=[row]),
                                        vox_invoice(2, amount=evil_amount)], total_count=2),
        "GetAccountInfo": json_reply({"result": {"balance": 5, "currency": "\u202eDSU"}}),
    })
    outcome = synced(voximplant_account(hostile, tmp_path))
    assert isinstance(outcome, SyncSucceeded)
    first, second = sorted(outcome.invoices, key=lambda i: i.id)
    assert (first.currency, first.lines[0].currency, first.lines[0].taxes[0].currency) == (
        "USD", "EUR", "XXX")
    assert second.currency == "XXX"
    assert (outcome.summary.balance, outcome.summary.balance_currency) == (5, "XXX")
    evil = "'USD' with control characters"
    assert outcome.warnings == (
        f"invoice H-1: currency {evil} is not an ISO code — shown as XXX (and 1 more invoice)",
        "account info: result.currency 'DSU' with control characters is not an ISO code "
        "— shown as XXX",
    )
    assert_safe(outcome.invoices, outcome.summary, outcome.warnings)


def test_ten_thousand_bad_currencies_are_one_warning_line(hostile: HostileServer) -> None:
    hostile.respond = json_reply({"invoices": [
        {"invoiceDate": "2026-10-01", "status": "paid", "currency": "U$D", "totalAmount": 1,
         "monthText": f"M{n}"} for n in range(10_000)]})
    outcome = synced(unleash_account(hostile), Settings(timeout=10, max_retries=0))
    assert isinstance(outcome, SyncSucceeded) and len(outcome.invoices) == 10_000
    (line,) = outcome.warnings
    assert line.endswith("'U$D' is not an ISO code — shown as XXX (and 9,999 more invoices)")


def test_export_shows_the_marker_and_prints_the_warning(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = json_reply({"planCurrency": "EUR", "invoices": [
        unleash_invoice("October 2026", EVIL_CURRENCY),
        unleash_invoice("September 2026", "usd", invoiceDate="2026-09-01T00:00:00Z")]})
    account = unleash_account(hostile)
    code, out, err = run_export(capsys, tmp_path, account)
    assert code == 0
    assert [i["currency"] for i in json.loads(out)] == ["XXX", "USD"]
    assert err.splitlines() == [
        "invoice-tui: unleash-hostile: invoice October 2026: currency 'USD' with control "
        "characters is not an ISO code — shown as XXX"]
    code, out, err = run_export(capsys, tmp_path, account, fmt="csv", lines=True)
    assert code == 0 and "with control characters" in err and len(err.splitlines()) == 1
    assert "PWNED" not in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["invoice_currency"], r["currency"]) for r in rows] == [("XXX", "XXX"),
                                                                      ("USD", "USD")]
    assert_safe(out, err)


def test_format_money_never_prints_a_code_that_is_not_one() -> None:
    # Invoices also come from the cache file, which is not trusted either.
    assert format_money(Decimal("1234.5"), EVIL_CURRENCY, with_code=True) == "1,234.50 XXX"
    assert format_money(Decimal("1"), "usd", with_code=True) == "1.00 USD"
    assert format_money(Decimal("7"), "JPY", with_code=True) == "7 JPY"
    assert format_money(Decimal("1"), "EURO", with_code=True) == "1.00 XXX"
    invoices = [Invoice(account="a", provider="unleash", id=str(n), currency=code,
                        status="paid", total=Decimal(1))
                for n, code in enumerate(["USD", "usd", "XXX", EVIL_CURRENCY, "US$", "EUR"])]
    assert _billed(invoices) == {"USD": Decimal(2), "EUR": Decimal(1)}


def _texts(app: InvoiceApp, *selectors: str) -> str:
    return "\n".join(widget_text(app.screen.query_one(selector)) for selector in selectors)


async def test_no_raw_currency_reaches_the_main_screen_detail_or_line(
        hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = json_reply({"planPrice": 80, "planCurrency": EVIL_CURRENCY, "invoices": [
        unleash_invoice("October 2026", EVIL_CURRENCY, unitPrice=10),
        unleash_invoice("September 2026", "usd", invoiceDate="2026-09-01T00:00:00Z")]})
    account = unleash_account(hostile)
    app = InvoiceApp(Config(path=None, settings=FAST, accounts=(account,)),
                     new_store(tmp_path), now=frozen_now, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        main = _texts(app, "StatusLine", "ProviderPane", "InvoiceTable")
        assert "10.00 USD" in main and "plan 80.00 XXX" in main
        assert "XXX" not in widget_text(app.screen.query_one("StatusLine"))  # never summed
        await pilot.press("enter")  # the newest: October, in the hostile currency
        detail = _texts(app, "#invoice-header", "#invoice-money", "#lines")
        assert "October 2026" in detail and "10.00 XXX" in detail
        await pilot.press("enter")
        line = _texts(app, "#line-metering")
        assert "10.00 XXX" in line
        toasts = [n.message for n in app._notifications]
        assert any("shown as XXX" in toast for toast in toasts)
        for text in (main, detail, line, *toasts):
            assert "PWNED" not in text or "\\x1b" in text  # only ever spelled out
            assert_safe(text)


async def test_a_tampered_store_never_shows_a_raw_currency(tmp_path: Path) -> None:
    account = AccountConfig(name="acme", provider="unleash", options={"name": "acme"})
    store = new_store(tmp_path)
    evil = Invoice(account="acme", provider="unleash", id="1", currency=EVIL_CURRENCY,
                   status="paid", label="Evil", issued=TODAY, total=Decimal(3),
                   lines=(Line(kind="main", description="x", amount=Decimal(3),
                               currency=EVIL_CURRENCY),))
    fine = Invoice(account="acme", provider="unleash", id="2", currency="EUR", status="paid",
                   label="Fine", issued=TODAY.replace(day=1), total=Decimal(4))
    fill_store(store, account, (evil, fine), NOW)
    sync = ScriptedSync({"acme": ()}, hold={"acme"})  # the refresh never lands
    app = InvoiceApp(Config(path=None, accounts=(account,)), store, now=frozen_now,
                     today=TODAY, sync=sync)
    async with app.run_test(size=SIZE) as pilot:
        await app.screen.cache_loaded.wait()  # type: ignore[attr-defined]
        await pilot.pause()
        main = _texts(app, "StatusLine", "InvoiceTable")
        assert "4.00 EUR" in main and "XXX" in main
        await pilot.press("enter")
        detail = _texts(app, "#invoice-money", "#lines")
        assert "3.00 XXX" in detail
        for text in (main, detail):
            assert "PWNED" not in text and "[2J" not in text
            assert_safe(text)
        sync.release()


# --- 2. server text in toasts, reasons, hints and stderr -----------------------------


def _toasts(app: InvoiceApp, title: str) -> list[str]:
    return [n.message for n in app._notifications if n.title == title]


async def test_pdf_error_toast_shows_a_hostile_title_sanitized(hostile: HostileServer,
                                                              tmp_path: Path) -> None:
    # The invoice as a tampered cache (or any future parser) could hold it: raw title.
    hostile.respond = json_reply({"message": "gone"}, status=404)
    account = unleash_account(hostile)
    invoice = Invoice(account=account.name, provider="unleash", id="1", currency="USD",
                      status="paid", label=f"Oct {EVIL}", issued=TODAY, total=Decimal(1),
                      pdf_url=f"{hostile.url}/invoice.pdf")
    app = InvoiceApp(Config(path=None, settings=FAST, accounts=(account,)),
                     new_store(tmp_path), now=frozen_now, today=TODAY,
                     sync=ScriptedSync({account.name: (invoice,)}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "d")
        await settle(app, pilot)
        (toast,) = _toasts(app, "PDF")
        assert hostile.requests[-1].path == "/invoice.pdf"
        assert "the PDF link of Oct ABCDEFGH I answered HTTP 404" in toast
        assert "ZXZpbA" not in toast and "[2J" not in toast
        assert_safe(toast)


async def test_voximplant_download_error_toast_is_sanitized(hostile: HostileServer,
                                                            tmp_path: Path) -> None:
    hostile.respond = by_endpoint({
        "GetAccountInvoices": vox_page([vox_invoice(1)], total_count=1),
        "GetAccountInfo": json_reply({"result": {"balance": 1, "currency": "USD"}}),
        "DownloadInvoice": json_reply({"error": {"code": 2, "msg": f"no PDF {EVIL}"}}),
    })
    account = voximplant_account(hostile, tmp_path)
    app = InvoiceApp(Config(path=None, settings=FAST, accounts=(account,)),
                     new_store(tmp_path), now=frozen_now, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "d")
        await settle(app, pilot)
        (toast,) = _toasts(app, "PDF")
        assert "Voximplant error 2: no PDF ABCDEFGH I" in toast
        assert "ZXZpbA" not in toast
        assert_safe(toast)


def test_error_messages_from_servers_reach_stderr_as_one_safe_line(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vox_server, unleash_server = hostile, HostileServer()
    with unleash_server:
        vox_server.respond = by_endpoint({"GetAccountInvoices": json_reply(
            {"error": {"code": 2, "msg": f"internal \x1b]52;c;ZXZpbA==\x07 {EVIL}\n2nd"}})})
        unleash_server.respond = json_reply({"message": f"bad \u202etoken\u200b {EVIL}"},
                                            status=401)
        vox, unleash = voximplant_account(vox_server, tmp_path), unleash_account(unleash_server)
        outcomes = [synced(vox), synced(unleash)]
        code, out, err = run_export(capsys, tmp_path, vox, unleash)
    for outcome in outcomes:
        assert isinstance(outcome, SyncFailed)
        assert_safe(outcome.error.reason, outcome.error.hint, str(outcome.error))
    assert code == 1 and json.loads(out) == []
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("invoice-tui: vox-hostile: Voximplant error 2: internal "
                               "ABCDEFGH I 2nd — ")
    assert lines[1].startswith("invoice-tui: unleash-hostile: Unleash rejected the token "
                               "(HTTP 401: missing, invalid or expired): bad token ABCDEFGH I — ")
    assert "ZXZpbA" not in err
    assert_safe(err)


def test_provider_error_sanitizes_reason_and_hint_itself() -> None:
    error = ProviderError(f"reason {EVIL}", f"hint\n{EVIL}")
    assert (error.reason, error.hint) == ("reason ABCDEFGH I", "hint ABCDEFGH I")
    assert error.args == ("reason ABCDEFGH I",)  # reprs and crash dumps show args
    assert str(error) == "reason ABCDEFGH I — hint ABCDEFGH I"


def test_cli_say_keeps_any_line_to_one_safe_line(capsys: pytest.CaptureFixture[str]) -> None:
    cli._say(f"oops {EVIL}\nsecond line")
    assert capsys.readouterr().err == "invoice-tui: oops ABCDEFGH I second line\n"


# --- 3. one sanitizer: escapes, bidi, zero-width ------------------------------------


def test_hostile_text_in_every_unleash_field_never_reaches_model_export_or_stderr(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = {"description": f"Seats {EVIL}", "quantity": 1, "totalAmount": 10,
            "currency": "USD", "lookupKey": EVIL}
    hostile.respond = json_reply({"planCurrency": "USD", "invoices": [
        unleash_invoice(f"October {EVIL}", status=f"paid{EVIL}", mainLines=[line],
                        usageLines=[dict(line, description=EVIL)])]})
    account = unleash_account(hostile)
    outcome = synced(account)
    assert isinstance(outcome, SyncSucceeded)
    (invoice,) = outcome.invoices
    assert (invoice.label, invoice.status) == ("October ABCDEFGH I", "paidABCDEFGH I")
    assert [(li.description, li.lookup_key) for li in invoice.lines] == [
        ("Seats ABCDEFGH I", "ABCDEFGH I"), ("ABCDEFGH I", "ABCDEFGH I")]
    assert_safe(outcome.invoices)
    for fmt, lines in (("json", False), ("csv", False), ("csv", True)):
        code, out, err = run_export(capsys, tmp_path, account, fmt=fmt, lines=lines)
        assert (code, err) == (0, "")
        assert "ABCDEFGH I" in out and "ZXZpbA" not in out
        assert_safe(out)


def test_hostile_text_in_every_voximplant_field_never_reaches_model_export_or_stderr(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = {"service_name": f"Calls {EVIL}", "amount": {"total_amount": 12, "tax_amount": 2,
                                                       "currency": "USD"},
           "taxes": [{"name": EVIL, "rate": 0.2, "amount": 2, "level": EVIL, "category": EVIL,
                      "currency": "USD"}]}
    hostile.respond = by_endpoint({
        "GetAccountInvoices": vox_page([vox_invoice(1, invoice_number=f"H-{EVIL}",
                                                    status=EVIL, rows=[row])], total_count=1),
        "GetAccountInfo": json_reply({"result": {"balance": 1, "currency": "USD"}}),
    })
    account = voximplant_account(hostile, tmp_path)
    outcome = synced(account)
    assert isinstance(outcome, SyncSucceeded)
    (invoice,) = outcome.invoices
    assert (invoice.number, invoice.status) == ("H-ABCDEFGH I", "ABCDEFGH I")
    assert invoice.lines[0].description == "Calls ABCDEFGH I"
    tax = invoice.lines[0].taxes[0]
    assert (tax.name, tax.level, tax.category) == ("ABCDEFGH I",) * 3
    assert_safe(outcome.invoices)
    for fmt, lines in (("json", False), ("csv", True)):
        code, out, err = run_export(capsys, tmp_path, account, fmt=fmt, lines=lines)
        assert (code, err) == (0, "")
        assert "H-ABCDEFGH I" in out
        assert_safe(out)


def test_text_that_is_only_escapes_counts_as_missing(hostile: HostileServer) -> None:
    # A required field emptied by the sanitizer is missing, not an empty id.
    hostile.respond = json_reply({"invoices": [unleash_invoice("x", invoiceDate="\x1b[2J")]})
    outcome = synced(unleash_account(hostile))
    assert isinstance(outcome, SyncFailed)
    assert "invoiceDate is missing" in outcome.error.reason


def test_there_is_exactly_one_sanitizer_in_the_package() -> None:
    package = Path(cli.__file__).parent
    found = sorted(f"{path.relative_to(package).as_posix()}:{line.split('(')[0]}"
                   for path in package.rglob("*.py")
                   for line in path.read_text(encoding="utf-8").splitlines()
                   if line.startswith(("def sanitize", "def clean", "def safe")))
    assert found == ["text.py:def sanitize"]


# --- 4. response size: big, endless, gzip bomb -----------------------------------------

SERVICES = {"unleash": "Unleash", "voximplant": "Voximplant"}
SIZE_HINT = ("raise [settings] max_response_mb if this account really has that much data, "
             "else check base_url")


def _account(kind: str, server: HostileServer, directory: Path) -> AccountConfig:
    if kind == "unleash":
        return unleash_account(server)
    return voximplant_account(server, directory)


def _unleash_answer(count: int = 3) -> dict[str, Any]:
    return {"planPrice": 80, "planCurrency": "USD", "invoices": [
        {"invoiceDate": f"2026-0{month}-01T00:00:00Z", "status": "paid", "currency": "USD",
         "totalAmount": 10 * month, "monthText": f"2026-0{month}"}
        for month in range(1, count + 1)]}


def _good_answer(kind: str, count: int = 3) -> Responder:
    if kind == "unleash":
        return json_reply(_unleash_answer(count))
    return by_endpoint({
        "GetAccountInvoices": vox_page([vox_invoice(n) for n in range(1, count + 1)], count),
        "GetAccountInfo": json_reply({"result": {"balance": 5, "currency": "USD"}}),
    })


def _write_config(path: Path, accounts: list[AccountConfig], **settings: object) -> Path:
    data: dict[str, Any] = {"accounts": [dict(account.options) for account in accounts]}
    if settings:
        data["settings"] = settings
    save_config(path, data)
    return path


async def _sync_error(account: AccountConfig, settings: Settings,
                      store: InvoiceStore | None = None) -> ProviderError:
    outcome = await sync_account(account, settings, store=store)
    assert isinstance(outcome, SyncFailed), outcome
    return outcome.error


TINY = Settings(max_response_mb=1, timeout=5)


@pytest.mark.parametrize("kind", SERVICES)
@pytest.mark.parametrize("responder", ["huge", "endless", "gzip bomb"])
async def test_row4_oversized_bodies_stop_at_the_limit(hostile: HostileServer, tmp_path: Path,
                                                       kind: str, responder: str) -> None:
    hostile.respond = {
        "huge": lambda: huge(500 * MB),  # announced: refused before reading
        "endless": lambda: endless_chunked(hostile.stopped, seconds=30),
        "gzip bomb": lambda: gzip_bomb(256 * MB),  # 256 KB on the wire
    }[responder]()
    started = time.monotonic()
    error = await _sync_error(_account(kind, hostile, tmp_path), TINY)
    assert (error.reason, error.hint) == (f"{SERVICES[kind]} response larger than 1 MB",
                                          SIZE_HINT)
    assert not error.retryable
    assert time.monotonic() - started < TINY.timeout  # stopped reading, not timed out
    assert len(hostile.requests) == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw deflate", "deflate, gzip"])
async def test_row4_compressed_answers_within_the_limit_are_inflated(
        hostile: HostileServer, encoding: str) -> None:
    body = json_text(_unleash_answer(3))
    sent = {
        "gzip": gzip.compress(body),
        "deflate": zlib.compress(body),
        "raw deflate": zlib.compress(body, wbits=-zlib.MAX_WBITS),
        "deflate, gzip": gzip.compress(zlib.compress(body)),  # deflate first, then gzip
    }[encoding]
    name = "deflate" if encoding == "raw deflate" else encoding
    hostile.respond = reply(sent, headers={"Content-Encoding": name})
    outcome = await sync_account(unleash_account(hostile), TINY)
    assert isinstance(outcome, SyncSucceeded), outcome
    assert [invoice.label for invoice in outcome.invoices] == ["2026-03", "2026-02", "2026-01"]
    # We only ask for what we can inflate in bounded steps.
    assert hostile.requests[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("slack", [0, -1])
async def test_row4_the_limit_counts_decompressed_bytes(hostile: HostileServer,
                                                        slack: int) -> None:
    body = json_text(_unleash_answer(3)) + b" " * 5000
    hostile.respond = reply(gzip.compress(body), headers={"Content-Encoding": "gzip"})
    provider = unleash_account(hostile).build()
    options = FetchOptions(max_response_bytes=len(body) + slack)
    async with make_client(TINY) as client:
        if slack == 0:
            assert len((await provider.fetch(client, options)).invoices) == 3
            return
        with pytest.raises(ProviderError, match=r"^Unleash response larger than "):
            await provider.fetch(client, options)


@pytest.mark.parametrize("encoding, body", [
    ("br", b"\x0b\x02\x80{}\x03"),
    ("gzip", b"\x1f\x8b\x08\x00garbled-not-deflate"),
])
async def test_row4_unreadable_encodings_are_one_clear_line(hostile: HostileServer,
                                                            encoding: str, body: bytes) -> None:
    hostile.respond = reply(body, headers={"Content-Encoding": encoding})
    error = await _sync_error(unleash_account(hostile), TINY)
    assert error.reason == "Unleash (127.0.0.1) sent a response that could not be decompressed"


@pytest.mark.parametrize("kind", SERVICES)
async def test_row4_pdf_downloads_obey_the_cap(hostile: HostileServer, tmp_path: Path,
                                               kind: str) -> None:
    provider = _account(kind, hostile, tmp_path).build()
    invoice = (_pdf_invoice(f"{hostile.url}/in_1.pdf") if kind == "unleash"
               else vox_parse("vox-hostile", vox_invoice(7)))
    hostile.respond = gzip_bomb(64 * MB)
    async with make_client(TINY) as client:
        with pytest.raises(ProviderError) as caught:
            await provider.download_pdf(client, TINY.fetch_options(), invoice)
    assert caught.value.reason == f"{SERVICES[kind]} response larger than 1 MB"


# The CLI, then its own peak RSS written to argv[1]. Measured inside the child: on Linux
# a child's ru_maxrss (wait4, RUSAGE_CHILDREN) keeps the RSS it had before exec, i.e. the
# whole pytest process it was forked from; VmHWM is the exec'd program's own peak.
_MEASURED_EXPORT = """
import resource, sys
from invoice_tui import cli
code = cli.main(sys.argv[2:])
try:
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_kb = peak // 1024 if sys.platform == "darwin" else peak
with open(sys.argv[1], "w") as out:
    out.write(str(peak_kb))
sys.exit(code)
"""


@pytest.mark.parametrize("responder", ["huge", "endless", "gzip bomb"])
def test_row4_export_memory_stays_bounded_with_the_default_limit(
        hostile: HostileServer, tmp_path: Path, responder: str) -> None:
    """The whole CLI in a child process: peak RSS is measured, not guessed (default 64 MB)."""
    hostile.respond = {
        "huge": lambda: huge(500 * MB),
        "endless": lambda: endless_chunked(hostile.stopped, seconds=30),
        "gzip bomb": lambda: gzip_bomb(1024 * MB),  # ~1 MB on the wire
    }[responder]()
    config = _write_config(tmp_path / "config.toml", [unleash_account(hostile)])
    peak = tmp_path / "peak-kb.txt"
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-c", _MEASURED_EXPORT, str(peak), "export", "--config", str(config)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=60, check=False)
    elapsed = time.monotonic() - started
    peak_mb = int(peak.read_text()) / 1024
    print(f"\n{responder}: exit {child.returncode}, {elapsed:.1f} s, peak RSS {peak_mb:.0f} MB")
    assert child.stderr.decode().splitlines() == [
        f"invoice-tui: unleash-hostile: Unleash response larger than 64 MB — {SIZE_HINT}"]
    assert child.returncode == 1
    assert peak_mb < 250
    assert elapsed < 30


# --- 5. timeout is the whole request's deadline --------------------------------------

DEADLINE_HINT = "try again later, or raise [settings] timeout"


@pytest.mark.parametrize("kind", SERVICES)
async def test_row5_a_dripping_server_ends_at_the_deadline(hostile: HostileServer,
                                                           tmp_path: Path, kind: str) -> None:
    # Every read succeeds well within the timeout: only a whole-request deadline ends it.
    hostile.respond = drip(hostile.stopped, interval=0.2, seconds=30)
    settings = Settings(timeout=1, max_response_mb=1024)  # drip announces 10**9 bytes
    started = time.monotonic()
    error = await _sync_error(_account(kind, hostile, tmp_path), settings)
    assert (error.reason, error.hint) == (
        f"{SERVICES[kind]} (127.0.0.1) did not answer within 1 s", DEADLINE_HINT)
    assert time.monotonic() - started < settings.timeout + 5


@pytest.mark.parametrize("kind", SERVICES)
async def test_row5_a_retry_after_past_the_deadline_gives_up_at_once(
        hostile: HostileServer, tmp_path: Path, kind: str) -> None:
    hostile.respond = json_reply({}, status=429, headers={"Retry-After": "30"})
    settings = Settings(timeout=2)
    started = time.monotonic()
    error = await _sync_error(_account(kind, hostile, tmp_path), settings)
    assert error.reason == f"gave up after 1 attempt: {SERVICES[kind]} rate limit hit (HTTP 429)"
    assert len(hostile.requests) == 1
    assert time.monotonic() - started < settings.timeout + 5


async def test_row5_retries_share_one_deadline(hostile: HostileServer) -> None:
    hostile.respond = json_reply({"message": "down"}, status=503)  # no Retry-After: backoff
    settings = Settings(timeout=1, max_retries=50)
    started = time.monotonic()
    error = await _sync_error(unleash_account(hostile), settings)
    assert re.fullmatch(r"gave up after \d+ attempts?: Unleash server error \(HTTP 503\)",
                        error.reason), error.reason
    assert len(hostile.requests) < 50
    assert time.monotonic() - started < settings.timeout + 5


def test_row5_export_ends_within_timeout_plus_5(hostile: HostileServer, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = drip(hostile.stopped, interval=0.2, seconds=30)
    config = _write_config(tmp_path / "config.toml",
                           [unleash_account(hostile), voximplant_account(hostile, tmp_path)],
                           timeout=1, max_response_mb=1024)
    started = time.monotonic()
    code = cli.main(["export", "--config", str(config)])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 1 and out == "[]\n"
    assert sorted(err.splitlines()) == [
        f"invoice-tui: unleash-hostile: Unleash (127.0.0.1) did not answer within 1 s — "
        f"{DEADLINE_HINT}",
        f"invoice-tui: vox-hostile: Voximplant (127.0.0.1) did not answer within 1 s — "
        f"{DEADLINE_HINT}",
    ]
    assert elapsed < 1 + 5


# --- 6. Voximplant paging that never ends; absurd numbers ------------------------------

PAGE = 20  # the page size asked for in this section
WRONG_SERVER = "check base_url points at the Voximplant Management API (…/platform_api)"


def _vox(hostile: HostileServer, tmp_path: Path, *, max_invoices: int = MAX_INVOICES,
         sleeps: list[float] | None = None) -> VoximplantProvider:
    provider = voximplant_account(hostile, tmp_path).build()
    assert isinstance(provider, VoximplantProvider)
    provider.max_invoices = max_invoices

    async def sleep(seconds: float) -> None:
        (sleeps if sleeps is not None else []).append(seconds)

    provider.retry = RetryPolicy(sleep=sleep)  # retries happen, but waits are only recorded
    return provider


def _options(concurrency: int = 4, max_retries: int = 0, page_size: int = PAGE) -> FetchOptions:
    return FetchOptions(page_size=page_size, concurrency=concurrency, timeout=2,
                        max_retries=max_retries, max_response_bytes=1 << 20)


async def _fetch_vox(provider: VoximplantProvider, concurrency: int = 4,
                     max_retries: int = 0, page_size: int = PAGE) -> FetchResult:
    async with httpx.AsyncClient() as client:
        return await provider.fetch(client, _options(concurrency, max_retries, page_size))


async def _vox_error(provider: VoximplantProvider, concurrency: int = 4,
                     page_size: int = PAGE) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await _fetch_vox(provider, concurrency, page_size=page_size)
    error = caught.value
    assert "\n" not in str(error) and len(str(error)) < 300
    return error


def _invoice_requests(hostile: HostileServer) -> int:
    return sum(1 for request in hostile.requests if request.endpoint == "GetAccountInvoices")


def _invoices_only(pages: Responder) -> Responder:
    # GetAccountInfo gets the default "unknown command" error: the balance is best effort.
    return by_endpoint({"GetAccountInvoices": pages})


def _same_page(total_count: object) -> Responder:
    """The first page, whatever offset is asked (a server or proxy ignoring offset)."""
    return _invoices_only(vox_page([vox_invoice(n) for n in range(1, PAGE + 1)], total_count))


def _fresh_pages(total_count: object = None, *, size: int | None = None,
                 stock: int | None = None, cap: int | None = None) -> Responder:
    """A page of new ids at every offset; ``stock`` ends the list, ``cap`` caps ``count``.

    ``total_count=None`` leaves the field out of the answer altogether.
    """
    def page(request: Request) -> Responder:
        asked = form(request)
        offset, count = int(asked["offset"]), int(asked["count"])
        count = min(count, cap) if cap is not None else count
        end = offset + count if stock is None else min(offset + count, stock)
        body: dict[str, Any] = {"result": [vox_invoice(n + 1) for n in range(offset, end)]}
        body["count"] = len(body["result"])
        if total_count is not None:
            body["total_count"] = total_count
        return json_reply(body)
    return _invoices_only(dynamic(page))


async def test_a_trillion_invoices_with_the_same_page_is_refused_after_one_request(
        hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = _same_page(10**12)
    error = await _vox_error(_vox(hostile, tmp_path))
    assert error.reason == ("Voximplant reported 1,000,000,000,000 invoices — more than "
                            "invoice-tui reads (1,000,000)")
    assert error.hint == WRONG_SERVER
    assert len(hostile.requests) == 1  # not even GetAccountInfo


async def test_a_believable_total_with_the_same_page_stops_at_nothing_new(
        hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = _same_page(900_000)  # under the ceiling: paging starts, then sees repeats
    error = await _vox_error(_vox(hostile, tmp_path), concurrency=4)
    assert error.reason == ("Voximplant sent the same invoices again for offset 20 "
                            "(20 of 900,000 read)")
    assert "ignores offset" in error.hint
    assert _invoice_requests(hostile) <= 1 + 4  # the first page, then what was in flight


async def test_an_honest_small_total_with_offset_ignored_stops_at_nothing_new(
        hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = _same_page(100)
    error = await _vox_error(_vox(hostile, tmp_path), concurrency=2)
    assert error.reason == "Voximplant sent the same invoices again for offset 20 (20 of 100 read)"
    assert _invoice_requests(hostile) <= 1 + 2


async def test_offset_ignored_in_the_sequential_gap_fill_stops_too(
        hostile: HostileServer, tmp_path: Path) -> None:
    # The first page is full (stride 20), every later one short and the same: the short
    # page's gap is read from its real offset, which brings nothing new either.
    first = vox_page([vox_invoice(n) for n in range(1, PAGE + 1)], 60)
    short = vox_page([vox_invoice(1000)], 60)
    hostile.respond = _invoices_only(dynamic(
        lambda request: first if form(request)["offset"] == "0" else short))
    error = await _vox_error(_vox(hostile, tmp_path), concurrency=1)
    assert error.reason.startswith("Voximplant sent the same invoices again for offset ")
    assert "(21 of 60 read)" in error.reason
    assert _invoice_requests(hostile) <= 4


async def test_unique_ids_forever_with_a_trillion_total_is_refused_up_front(
        hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = _fresh_pages(10**12)
    error = await _vox_error(_vox(hostile, tmp_path))
    assert error.reason.startswith("Voximplant reported 1,000,000,000,000 invoices")
    assert _invoice_requests(hostile) == 1


async def test_unique_ids_forever_without_a_total_stop_at_the_ceiling(
        hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = _fresh_pages()
    error = await _vox_error(_vox(hostile, tmp_path, max_invoices=5_000), page_size=100)
    assert error.reason == ("Voximplant's invoice list did not end within 5,000 invoices "
                            "(the most invoice-tui reads of a list without total_count)")
    assert error.hint == WRONG_SERVER
    assert 5_000 // 100 <= _invoice_requests(hostile) <= 5_000 // 100 + 1 + 4


async def test_a_list_without_a_total_is_trusted_less_than_a_counted_one(
        hostile: HostileServer, tmp_path: Path) -> None:
    # Off-spec (the API always counts): the default ceiling for it is MAX_UNCOUNTED_INVOICES,
    # so a server streaming new ids forever ends in seconds, not after a million invoices.
    hostile.respond = _fresh_pages()
    error = await _vox_error(_vox(hostile, tmp_path), page_size=1000)
    assert error.reason.startswith(
        f"Voximplant's invoice list did not end within {MAX_UNCOUNTED_INVOICES:,} invoices")


@pytest.mark.parametrize("stock", [4_999, 5_000])
async def test_a_list_without_a_total_that_ends_at_the_ceiling_is_read_whole(
        hostile: HostileServer, tmp_path: Path, stock: int) -> None:
    hostile.respond = _fresh_pages(stock=stock)
    result = await _fetch_vox(_vox(hostile, tmp_path, max_invoices=5_000), page_size=100)
    assert len(result.invoices) == stock


@pytest.mark.parametrize("number", [
    b"1" + b"0" * 400,          # 10^400 as a JSON integer (used to be OverflowError)
    b"1e400", b"1E+999999999",  # the same as exponents: exact Decimals, never built as ints
    b"1000000000000000000000",  # 10^21: just past what messages show exactly
])
async def test_an_astronomical_total_count_is_one_short_line(
        hostile: HostileServer, tmp_path: Path, number: bytes) -> None:
    body = json_text({"result": [vox_invoice(1)], "total_count": 0}).replace(
        b'"total_count": 0', b'"total_count": ' + number)
    hostile.respond = _invoices_only(reply(body))
    error = await _vox_error(_vox(hostile, tmp_path))
    assert error.reason == ("Voximplant reported more than 10^18 invoices — more than "
                            "invoice-tui reads (1,000,000)")
    assert _invoice_requests(hostile) == 1


@pytest.mark.parametrize(("stock", "total_count", "cap"), [
    (53, 60, None),     # total_count overstated a little: an empty page ends the list
    (53, 60, 7),        # ... and the server caps count at 7: stride 7
    (53, 53, 7),        # honest total, capped count
    (53, 1_000_000, 50),  # overstated up to the ceiling itself: still ends at the empty page
])
async def test_well_behaved_servers_still_give_every_invoice(
        hostile: HostileServer, tmp_path: Path, stock: int, total_count: int,
        cap: int | None) -> None:
    hostile.respond = _fresh_pages(total_count, stock=stock, cap=cap)
    result = await _fetch_vox(_vox(hostile, tmp_path))
    assert sorted(int(invoice.id) for invoice in result.invoices) == list(range(1, stock + 1))
    stride = min(PAGE, cap or PAGE)
    assert _invoice_requests(hostile) <= -(-stock // stride) + 1 + 4


async def test_a_server_without_total_that_repeats_its_last_page_past_the_end(
        hostile: HostileServer, tmp_path: Path) -> None:
    # Some APIs clamp offset to the last page: with no total_count to say more exist,
    # the repeat is the list's end, and everything before it was read.
    def page(request: Request) -> Responder:
        offset = min(int(form(request)["offset"]), 40)
        return json_reply({"result": [vox_invoice(n + 1) for n in range(offset, offset + PAGE)]})
    hostile.respond = _invoices_only(dynamic(page))
    result = await _fetch_vox(_vox(hostile, tmp_path))
    assert len(result.invoices) == 60
    assert _invoice_requests(hostile) <= 4 + 4


@pytest.mark.parametrize("total_count", [b"-5", b"12.5", b"true", b'"28"', b"[]", b'{"n": 1}'])
async def test_a_total_count_that_is_no_count_is_ignored(
        hostile: HostileServer, tmp_path: Path, total_count: bytes) -> None:
    # Read as if it were missing: to the empty page at the list's end.
    def page(request: Request) -> Responder:
        offset = int(form(request)["offset"])
        invoices = [vox_invoice(n + 1) for n in range(offset, min(offset + PAGE, 28))]
        text = json_text({"result": invoices, "total_count": "@"})
        return reply(text.replace(b'"@"', total_count))
    hostile.respond = _invoices_only(dynamic(page))
    result = await _fetch_vox(_vox(hostile, tmp_path))
    assert len(result.invoices) == 28


@pytest.mark.parametrize(("invoice", "outcome"), [
    ({"invoice_id": 10**400}, "1" + "0" * 400),
    ({"invoice_id": Decimal("1.5")}, "1.5"),
    ({"invoice_id": Decimal("1E+400")}, "1E+400"),
    ({"amount": {"total_amount": 10**400, "currency": "USD"}},
     "amount.total_amount is out of range for an amount"),
    ({"amount": {"total_amount": Decimal("1E-400"), "currency": "USD"}},
     "amount.total_amount is out of range for an amount"),
    ({"rows": [{"service_name": "x", "amount": {"total_amount": Decimal("1E+999999999")},
                "taxes": [{"rate": 10**400}]}]}, "rows[0].amount.total_amount is out of range"),
    ({"rows": [{"service_name": "x", "taxes": [{"rate": Decimal("-1E-999999999")}]}]},
     "rows[0].taxes[0].rate is out of range"),
], ids=["id-10^400", "id-1.5", "id-1E+400", "amount-10^400", "amount-1E-400",
        "row-1E+999999999", "rate-tiny"])
async def test_absurd_numbers_in_invoice_fields_never_crash(
        hostile: HostileServer, tmp_path: Path, invoice: dict[str, Any], outcome: str) -> None:
    raw = {**vox_invoice(1), **invoice}
    text = _json_with_numbers({"result": [raw], "total_count": 1, "count": 10**400})
    hostile.respond = _invoices_only(reply(text))
    provider = _vox(hostile, tmp_path)
    try:
        result = await _fetch_vox(provider)
    except ProviderError as error:
        assert outcome in error.reason and "\n" not in str(error)
    else:
        assert [invoice.id for invoice in result.invoices] == [outcome]


def _json_with_numbers(payload: object) -> bytes:
    """JSON text in which Decimals are written as the JSON numbers they stand for."""
    marks: dict[str, str] = {}

    def mark(value: object) -> object:
        if isinstance(value, Decimal):
            marks[f"@{len(marks)}@"] = str(value)
            return f"@{len(marks) - 1}@"
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, list):
            return [mark(item) for item in value]
        return value
    text = json_text(mark(payload))
    for key, number in marks.items():
        text = text.replace(f'"{key}"'.encode(), number.encode())
    return text


@pytest.mark.parametrize(("error", "reason"), [
    ({"code": 10**400, "msg": "boom"}, "Voximplant error: boom"),
    ({"code": Decimal("1E+400"), "msg": "boom"}, "Voximplant error: boom"),
    ({"code": -1, "msg": 10**400}, "Voximplant error: 1" + "0" * 199),
    ({"code": 416, "msg": "repeat after 1e400 s"}, "Voximplant error 416: repeat after 1e400 s"),
    ({"code": 416, "msg": "repeat after 99999999999999999999 s"},
     "Voximplant error 416: repeat after 99999999999999999999 s"),
], ids=["code-10^400", "code-1E+400", "msg-10^400", "416-after-1e400", "416-after-10^20"])
async def test_absurd_numbers_in_error_bodies_never_crash(
        hostile: HostileServer, tmp_path: Path, error: dict[str, Any], reason: str) -> None:
    hostile.respond = _invoices_only(reply(_json_with_numbers({"error": error})))
    sleeps: list[float] = []
    provider = _vox(hostile, tmp_path, sleeps=sleeps)
    with pytest.raises(ProviderError) as caught:
        await _fetch_vox(provider, max_retries=2)
    assert caught.value.reason.removeprefix("gave up after 3 attempts: ").startswith(reason[:199])
    assert len(caught.value.reason) < 260
    assert all(0 <= seconds <= provider.retry.retry_after_max for seconds in sleeps)


@pytest.mark.parametrize("retry_after", ["1e400", "-1e400", "99999999999999999999999", "inf"])
async def test_an_absurd_retry_after_is_capped(hostile: HostileServer, tmp_path: Path,
                                               retry_after: str) -> None:
    hostile.respond = _invoices_only(reply(b"{}", status=429,
                                           headers={"Retry-After": retry_after}))
    sleeps: list[float] = []
    provider = _vox(hostile, tmp_path, sleeps=sleeps)
    with pytest.raises(ProviderError) as caught:
        await _fetch_vox(provider, max_retries=2)
    # Capped, then weighed against the request's deadline (timeout, 30 s by default): a
    # wait longer than the time left gives up at once; a negative one is no wait.
    attempts = 3 if retry_after.startswith("-") else 1
    plural = "attempts" if attempts > 1 else "attempt"
    assert caught.value.reason == (
        f"gave up after {attempts} {plural}: Voximplant rate limit hit (HTTP 429)")
    assert len(sleeps) == attempts - 1
    assert all(0 <= seconds <= provider.retry.retry_after_max for seconds in sleeps)


_NUMBER_FIELDS = [  # every numeric field of a GetAccountInvoices answer, as a path into it
    ("total_count",), ("count",), ("result", 0, "invoice_id"),
    *(("result", 0, "amount", key) for key in (
        "total_amount", "tax_amount", "amount_to_pay", "discount_amount")),
    ("result", 0, "rows", 0, "amount", "total_amount"),
    ("result", 0, "rows", 0, "amount", "tax_amount"),
    *(("result", 0, "rows", 0, "taxes", 0, key) for key in ("rate", "amount", "taxable_measure")),
]
_json_numbers = st.one_of(
    st.integers(min_value=-(10**500), max_value=10**500).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.builds(lambda digits, exponent: f"{digits}e{exponent}",
              st.integers(min_value=-(10**30), max_value=10**30),
              st.integers(min_value=-(10**9), max_value=10**9)),
)


def test_any_json_number_anywhere_in_a_page_fetched_over_http_is_at_worst_one_line(
        hostile: HostileServer, tmp_path: Path) -> None:
    provider = _vox(hostile, tmp_path)  # one server and key for every example: keeps it quick

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.tuples(st.sampled_from(_NUMBER_FIELDS), _json_numbers),
                    min_size=1, max_size=4))
    def check(numbers: list[tuple[tuple[Any, ...], str]]) -> None:
        page: dict[str, Any] = {"result": [vox_invoice(1, rows=[{
            "service_name": "Calls", "amount": {"total_amount": 12, "tax_amount": 2},
            "taxes": [{"rate": 1, "amount": 2, "taxable_measure": 10}]}])],
            "total_count": 1, "count": 1}
        for index, (path, _) in enumerate(numbers):
            target = page
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = f"@{index}@"
        text = json_text(page)
        for index, (_, number) in enumerate(numbers):
            text = text.replace(f'"@{index}@"'.encode(), number.encode())
        hostile.respond = _invoices_only(reply(text))
        try:
            result = runner.run(provider.fetch(client, _options()))
        except ProviderError as error:
            assert error.reason and "\n" not in str(error) and len(str(error)) < 400
        else:
            assert len(result.invoices) == 1

    with asyncio.Runner() as runner:
        client = httpx.AsyncClient()
        try:
            check()
        finally:
            runner.run(client.aclose())


def test_export_against_a_trillion_invoice_server_is_one_line_and_quick(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = _same_page(10**12)
    account = voximplant_account(hostile, tmp_path)
    save_config(config_path(), {"settings": {"timeout": 2, "max_retries": 0},
                                "accounts": [account.options]})
    started = time.monotonic()
    code = cli.main(["export", "--format", "json"])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == [
        "invoice-tui: vox-hostile: Voximplant reported 1,000,000,000,000 invoices — more than "
        f"invoice-tui reads (1,000,000) — {WRONG_SERVER}"]
    assert out.strip() == "[]"
    assert elapsed < 2 + 5
    assert _invoice_requests(hostile) == 1


# --- 7. 3xx replies are errors; a failed fetch keeps the stored invoices --------------

REDIRECT_HINTS = {"unleash": "check base_url (use the instance URL the browser ends on)",
                  "voximplant": "check base_url (default https://api.voximplant.com/platform_api)"}
LOGIN = "https://login.example.com/sso/start?session=s3cr3t-session#frag"


@pytest.mark.parametrize("kind", SERVICES)
async def test_row7_a_redirect_never_replaces_the_stored_invoices(
        hostile: HostileServer, tmp_path: Path, kind: str) -> None:
    account = _account(kind, hostile, tmp_path)
    store = new_store(tmp_path)
    hostile.respond = _good_answer(kind)
    good = await sync_account(account, TINY, store=store)
    assert isinstance(good, SyncSucceeded) and len(good.invoices) == 3

    empty = {"invoices": []} if kind == "unleash" else {"result": [], "total_count": 0}
    hostile.respond = json_reply(empty, status=302, headers={"Location": LOGIN})
    error = await _sync_error(account, TINY, store)
    assert (error.reason, error.hint) == (
        f"{SERVICES[kind]} redirected to login.example.com (HTTP 302)", REDIRECT_HINTS[kind])
    assert "sso" not in str(error) and "s3cr3t" not in str(error)  # host only, never the path
    assert store.account_states([account])[account.name] == \
        StoredAccount(good.synced_at, 3, good.summary)
    assert list(store.iter_invoices([account])) == export.sort_for_export(good.invoices)


@pytest.mark.parametrize("status, location, shown", [
    (301, "https://login.example.com/", "redirected to login.example.com (HTTP 301)"),
    (303, "/login?next=/api", "redirected to 127.0.0.1 (HTTP 303)"),  # relative: same host
    (307, "https://login.example.com/", "redirected to login.example.com (HTTP 307)"),
    (308, "https://login.example.com/", "redirected to login.example.com (HTTP 308)"),
    (302, None, "answered with a redirect without a usable target (HTTP 302)"),
    (304, None, "answered with a redirect without a usable target (HTTP 304)"),
    (302, "//user:pw@evil.example/x?sid=1", "redirected to evil.example (HTTP 302)"),
    # httpx itself refuses these; no retries, and no C1 byte reaches the message.
    (302, "https://[::1/login", "(127.0.0.1) redirected to an invalid address"),
    (302, "https://\x9b2Jgro.example/x", "(127.0.0.1) redirected to an invalid address"),
    (999, None, "answered with an unexpected HTTP status 999"),
    (600, None, "answered with an unexpected HTTP status 600"),
])
async def test_row7_every_non_2xx_reply_is_an_error_naming_it(
        hostile: HostileServer, status: int, location: str | None, shown: str) -> None:
    headers = {"Location": location} if location else {}
    hostile.respond = json_reply(_unleash_answer(), status=status, headers=headers)
    error = await _sync_error(unleash_account(hostile), TINY)
    assert error.reason == f"Unleash {shown}"
    assert len(hostile.requests) == 1  # API calls never follow a redirect


@pytest.mark.parametrize("kind", SERVICES)
async def test_row7_api_calls_never_follow_redirects(hostile: HostileServer, tmp_path: Path,
                                                     kind: str) -> None:
    good = _good_answer(kind)
    hostile.respond = dynamic(lambda request: good if request.path.startswith("/moved") else
                              json_reply({}, status=307,
                                         headers={"Location": f"/moved{request.path}"}))
    error = await _sync_error(_account(kind, hostile, tmp_path), TINY)
    assert error.reason == f"{SERVICES[kind]} redirected to 127.0.0.1 (HTTP 307)"
    assert [request.path.startswith("/moved") for request in hostile.requests] == [False]


def test_row7_export_exits_1_and_the_cache_keeps_the_invoices(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _write_config(tmp_path / "config.toml", [unleash_account(hostile)], timeout=5)
    hostile.respond = _good_answer("unleash")
    assert cli.main(["export", "--config", str(config)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3

    hostile.respond = json_reply({"invoices": []}, status=302, headers={"Location": LOGIN})
    assert cli.main(["export", "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == []
    assert err.splitlines() == [
        "invoice-tui: unleash-hostile: Unleash redirected to login.example.com (HTTP 302) — "
        + REDIRECT_HINTS["unleash"]]
    assert cli.main(["export", "--offline", "--config", str(config)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def _pdf_invoice(url: str) -> Invoice:
    return unleash_parse("unleash-hostile", {"invoiceDate": "2026-01-01", "currency": "USD",
                                             "monthText": "January", "invoicePDF": url})


async def test_row7_pdf_links_follow_a_few_checked_redirects(hostile: HostileServer) -> None:
    pdf = b"%PDF-1.4 hostile but fine %%EOF"
    hops = {"/a.pdf": "/b.pdf", "/b.pdf": f"{hostile.url}/c.pdf?sig=1"}
    hostile.respond = dynamic(lambda request: (
        json_reply({}, status=302, headers={"Location": hops[request.path]})
        if request.path in hops else reply(pdf, content_type="application/pdf")))
    provider = unleash_account(hostile).build()
    async with make_client(TINY) as client:
        got = await provider.download_pdf(client, TINY.fetch_options(),
                                          _pdf_invoice(f"{hostile.url}/a.pdf"))
    assert got == pdf
    assert [request.path for request in hostile.requests] == ["/a.pdf", "/b.pdf", "/c.pdf?sig=1"]
    assert all("authorization" not in request.headers for request in hostile.requests)


@pytest.mark.parametrize("location, shown, requests", [
    ("/a.pdf", "127.0.0.1", 6),  # a loop: the first request and 5 hops, then stop
    ("http://files.example.com/a.pdf", "files.example.com", 1),  # plain http: never followed
])
async def test_row7_pdf_redirects_are_bounded_and_checked(
        hostile: HostileServer, location: str, shown: str, requests: int) -> None:
    hostile.respond = json_reply({}, status=302, headers={"Location": location})
    provider = unleash_account(hostile).build()
    async with make_client(TINY) as client:
        with pytest.raises(ProviderError) as caught:
            await provider.download_pdf(client, TINY.fetch_options(),
                                        _pdf_invoice(f"{hostile.url}/a.pdf"))
    assert caught.value.reason == f"Unleash redirected to {shown} (HTTP 302)"
    assert len(hostile.requests) == requests


async def test_row7_voximplant_pdf_redirects_are_errors(hostile: HostileServer,
                                                        tmp_path: Path) -> None:
    hostile.respond = reply(b"%PDF-1.4", status=302, content_type="application/pdf",
                            headers={"Location": f"{hostile.url}/file.pdf"})
    provider = voximplant_account(hostile, tmp_path).build()
    async with make_client(TINY) as client:
        with pytest.raises(ProviderError) as caught:
            await provider.download_pdf(client, TINY.fetch_options(),
                                        vox_parse("vox-hostile", vox_invoice(7)))
    assert caught.value.reason == "Voximplant redirected to 127.0.0.1 (HTTP 302)"
    assert len(hostile.requests) == 1


# --- 8. CSV formula injection, raw escapes in exports ----------------------------------

_FORMULAS = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3",
             "\t=1+1", "\r@A1", " =2+2"]
_TERMINAL_ESCAPES = "\x1b]0;PWNED\x1b\\ \x1b[2J \x1b]52;c;ZXZpbA==\x07 \x9b31m \x1bc"
# Nothing of this kind may reach an export raw: C0 (but the CSV's own line ends), DEL,
# C1, bidi controls, zero-width characters.
_RAW_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f"
                          "\u2028-\u202e\u2060\u2066-\u2069\ufeff]")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _hostile_unleash_body() -> dict[str, object]:
    """One Unleash invoice whose every text field is hostile, plus a real negative amount."""
    lines = [{"description": text, "quantity": 1, "totalAmount": 1, "currency": "USD",
              "lookupKey": text} for text in _FORMULAS]
    lines.append({"description": f"Calls{_TERMINAL_ESCAPES}\u202egnp.exe\u200b\x9b2J",
                  "quantity": 1, "totalAmount": 1, "currency": "USD", "lookupKey": "calls"})
    lines.append({"description": "Credit", "quantity": 1, "totalAmount": -12.5,
                  "currency": "USD", "lookupKey": "credit"})
    return {"invoices": [{
        "invoiceDate": "2026-10-01T00:00:00.000Z", "status": "=1+1", "totalAmount": -5.5,
        "subtotal": -5.5, "currency": "USD", "taxAmount": 0, "taxPercentage": 0,
        "monthText": f"@SUM(A1){_TERMINAL_ESCAPES}", "mainLines": lines, "usageLines": [],
    }]}


def _export_from(hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                 *args: str) -> tuple[int, str, str]:
    """``invoice-tui export ARGS`` on a config whose one account is the hostile server."""
    config = tmp_path / "config.toml"
    save_config(config, {"accounts": [dict(unleash_account(hostile).options)]})
    code = cli.main(["export", "--config", str(config), "--cache-dir", str(tmp_path / "cache"),
                     *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_export_neutralizes_formulas_and_strips_escapes(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_hostile_unleash_body())})
    code, out, err = _export_from(hostile, tmp_path, capsys, "--format", "csv", "--lines")
    assert code == 0, err
    assert not _RAW_CONTROL.search(out)
    header, *rows = list(csv.reader(io.StringIO(out)))
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert len(cells) == len(_FORMULAS) + 2
    for cell in cells:
        for name, value in cell.items():
            # Every cell is either inert text or a plain number: nothing a spreadsheet runs.
            first = value.lstrip(" ")[:1]
            assert first not in ("=", "+", "@", "-") or _PLAIN_NUMBER.fullmatch(value), \
                (name, value)
    descriptions = [cell["description"] for cell in cells]
    for formula, shown in zip(_FORMULAS, descriptions, strict=False):
        assert shown.startswith("'") and shown.endswith(formula.strip()), (formula, shown)
    assert cells[0]["invoice_status"] == "'=1+1"
    assert cells[0]["invoice_label"].startswith("'@SUM(A1)")
    assert "PWNED" not in out and "gnp.exe" in out
    # Our own exact amounts stay numbers, negative ones included.
    assert cells[-1]["description"] == "Credit" and cells[-1]["amount"] == "-12.5"
    assert cells[0]["invoice_total"] == "-5.5"


def test_json_export_escapes_c1_bidi_and_zero_width(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    description = "a\x9b2Jb\u202egnp.exe\u200bc\u2066d\ufeff\x7f"
    body = _hostile_unleash_body()
    body["invoices"][0]["mainLines"][0]["description"] = description  # type: ignore[index]
    hostile.respond = by_endpoint({"list": json_reply(body)})
    code, out, err = _export_from(hostile, tmp_path, capsys, "--format", "json")
    assert code == 0, err
    assert not _RAW_CONTROL.search(out)
    # Over HTTP the parser's sanitizer already took the controls out of the text ...
    (invoice,) = json.loads(out)
    assert invoice["lines"][0]["description"] == "abgnp.execd"  # C1 CSI "\x9b2J" gone whole
    assert invoice["lines"][-1]["amount"] == "-12.5"
    # ... and the JSON writer escapes them anyway, for any text that reaches it (a
    # hand-made model, an old cache): the decoded text is exactly what it was given.
    line = Line(kind="main", description=description)
    invoice = Invoice(account="a", provider="unleash", id="1", currency="USD", status="paid",
                      lines=(line,))
    text = "".join(export.iter_json([invoice]))
    assert not _RAW_CONTROL.search(text)
    for escape in ("\\u009b", "\\u202e", "\\u200b", "\\u2066", "\\ufeff", "\\u007f"):
        assert escape in text
    assert json.loads(text)[0]["lines"][0]["description"] == description


# --- 9. secrets in the crash screen ------------------------------------------------------

def _hostile_billing(hostile: HostileServer) -> None:
    """Both providers' endpoints answer one valid, small page."""
    hostile.respond = by_endpoint({
        "list": json_reply({"invoices": []}),
        "GetAccountInvoices": vox_page([vox_invoice(1)], 1),
        "GetAccountInfo": json_reply({"result": {"balance": 5, "currency": "USD"}}),
    })


def _write_config_at_mode(path: Path, *accounts: AccountConfig, mode: int = 0o600) -> Path:
    save_config(path, {"accounts": [dict(account.options) for account in accounts]})
    os.chmod(path, mode)
    return path


def _secrets_of(key_file: Path) -> list[str]:
    """What must never show: the token, key material lines, any JWT."""
    pem = json.loads(key_file.read_text())["private_key"]
    return [HOSTILE_TOKEN, "hostile-secret", "eyJ", "PRIVATE KEY",
            *pem.splitlines()[1:4]]


def _crashing_help(self: InvoiceApp) -> None:
    """The help key's action, crashing in UI code while its locals hold every secret."""
    config = self.config
    assert config is not None
    unleash = config.account("unleash-hostile")
    options = unleash.options
    token = options["token"]
    provider = config.account("vox-hostile").build()
    signer = provider.signer  # type: ignore[attr-defined]
    credentials = provider.credentials  # type: ignore[attr-defined]
    jwt_now = signer.token()
    pem = Path(config.account("vox-hostile").options["credentials"]).read_text()
    assert token and jwt_now and pem and credentials  # held, in this frame, at the crash
    raise RuntimeError("forced crash in UI code")


async def test_crash_dump_shows_no_token_key_or_jwt(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _hostile_billing(hostile)
    monkeypatch.setattr(InvoiceApp, "action_help", _crashing_help)
    vox = voximplant_account(hostile, tmp_path)
    path = _write_config_at_mode(tmp_path / "config.toml", unleash_account(hostile), vox)
    app = InvoiceApp(load_config(path), new_store(tmp_path))
    with pytest.raises(RuntimeError, match="forced crash"):
        async with app.run_test() as pilot:
            await pilot.pause()
            await pilot.press("question_mark")
            await pilot.pause()
    dump = capsys.readouterr().err  # Textual prints its crash dump to stderr on exit
    assert "forced crash in UI code" in dump and "_crashing_help" in dump  # the crash dump
    _assert_no_secret(dump, Path(vox.options["credentials"]))


def _assert_no_secret(text: str, key_file: Path) -> None:
    # Rich wraps long values inside boxes: compare with the box drawing and spacing gone too.
    flat = re.sub(r"[\s│╭╮╰╯─❱]+", "", text)
    for secret in _secrets_of(key_file):
        assert secret not in text and secret not in flat


def test_reprs_of_everything_holding_a_secret_are_redacted(
        hostile: HostileServer, tmp_path: Path) -> None:
    # Even where locals are shown (a debugger, rich's own tracebacks), objects show no secret.
    vox = voximplant_account(hostile, tmp_path)
    path = _write_config_at_mode(tmp_path / "config.toml", unleash_account(hostile), vox)
    config = load_config(path)
    provider = config.account("vox-hostile").build()
    assert isinstance(provider, VoximplantProvider)
    assert provider.signer.token().startswith("eyJ")
    unleash = config.account("unleash-hostile").build()
    assert config.account("unleash-hostile").options["token"] == HOSTILE_TOKEN  # still usable
    try:
        held = (config, config.accounts, config.account("unleash-hostile").options,
                provider, provider.signer, provider.credentials, unleash)
        raise RuntimeError("with locals")
    except RuntimeError:
        console = Console(file=io.StringIO(), width=400, color_system=None)
        console.print(Traceback(show_locals=True, width=400, locals_max_string=None))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "held" in shown and "AccountOptions" in shown
    for text in (shown, repr(config), str(config), repr(held[1:2]), repr(provider.signer)):
        _assert_no_secret(text, Path(vox.options["credentials"]))


# --- 10. secrets readable by others --------------------------------------------------

def _export(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str, str]:
    code = cli.main(["--config", str(config), "export", "--format", "json"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_token_in_a_config_others_can_read_is_one_warning_line(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _hostile_billing(hostile)
    path = _write_config_at_mode(tmp_path / "config.toml", unleash_account(hostile), mode=0o644)
    code, out, err = _export(capsys, path)
    assert (code, json.loads(out)) == (0, [])  # not fatal: the export still ran
    assert err == (f"invoice-tui: {path} holds a token and is readable by others (mode 0644)"
                   f" — run: chmod 600 {shlex.quote(str(path))}\n")
    os.chmod(path, 0o600)  # the fix it names silences it
    assert _export(capsys, path) == (0, "[]\n", "")


def test_a_key_file_others_can_read_is_one_warning_line(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _hostile_billing(hostile)
    vox = voximplant_account(hostile, tmp_path)
    key_file = Path(vox.options["credentials"])
    os.chmod(key_file, 0o640)
    # No token in the config: only the key file is exposed.
    path = _write_config_at_mode(tmp_path / "config.toml", vox, mode=0o644)
    code, out, err = _export(capsys, path)
    assert code == 0 and [i["id"] for i in json.loads(out)] == ["1"]
    assert err == (f"invoice-tui: {key_file} (credentials of account 'vox-hostile') is readable"
                   f" by others (mode 0640) — run: chmod 600 {shlex.quote(str(key_file))}\n")
    key_file.unlink()  # a missing key file is the account's own error, not a warning
    code, _, err = _export(capsys, path)
    assert code == 1 and err.count("\n") == 1 and "does not exist" in err


# --- 11. stale temp files of killed saves -------------------------------------------------

# A save that takes long enough to be killed in the middle: 64 KB every 10 ms.
_SLOW_SAVE = """
import sys, time
from pathlib import Path
from invoice_tui.fs import write_atomic

def chunks():
    for _ in range(100_000):
        yield b"x" * 65536
        time.sleep(0.01)

write_atomic(Path(sys.argv[1]), chunks())
"""


def _start_slow_save(target: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A real process in the middle of ``write_atomic(target, …)``, and its temp file."""
    env = {**os.environ, "PYTHONPATH": str(Path(invoice_tui.__file__).parent.parent)}
    process = subprocess.Popen([sys.executable, "-c", _SLOW_SAVE, str(target)], env=env)
    pattern = f".{target.name}.{process.pid}.*.tmp"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [p for p in target.parent.glob(pattern) if p.stat().st_size > 0]
        if found:
            return process, found[0]
        assert process.poll() is None, "the slow save ended early"
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError("the slow save never started writing")


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)  # nothing of ours runs: no cleanup possible
    process.wait(timeout=10)  # reaped, so its pid is really gone


def test_a_save_removes_what_killed_saves_left_but_not_a_live_writers_file(
        tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    started: list[subprocess.Popen[bytes]] = []
    try:
        live, live_temp = _start_slow_save(target)  # another instance, saving right now
        started.append(live)
        leftovers = []
        for _ in range(3):  # each starts while the others live: none cleans up another
            process, temp = _start_slow_save(target)
            started.append(process)
            leftovers.append(temp)
        for process in started[1:]:
            _kill(process)
        assert all(temp.exists() for temp in leftovers)
        write_atomic(target, b"saved\n")
        assert target.read_bytes() == b"saved\n"
        assert not any(temp.exists() for temp in leftovers)
        assert live_temp.exists()  # its writer is alive: never touched
        size = live_temp.stat().st_size
        time.sleep(0.3)
        assert live_temp.stat().st_size > size  # and still being written
    finally:
        for process in started:
            _kill(process)
    write_atomic(target, b"again\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_opening_the_store_sweeps_the_cache_dir(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    # A killed save of an account no longer configured: only a dir-wide sweep finds it.
    process, orphan = _start_slow_save(cache_dir / "gone-0123456789abcdef.json")
    _kill(process)
    # Names an older release wrote (no pid): removed once an hour old, not before.
    old = cache_dir / ".old-0123456789abcdef.json.abc_1234.tmp"
    fresh = cache_dir / ".new-0123456789abcdef.json.abc_5678.tmp"
    for path in (old, fresh):
        path.write_bytes(b"x" * 1000)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    unrelated = cache_dir / ".notes.tmp"  # not a name we make
    unrelated.write_bytes(b"keep")
    opened = open_store(cache_dir)
    account = AccountConfig("acme", "unleash", {"base_url": "http://127.0.0.1:1"})
    assert not opened.store.account_states([account])["acme"].synced
    assert not orphan.exists() and not old.exists()
    assert fresh.exists() and unrelated.exists()
    assert opened.warnings == ()
    opened.store.close()


# --- 12. export --output onto special files ------------------------------------------

_ONE_INVOICE = {"invoices": [{
    "invoiceDate": "2026-10-01T00:00:00.000Z", "status": "paid", "totalAmount": 10,
    "subtotal": 10, "currency": "USD", "taxAmount": 0, "monthText": "September 2026",
    "mainLines": [], "usageLines": []}]}


def test_output_onto_a_fifo_streams_into_it(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    fifo = tmp_path / "export.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with fifo.open("rb") as reader:  # blocks until the export opens it for writing
            received.append(reader.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code, out, err = _export_from(hostile, tmp_path, capsys, "--output", str(fifo))
    reader.join(timeout=10)
    assert (code, out, err) == (0, "", "")
    assert json.loads(received[0])[0]["label"] == "September 2026"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not a file in its place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "config.toml", "export.fifo"]


def test_output_onto_a_character_device_and_a_symlink_to_it(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    link = tmp_path / "sink"
    link.symlink_to(os.devnull)
    for target in (os.devnull, str(link)):
        code, out, err = _export_from(hostile, tmp_path, capsys, "--output", target)
        assert (code, out, err) == (0, "", "")
        assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # written to, never replaced
    assert link.is_symlink() and os.readlink(link) == os.devnull
    assert not list(Path(os.devnull).parent.glob(".null.*.tmp"))


def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    reports = tmp_path / "reports"
    reports.mkdir()
    target = reports / "2026.csv"
    target.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    dangling = tmp_path / "next.csv"
    dangling.symlink_to(reports / "next-target.csv")
    for path in (link, dangling):
        code, out, err = _export_from(hostile, tmp_path, capsys, "--format", "csv",
                                      "--output", str(path))
        assert (code, out, err) == (0, "", "")
        assert path.is_symlink()  # the link stays a link ...
        assert path.read_text().startswith("account,provider,id")  # ... to the new export
    assert target.read_text().startswith("account,provider,id")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert (reports / "next-target.csv").is_file()


def test_output_refuses_a_directory_or_a_socket_before_fetching(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    monkeypatch.chdir(tmp_path)  # a relative socket name: AF_UNIX paths are short
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind("s.sock")
        link = tmp_path / "to-dir"
        link.symlink_to(tmp_path)
        cases = {str(tmp_path): "is a directory — give a file name inside it",
                 str(link): "is a directory — give a file name inside it",
                 "s.sock": "is a socket — give a regular file, a FIFO, a character device or -"}
        for target, reason in cases.items():
            code, out, err = _export_from(hostile, tmp_path, capsys, "--output", target)
            assert (code, out) == (2, "")
            assert err == f"invoice-tui: --output {target} {reason}\n"
        assert stat.S_ISSOCK(os.lstat("s.sock").st_mode) and link.is_symlink()
    assert hostile.requests == []  # refused before any fetch


def test_output_dash_is_stdout(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile.respond = by_endpoint({"list": json_reply(_ONE_INVOICE)})
    monkeypatch.chdir(tmp_path)
    code, out, err = _export_from(hostile, tmp_path, capsys, "--output", "-")
    assert (code, err) == (0, "")
    assert json.loads(out)[0]["label"] == "September 2026"
    assert not (tmp_path / "-").exists()


# --- 13. config reading limits, unknown account keys, BOM ------------------------------

def _cli_process(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "invoice_tui", *argv], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_config_on_a_fifo_a_device_or_a_huge_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)  # nobody ever writes: a blocking open would hang forever
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: 300 MB that cost no disk
    cases = {
        fifo: f"{fifo}: not a regular file (a FIFO) — point --config at a TOML file",
        Path("/dev/zero"): "/dev/zero: not a regular file (a character device) — point "
                           "--config at a TOML file",
        huge: f"{huge}: larger than 1 MB — this is not an invoice-tui config; check --config "
              "points at the right file",
    }
    # All at once, each in its own process: a regression hangs or floods that process only,
    # and the timeout below kills it.
    running = {path: _cli_process("--config", str(path), "export") for path in cases}
    for path, process in running.items():
        try:
            out, err = process.communicate(timeout=60)
        finally:
            process.kill()
        assert (process.returncode, out, err) == (2, "", f"invoice-tui: {cases[path]}\n")


def test_a_key_file_that_is_a_fifo_fails_its_account_without_hanging(
        hostile: HostileServer, tmp_path: Path) -> None:
    _hostile_billing(hostile)
    fifo = tmp_path / "credentials.fifo"
    os.mkfifo(fifo)
    vox = voximplant_account(hostile, tmp_path)
    vox = AccountConfig(vox.name, vox.provider, {**vox.options, "credentials": str(fifo)})
    path = _write_config_at_mode(tmp_path / "config.toml", vox, unleash_account(hostile))
    process = _cli_process("--config", str(path), "export")
    try:
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1 and json.loads(out) == []  # Unleash still exported
    assert err == (f"invoice-tui: vox-hostile: credentials: {fifo} is not a regular file "
                   "(a FIFO) — set it to the service-account key file you downloaded from "
                   "Voximplant\n")


def test_a_typo_in_an_account_key_is_an_error_not_a_default_host(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _hostile_billing(hostile)
    vox = voximplant_account(hostile, tmp_path)
    typo = {key if key != "base_url" else "base_ulr": value for key, value in vox.options.items()}
    path = tmp_path / "config.toml"
    save_config(path, {"accounts": [typo]})
    code, out, err = _export(capsys, path)
    assert (code, out) == (2, "")
    assert err == (f"invoice-tui: {path}: account 'vox-hostile': unknown key 'base_ulr' (did you "
                   "mean 'base_url'?) — allowed for voximplant: name, provider, credentials, "
                   "base_url, credentials_keyring\n")
    assert hostile.requests == []  # nothing signed was sent anywhere (the default is refused
    # by the socket guard too, but the config error comes first)
    save_config(path, {"accounts": [dict(vox.options)]})  # spelled right, it reaches its host
    assert _export(capsys, path)[0] == 0
    assert {r.endpoint for r in hostile.requests} >= {"GetAccountInvoices"}


def test_a_config_saved_with_a_bom_loads(hostile: HostileServer, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _hostile_billing(hostile)
    path = _write_config_at_mode(tmp_path / "config.toml", unleash_account(hostile))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Windows Notepad saves it
    assert _export(capsys, path) == (0, "[]\n", "")
    assert hostile.requests[0].endpoint == "list"


# --- 14. PDF save: planted symlinks, races, never the cwd ---------------------------------

_PDF = b"%PDF-1.4\n% hostile test\n%%EOF\n"


async def _pdf_account_and_invoice(hostile: HostileServer) -> tuple[AccountConfig, Invoice]:
    """An Unleash account on the hostile server and its one invoice, whose PDF it serves."""
    body = {"invoices": [{**_ONE_INVOICE["invoices"][0],
                          "invoicePDF": f"{hostile.url}/files/in_1.pdf"}]}
    hostile.respond = by_endpoint({"list": json_reply(body),
                                   "in_1.pdf": reply(_PDF, content_type="application/pdf")})
    account = unleash_account(hostile)
    outcome = await sync_account(account, Settings())
    assert isinstance(outcome, SyncSucceeded)
    return account, outcome.invoices[0]


async def test_pdf_save_never_follows_a_planted_symlink(
        hostile: HostileServer, tmp_path: Path) -> None:
    account, invoice = await _pdf_account_and_invoice(hostile)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    stem = pdf_file_stem(invoice)
    assert stem == "unleash-hostile-September_2026"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (downloads / f"{stem}.pdf").symlink_to(victim)  # planted at the name we will pick
    wish = tmp_path / "created-through-a-dangling-link"
    (downloads / f"{stem}-2.pdf").symlink_to(wish)
    saved = await download_pdf(account, Settings(downloads=str(downloads)), invoice)
    assert saved == downloads / f"{stem}-3.pdf"
    assert saved.read_bytes() == _PDF and not saved.is_symlink()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert victim.read_text() == "precious" and not wish.exists()
    assert (downloads / f"{stem}.pdf").is_symlink() and (downloads / f"{stem}-2.pdf").is_symlink()


async def test_pdf_saves_at_once_get_their_own_files(
        hostile: HostileServer, tmp_path: Path) -> None:
    account, invoice = await _pdf_account_and_invoice(hostile)
    settings = Settings(downloads=str(tmp_path))
    saved = await asyncio.gather(*(download_pdf(account, settings, invoice) for _ in range(4)))
    stem = pdf_file_stem(invoice)
    assert sorted(p.name for p in saved) == sorted(
        [f"{stem}.pdf", f"{stem}-2.pdf", f"{stem}-3.pdf", f"{stem}-4.pdf"])
    assert all(p.read_bytes() == _PDF for p in saved)


async def test_pdf_goes_to_the_downloads_folder_created_if_missing_never_the_cwd(
        hostile: HostileServer, tmp_path: Path, isolated_home: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    account, invoice = await _pdf_account_and_invoice(hostile)
    cwd = tmp_path / "a-git-checkout"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    configured = tmp_path / "no" / "such" / "folder"
    saved = await download_pdf(account, Settings(downloads=str(configured)), invoice)
    assert saved.parent == configured and saved.read_bytes() == _PDF
    # No [settings] downloads and no ~/Downloads yet: the platform's folder, made now.
    default = Settings().downloads_dir()
    assert default.is_absolute() and not default.exists()
    assert default.is_relative_to(isolated_home)
    saved = await download_pdf(account, Settings(), invoice)
    assert saved.parent == default and saved.read_bytes() == _PDF
    assert list(cwd.iterdir()) == []
    with pytest.raises(ProviderError) as relative:
        await download_pdf(account, Settings(downloads="pdfs"), invoice)
    assert str(relative.value) == ("the downloads folder pdfs is not an absolute path — set "
                                   '[settings] downloads to a full path, e.g. "~/Downloads"')
    assert list(cwd.iterdir()) == []


async def test_pdf_save_failures_are_one_line(hostile: HostileServer, tmp_path: Path) -> None:
    account, invoice = await _pdf_account_and_invoice(hostile)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ProviderError) as failed:
        await download_pdf(account, Settings(downloads=str(blocker / "pdfs")), invoice)
    assert str(failed.value) == (f"could not save the PDF in {blocker / 'pdfs'} (Not a "
                                 "directory) — check the downloads folder ([settings] downloads)"
                                 " and its permissions")
    hostile.respond = by_endpoint({"in_1.pdf": reply(b"gone", status=404)})
    with pytest.raises(ProviderError, match="answered HTTP 404"):
        await download_pdf(account, Settings(downloads=str(tmp_path)), invoice)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# A write that fails half way (the file-size limit cuts it after 4 KB), in its own process.
_FAILING_SAVE = """
import errno, resource, signal, sys
from pathlib import Path
from invoice_tui.fs import save_new_file

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    save_new_file(Path(sys.argv[1]), "inv", ".pdf", b"%PDF" + b"x" * 100_000)
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""


def test_a_pdf_write_that_fails_leaves_no_half_file(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(invoice_tui.__file__).parent.parent)}
    done = subprocess.run([sys.executable, "-c", _FAILING_SAVE, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "EFBIG\n", "")
    assert list(tmp_path.iterdir()) == []


# --- 15. redaction of any form of a secret; weak keys ---------------------------------

# 15b

def test_a_1024_bit_key_still_works_with_one_warning_line(
        hostile: HostileServer, tmp_path: Path) -> None:
    _hostile_billing(hostile)
    vox = voximplant_account(hostile, tmp_path)
    key_file = Path(vox.options["credentials"])
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    content = json.loads(key_file.read_text())
    content["private_key"] = weak.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    key_file.write_text(json.dumps(content))
    path = _write_config_at_mode(tmp_path / "config.toml", vox)
    # A real process: PyJWT's warning would go to its stderr (pytest captures warnings
    # in-process, which would hide it).
    process = _cli_process("--config", str(path), "export")
    try:
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and [i["id"] for i in json.loads(out)] == ["1"]
    assert err == (f"invoice-tui: vox-hostile: credentials: the key in {key_file} is 1024-bit; "
                   "Voximplant issues 2048-bit keys — create a new service-account key\n")
    signed = hostile.requests[0].headers["authorization"].removeprefix("Bearer ")
    with warnings.catch_warnings():  # verifying with the weak key warns here too
        warnings.simplefilter("ignore")
        claims = jwt.decode(signed, weak.public_key(), algorithms=["RS256"])
    assert claims["iss"] == "424242"  # signed with that key

def _fragments(secret: str) -> list[str]:
    return [secret[i:i + FRAGMENT].lower() for i in range(len(secret) - FRAGMENT + 1)]


def assert_no_fragment(secret: str, *texts: str) -> None:
    """No run of FRAGMENT characters of ``secret``, in any case, in any of ``texts``."""
    for text in texts:
        folded = text.lower()
        leaked = [piece for piece in _fragments(secret) if piece in folded]
        assert not leaked, f"{leaked[:3]} of the secret in {text!r}"


def test_unleash_token_in_any_case_or_cut_never_reaches_the_user(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = HOSTILE_TOKEN
    hostile.respond = json_reply({"message": (
        f"token {token.upper()} rejected; head {token[:16]}; tail {token[-12:].swapcase()}; "
        f"split {token[:20]}\x1b[2J{token[20:]}")}, status=401)
    account = unleash_account(hostile)
    outcome = synced(account)
    assert isinstance(outcome, SyncFailed)
    assert "rejected; head ***; tail ***; split ***" in outcome.error.reason
    code, out, err = run_export(capsys, tmp_path, account)
    assert code == 1 and "rejected" in err
    assert_no_fragment(token, str(outcome.error), out, err)


def test_voximplant_jwt_echoed_back_in_pieces_never_reaches_the_user(
        hostile: HostileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []

    def echo(request: Request) -> Any:
        jwt = request.headers["authorization"].removeprefix("Bearer ")
        seen.append(jwt)
        # Cut, re-cased and interleaved with escapes: no piece may be recognisable.
        msg = (f"auth failed for {jwt[:30]}\u200b{jwt[30:70].upper()}\x1b[2J and "
               f"{jwt[100:140]} bearer-less")
        return json_reply({"error": {"code": 100, "msg": msg}})

    hostile.respond = dynamic(echo)
    account = voximplant_account(hostile, tmp_path)
    outcome = synced(account)
    assert isinstance(outcome, SyncFailed)
    assert outcome.error.reason.startswith("Voximplant error 100: auth failed for ***")
    code, out, err = run_export(capsys, tmp_path, account)
    assert code == 1 and "auth failed for ***" in err
    assert seen and all(len(token) > 140 for token in seen)
    for token in seen:
        assert_no_fragment(token, str(outcome.error), err)

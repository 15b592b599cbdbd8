"""The fault matrix: every hostile server, file and terminal input of issue 6, over real HTTP.

Each section is one row of the matrix (what an attacker or a broken proxy does →
what the app must do). The servers are ``tests/hostile.py`` on loopback; nothing
here is mocked below the socket.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hostile import (
    HOSTILE_TOKEN,
    HostileServer,
    Request,
    by_endpoint,
    dynamic,
    json_reply,
    unleash_account,
    vox_invoice,
    vox_page,
    voximplant_account,
)
from ui_helpers import NOW, SIZE, TODAY, ScriptedSync, frozen_now, settle, widget_text

from invoice_tui import cli
from invoice_tui.cache import CachedAccount, InvoiceCache
from invoice_tui.config import AccountConfig, Config, Settings, save_config
from invoice_tui.model import Invoice, Line, format_money, totals_by_currency
from invoice_tui.providers import ProviderError
from invoice_tui.sync import SyncFailed, SyncOutcome, SyncSucceeded, sync_account
from invoice_tui.text import FRAGMENT
from invoice_tui.ui.app import InvoiceApp

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
    evil = repr(EVIL_CURRENCY)  # spelled out: \x1b…, never the raw bytes
    assert outcome.warnings == (
        f"planCurrency {evil} is not an ISO code — shown as XXX",
        f"invoice October 2026: currency {evil} is not an ISO code — shown as XXX "
        "(and 1 more invoice)",
    )
    assert_safe(outcome.invoices, outcome.summary, outcome.warnings)
    # XXX may stand for different currencies: never summed, left out of totals.
    assert totals_by_currency(outcome.invoices) == {"USD": Decimal(10)}


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
    evil = repr(EVIL_CURRENCY)
    assert outcome.warnings == (
        f"invoice H-1: currency {evil} is not an ISO code — shown as XXX (and 1 more invoice)",
        "account info: result.currency '\\u202eDSU' is not an ISO code — shown as XXX",
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
        f"invoice-tui: unleash-hostile: invoice October 2026: currency {EVIL_CURRENCY!r} "
        "is not an ISO code — shown as XXX"]
    code, out, err = run_export(capsys, tmp_path, account, fmt="csv", lines=True)
    assert code == 0 and "PWNED" in err and len(err.splitlines()) == 1
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
    assert totals_by_currency(invoices) == {"USD": Decimal(2), "EUR": Decimal(1)}


def _texts(app: InvoiceApp, *selectors: str) -> str:
    return "\n".join(widget_text(app.screen.query_one(selector)) for selector in selectors)


async def test_no_raw_currency_reaches_the_main_screen_detail_or_line(
        hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = json_reply({"planPrice": 80, "planCurrency": EVIL_CURRENCY, "invoices": [
        unleash_invoice("October 2026", EVIL_CURRENCY, unitPrice=10),
        unleash_invoice("September 2026", "usd", invoiceDate="2026-09-01T00:00:00Z")]})
    account = unleash_account(hostile)
    app = InvoiceApp(Config(path=None, settings=FAST, accounts=(account,)),
                     InvoiceCache(tmp_path / "cache"), now=frozen_now, today=TODAY)
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


async def test_a_tampered_cache_never_shows_a_raw_currency(tmp_path: Path) -> None:
    account = AccountConfig(name="acme", provider="unleash", options={"name": "acme"})
    cache = InvoiceCache(tmp_path / "cache")
    evil = Invoice(account="acme", provider="unleash", id="1", currency=EVIL_CURRENCY,
                   status="paid", label="Evil", issued=TODAY, total=Decimal(3),
                   lines=(Line(kind="main", description="x", amount=Decimal(3),
                               currency=EVIL_CURRENCY),))
    fine = Invoice(account="acme", provider="unleash", id="2", currency="EUR", status="paid",
                   label="Fine", issued=TODAY.replace(day=1), total=Decimal(4))
    cache.save(account, CachedAccount((evil, fine), NOW))
    sync = ScriptedSync({"acme": ()}, hold={"acme"})  # the refresh never lands
    app = InvoiceApp(Config(path=None, accounts=(account,)), cache, now=frozen_now,
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
                     InvoiceCache(tmp_path / "cache"), now=frozen_now, today=TODAY,
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
                     InvoiceCache(tmp_path / "cache"), now=frozen_now, today=TODAY)
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


# --- 5. timeout is the whole request's deadline --------------------------------------


# --- 6. Voximplant paging that never ends; absurd numbers ------------------------------


# --- 7. 3xx replies are errors; a failed fetch keeps the cache ------------------------


# --- 8. CSV formula injection, raw escapes in exports ----------------------------------


# --- 9. secrets in the crash screen ------------------------------------------------------


# --- 10. secrets readable by others --------------------------------------------------


# --- 11. stale temp files of killed saves -------------------------------------------------


# --- 12. export --output onto special files ------------------------------------------


# --- 13. config reading limits, unknown account keys, BOM ------------------------------


# --- 14. PDF save: planted symlinks, races, never the cwd ---------------------------------


# --- 15. redaction of any form of a secret; weak keys ---------------------------------


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
    assert seen and all(len(jwt) > 140 for jwt in seen)
    for jwt in seen:
        assert_no_fragment(jwt, str(outcome.error), err)

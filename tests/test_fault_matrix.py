"""The fault matrix: every hostile server, file and terminal input of issue 6, over real HTTP.

Each section is one row of the matrix (what an attacker or a broken proxy does →
what the app must do). The servers are ``tests/hostile.py`` on loopback; nothing
here is mocked below the socket.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
import warnings
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
    dynamic,
    form,
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

import invoice_tui
from invoice_tui import cli
from invoice_tui.cache import InvoiceCache
from invoice_tui.config import AccountConfig, config_path, load_config, save_config
from invoice_tui.providers._http import RetryPolicy
from invoice_tui.providers.base import FetchOptions, FetchResult, ProviderError
from invoice_tui.providers.voximplant import (
    MAX_INVOICES,
    MAX_UNCOUNTED_INVOICES,
    VoximplantProvider,
)
from invoice_tui.ui.app import InvoiceApp

REPO = Path(invoice_tui.__file__).parent.parent


# --- 1. escape sequences in the currency field ---------------------------------------


# --- 2. server text in toasts, reasons, hints and stderr -----------------------------


# --- 3. one sanitizer: escapes, bidi, zero-width ------------------------------------


# --- 4. response size: big, endless, gzip bomb -----------------------------------------


# --- 5. timeout is the whole request's deadline --------------------------------------


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
    assert caught.value.reason == "gave up after 3 attempts: Voximplant rate limit hit (HTTP 429)"
    assert len(sleeps) == 2
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


# --- 7. 3xx replies are errors; a failed fetch keeps the cache ------------------------


# --- 8. CSV formula injection, raw escapes in exports ----------------------------------


# --- 9. secrets in the crash screen ------------------------------------------------------

def _hostile_billing(hostile: HostileServer) -> None:
    """Both providers' endpoints answer one valid, small page."""
    hostile.respond = by_endpoint({
        "list": json_reply({"invoices": []}),
        "GetAccountInvoices": vox_page([vox_invoice(1)], 1),
        "GetAccountInfo": json_reply({"result": {"balance": 5, "currency": "USD"}}),
    })


def _write_config(path: Path, *accounts: AccountConfig, mode: int = 0o600) -> Path:
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
    path = _write_config(tmp_path / "config.toml", unleash_account(hostile), vox)
    app = InvoiceApp(load_config(path), InvoiceCache(tmp_path / "cache"))
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
    path = _write_config(tmp_path / "config.toml", unleash_account(hostile), vox)
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
    path = _write_config(tmp_path / "config.toml", unleash_account(hostile), mode=0o644)
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
    path = _write_config(tmp_path / "config.toml", vox, mode=0o644)  # no token: config is fine
    code, out, err = _export(capsys, path)
    assert code == 0 and [i["id"] for i in json.loads(out)] == ["1"]
    assert err == (f"invoice-tui: {key_file} (credentials of account 'vox-hostile') is readable"
                   f" by others (mode 0640) — run: chmod 600 {shlex.quote(str(key_file))}\n")
    key_file.unlink()  # a missing key file is the account's own error, not a warning
    code, _, err = _export(capsys, path)
    assert code == 1 and err.count("\n") == 1 and "does not exist" in err


# --- 11. stale temp files of killed saves -------------------------------------------------


# --- 12. export --output onto special files ------------------------------------------


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
    path = _write_config(tmp_path / "config.toml", vox, unleash_account(hostile))
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
                   "base_url\n")
    assert hostile.requests == []  # nothing signed was sent anywhere (the default is refused
    # by the socket guard too, but the config error comes first)
    save_config(path, {"accounts": [dict(vox.options)]})  # spelled right, it reaches its host
    assert _export(capsys, path)[0] == 0
    assert {r.endpoint for r in hostile.requests} >= {"GetAccountInvoices"}


def test_a_config_saved_with_a_bom_loads(hostile: HostileServer, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _hostile_billing(hostile)
    path = _write_config(tmp_path / "config.toml", unleash_account(hostile))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Windows Notepad saves it
    assert _export(capsys, path) == (0, "[]\n", "")
    assert hostile.requests[0].endpoint == "list"


# --- 14. PDF save: planted symlinks, races, never the cwd ---------------------------------


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
    path = _write_config(tmp_path / "config.toml", vox)
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

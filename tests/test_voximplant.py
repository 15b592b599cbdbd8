"""Voximplant provider: parsing, credentials, JWT, and fetches over real HTTP to the emulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from invoice_tui.demo import DemoServer, Fault, demo_config
from invoice_tui.providers import provider_class
from invoice_tui.providers._http import RetryPolicy, loads
from invoice_tui.providers.base import FetchOptions, FetchProgress, ProviderError
from invoice_tui.providers.voximplant import (
    PROVIDER,
    TokenSigner,
    VoximplantProvider,
    api_error,
    load_credentials,
    parse_account_info,
    parse_invoice,
    parse_page,
)

# --- hand-written API answers ------------------------------------------------------------

PAGE_JSON = """
{"result": [
  {"invoice_id": 12345, "invoice_number": "VOX-0001", "invoice_date": "2026-10-01",
   "status": "committed", "period": {"from": "2026-09-01", "to": "2026-09-30"},
   "amount": {"tax_amount": 20.00, "total_amount": 120.00, "amount_to_pay": 108.00,
              "discount_amount": 12.00, "currency": "USD"},
   "rows": [
     {"service_name": "Calls", "amount": {"tax_amount": 16.00, "total_amount": 96.00,
        "amount_to_pay": 96, "discount_amount": 0, "currency": "USD"},
      "taxes": [{"taxable_measure": 80.00, "amount": 16.00, "level": "country",
                 "rate": 0.2, "name": "VAT", "currency": "USD", "category": "vat"}]},
     {"service_name": "Numbers", "amount": {"tax_amount": 4.00, "total_amount": 24.00,
        "currency": "USD"},
      "taxes": {"taxable_measure": 20, "amount": 4, "rate": 0.2, "name": "VAT"}}
   ]}
 ],
 "total_count": 1, "count": 1}
"""


def test_parse_page_maps_every_field_per_spec() -> None:
    page = parse_page("vox-main", loads(PAGE_JSON))
    assert page.total_count == 1
    (invoice,) = page.invoices
    assert (invoice.account, invoice.provider, invoice.id, invoice.number) == (
        "vox-main", "voximplant", "12345", "VOX-0001")
    assert invoice.issued == dt.date(2026, 10, 1)
    assert (invoice.period_start, invoice.period_end) == (dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert (invoice.status, invoice.currency) == ("committed", "USD")
    assert invoice.total == Decimal("120.00")
    assert invoice.tax == Decimal("20.00")
    assert invoice.subtotal == Decimal("100.00")  # total − tax
    assert invoice.discount == Decimal("12.00")
    assert invoice.amount_due == Decimal("108.00")  # amount_to_pay
    assert invoice.label is None and invoice.due is None and invoice.tax_rate is None
    calls, numbers = invoice.lines
    assert (calls.kind, calls.description, calls.amount, calls.tax, calls.currency) == (
        "service", "Calls", Decimal("96.00"), Decimal("16.00"), "USD")
    (vat,) = calls.taxes
    assert (vat.name, vat.rate, vat.amount, vat.level, vat.category, vat.taxable, vat.currency) == (
        "VAT", Decimal("0.2"), Decimal("16.00"), "country", "vat", Decimal("80.00"), "USD")
    # `taxes` given as a single object (as the generated SDKs type it) is a one-item list.
    assert [t.amount for t in numbers.taxes] == [Decimal(4)]
    assert all(isinstance(v, Decimal) for v in (invoice.total, invoice.tax, vat.rate))


def test_result_and_rows_may_be_single_objects() -> None:
    body = loads(PAGE_JSON)
    only = body["result"][0]
    only["rows"] = only["rows"][0]
    page = parse_page("a", {"result": only, "total_count": 1})
    assert [inv.id for inv in page.invoices] == ["12345"]
    assert [line.description for line in page.invoices[0].lines] == ["Calls"]


def test_amounts_stay_exact_decimals_through_the_parser() -> None:
    body = loads("""{"invoice_id": 7, "amount": {"currency": "EUR", "total_amount": 0.3,
        "tax_amount": 0.1}, "rows": [{"service_name": "a", "amount": {"total_amount": 0.1}},
        {"service_name": "b", "amount": {"total_amount": 0.2}}]}""")
    invoice = parse_invoice("a", body)
    assert invoice.subtotal == Decimal("0.2")
    assert str(invoice.subtotal) == "0.2"
    assert sum((line.amount or Decimal(0) for line in invoice.lines), Decimal(0)) == invoice.total
    assert str(invoice.total) == "0.3"


@pytest.mark.parametrize(("patch", "field"), [
    ({"amount": {"currency": "USD", "total_amount": True}}, "amount.total_amount"),
    ({"amount": {"currency": "USD", "total_amount": "NaN"}}, "amount.total_amount"),
    ({"amount": {"total_amount": 1}}, "amount.currency"),
    ({"amount": "lots"}, "amount"),
    ({"invoice_date": "yesterday"}, "invoice_date"),
    ({"rows": [{"service_name": {"x": 1}}]}, "rows[0].service_name"),
    ({"rows": [{"taxes": [{"rate": "twenty"}]}]}, "rows[0].taxes[0].rate"),
])
def test_malformed_invoice_names_invoice_and_field(patch: dict[str, Any], field: str) -> None:
    raw = {"invoice_id": 991, "amount": {"currency": "USD", "total_amount": 1}} | patch
    with pytest.raises(ProviderError) as caught:
        parse_invoice("a", raw)
    assert "991" in caught.value.reason
    assert field in caught.value.reason


def test_unexpected_page_shapes_are_provider_errors() -> None:
    for body in ([], "x", {"count": 1}, {"result": 5}):
        with pytest.raises(ProviderError):
            parse_page("a", body)


@pytest.mark.parametrize(("code", "hint_part"), [
    (100, "system clock"), (455, "system clock"), (456, "system clock"),
    (104, "Accountant/Owner"), (433, "key was deleted or the file belongs to another account"),
])
def test_error_bodies_carry_code_and_hint(code: int, hint_part: str) -> None:
    error = api_error({"error": {"msg": "nope", "code": code}})
    assert error is not None
    assert f"error {code}" in error.reason
    assert hint_part in error.hint
    assert not error.retryable
    with pytest.raises(ProviderError) as caught:
        parse_page("a", {"error": {"msg": "nope", "code": code}, "errors": [{"code": code}]})
    assert f"error {code}" in caught.value.reason


@pytest.mark.parametrize("code", [162, 340, 416, 484])
def test_try_later_codes_are_retryable(code: int) -> None:
    error = api_error({"error": {"msg": "Repeat after 3 seconds", "code": code}})
    assert error is not None and error.retryable
    assert error.retry_after == (3.0 if code == 416 else None)


def test_errors_list_alone_is_an_error() -> None:
    error = api_error({"errors": [{"msg": "Invalid arguments", "code": 101}]})
    assert error is not None and "101" in error.reason


def test_account_info_parses_balance() -> None:
    summary = parse_account_info(loads('{"result": {"balance": 12.50, "currency": "EUR"}}'))
    assert (summary.balance, summary.balance_currency) == (Decimal("12.50"), "EUR")


# --- credentials and the JWT -----------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def write_credentials(path: Path, key: rsa.RSAPrivateKey, *, wrapped: bool = False,
                      account_id: int = 42, key_id: str = "kid-1") -> Path:
    data: dict[str, Any] = {"account_email": "svc@example.invalid", "account_id": account_id,
                            "key_id": key_id, "private_key": pem_of(key)}
    path.write_text(json.dumps({"result": data} if wrapped else data))
    return path


@pytest.mark.parametrize("wrapped", [False, True])
def test_credentials_flat_and_wrapped(tmp_path: Path, rsa_key: rsa.RSAPrivateKey,
                                      wrapped: bool) -> None:
    path = write_credentials(tmp_path / "c.json", rsa_key, wrapped=wrapped)
    creds = load_credentials(str(path))
    assert (creds.account_id, creds.key_id) == ("42", "kid-1")
    assert pem_of(rsa_key) not in repr(creds)
    assert PROVIDER.validate_options({"credentials": str(path)}) == []


def _build_error(credentials: str) -> str:
    """The one-line error building an account with this key file gives."""
    with pytest.raises(ProviderError) as caught:
        PROVIDER.from_options("vox", {"credentials": credentials})
    return str(caught.value)


def test_credentials_problems_are_fix_it_lines_without_the_key(
        tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    missing = _build_error(str(tmp_path / "nope.json"))
    assert missing == (f"credentials: file {tmp_path / 'nope.json'} does not exist — set it to "
                       "the service-account key file you downloaded from Voximplant")
    assert "is not a regular file (a directory)" in _build_error(str(tmp_path))
    broken_pem = pem_of(rsa_key).replace("A", "B", 40)
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    (tmp_path / "bad.json").write_text(json.dumps(
        {"account_id": 1, "key_id": "k", "private_key": broken_pem}))
    (tmp_path / "partial.json").write_text(json.dumps({"account_id": 1}))
    (tmp_path / "text.json").write_text("not json " + pem_of(rsa_key))
    (tmp_path / "ec.json").write_text(json.dumps(
        {"account_id": 1, "key_id": "k", "private_key": ec_pem}))
    (tmp_path / "empty.json").write_text("")
    names = ("bad", "partial", "text", "ec", "empty")
    lines = [_build_error(str(tmp_path / f"{name}.json")) for name in names]
    assert "not an RSA PEM key" in lines[0]
    assert "lacks key_id, private_key" in lines[1]
    assert "not a JSON key file" in lines[2]
    assert "not an RSA PEM key" in lines[3]
    assert "not a JSON key file" in lines[4]
    for line in lines:
        assert "PRIVATE KEY" not in line and broken_pem[40:80] not in line
        assert ec_pem.splitlines()[1] not in line
    # Config validation only asks for a path: a broken key file fails its account, not the
    # whole config (see test_cli's test_a_broken_key_file_fails_only_its_account).
    for name in names:
        assert PROVIDER.validate_options({"credentials": str(tmp_path / f"{name}.json")}) == []
    (line,) = PROVIDER.validate_options({"credentials": " "})
    assert line.startswith("credentials: missing")


def test_validate_options_checks_base_url(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = str(write_credentials(tmp_path / "c.json", rsa_key))
    assert PROVIDER.validate_options({"credentials": path, "base_url": "http://127.0.0.1:9"}) == []
    (line,) = PROVIDER.validate_options({"credentials": path, "base_url": "http://example.com"})
    assert line.startswith("base_url:") and "https://" in line


def test_registry_finds_the_provider() -> None:
    assert provider_class("voximplant") is VoximplantProvider


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_claims_and_refresh(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    creds = load_credentials(str(write_credentials(tmp_path / "c.json", rsa_key, account_id=77)))
    clock = FakeClock(1_800_000_000.0)
    signer = TokenSigner(creds, clock)
    token = signer.token()
    header = jwt.get_unverified_header(token)
    assert (header["kid"], header["alg"], header["typ"]) == ("kid-1", "RS256", "JWT")
    claims = jwt.decode(token, rsa_key.public_key(), algorithms=["RS256"],
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["iss"] == "77"
    assert claims["iat"] == 1_800_000_000 - 5
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    clock.now += claims["exp"] - clock.now - 6  # 6 s before expiry: still reused
    assert signer.token() == token
    clock.now += 1  # 5 s before expiry: re-signed
    fresh = signer.token()
    assert fresh != token
    assert jwt.decode(fresh, rsa_key.public_key(), algorithms=["RS256"],
                      options={"verify_exp": False, "verify_iat": False})["iat"] > claims["iat"]


def test_retry_policy_full_jitter_and_retry_after_cap() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0, retry_after_max=10.0,
                         jitter=lambda: 1.0)
    assert [policy.delay(n, None) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert RetryPolicy(jitter=lambda: 0.0).delay(3, None) == 0.0
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(0, 999.0) == 10.0


# --- over real HTTP to the emulator ------------------------------------------------------


class Sleeps:
    """A RetryPolicy ``sleep`` that records the delays and does not wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class InFlight(httpx.AsyncBaseTransport):
    """The real transport, counting how many requests are in flight at once."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.now = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.now -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


class OverstatedTotal(httpx.AsyncBaseTransport):
    """The real transport, but every GetAccountInvoices answer claims ``extra`` more invoices."""

    def __init__(self, extra: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.extra = extra

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if request.url.path.endswith("/GetAccountInvoices"):
            data = json.loads(body)
            data["total_count"] += self.extra
            body = json.dumps(data).encode()
        return httpx.Response(response.status_code, headers={"content-type": "application/json"},
                              content=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def creds_dir(tmp_path: Path, server: DemoServer) -> Path:
    demo_config(server, tmp_path)  # writes <account>-credentials.json (vox-eu's is wrapped)
    return tmp_path


def make(server: DemoServer, creds_dir: Path, account: str = "vox-main", *,
         clock: Any = None, sleeps: Sleeps | None = None,
         credentials: Path | None = None) -> VoximplantProvider:
    policy = RetryPolicy(backoff_base=0.01, backoff_max=0.05, retry_after_max=60.0,
                         sleep=sleeps or Sleeps(), jitter=lambda: 1.0)
    creds = load_credentials(str(credentials or creds_dir / f"{account}-credentials.json"))
    kwargs: dict[str, Any] = {"retry": policy}
    if clock is not None:
        kwargs["clock"] = clock
    return VoximplantProvider(account, creds, server.voximplant_base_url, **kwargs)


DEFAULTS = FetchOptions()


def invoice_requests(server: DemoServer) -> int:
    return sum(1 for _, path, _ in server.request_log if path.endswith("/GetAccountInvoices"))


async def fetch(provider: VoximplantProvider, options: FetchOptions = DEFAULTS,
                transport: httpx.AsyncBaseTransport | None = None,
                progress: Any = None) -> Any:
    async with httpx.AsyncClient(transport=transport) as client:
        return await provider.fetch(client, options, progress)


def assert_no_secret(error: ProviderError, provider: VoximplantProvider) -> None:
    text = f"{error} {error.reason} {error.hint}"
    assert provider.signer.token() not in text
    assert "eyJ" not in text and "PRIVATE KEY" not in text
    pem = provider.credentials.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    assert all(line not in text for line in pem.splitlines()[1:-1])


async def test_fetch_from_config_flat_and_wrapped_credentials(server: DemoServer,
                                                              tmp_path: Path) -> None:
    config = demo_config(server, tmp_path)
    wrapped = json.loads((tmp_path / "vox-eu-credentials.json").read_text())
    assert "result" in wrapped  # the emulator's vox-eu file uses the older wrapping
    for name, currency, count in (("vox-main", "USD", 28), ("vox-eu", "EUR", 26)):
        account = config.account(name)
        assert PROVIDER.validate_options(account.options) == []
        provider = account.build()
        assert isinstance(provider, VoximplantProvider)
        progress: list[FetchProgress] = []
        result = await fetch(provider, progress=progress.append)
        assert len(result.invoices) == count
        assert {inv.currency for inv in result.invoices} == {currency}
        assert result.summary.balance is not None and result.summary.balance_currency == currency
        issued = [(inv.issued, int(inv.id)) for inv in result.invoices]
        assert issued == sorted(issued, reverse=True)
        assert progress[-1].invoices == count and progress[-1].total_invoices == count
    assert provider.cache_key() == f"voximplant:1000002@{server.voximplant_base_url}"


async def test_fetched_invoice_matches_the_served_data(server: DemoServer,
                                                       creds_dir: Path) -> None:
    from invoice_tui.demo.data import VoximplantInvoices, demo_account

    result = await fetch(make(server, creds_dir))
    served = VoximplantInvoices(demo_account("vox-main"), server.today).invoice(3)
    invoice = next(inv for inv in result.invoices if inv.id == str(served["invoice_id"]))
    money = served["amount"]  # the emulator's own Decimals, before they went on the wire
    assert invoice.number == served["invoice_number"]
    assert invoice.total == money["total_amount"]
    assert invoice.subtotal == money["total_amount"] - money["tax_amount"]
    assert invoice.amount_due == money["amount_to_pay"]
    assert invoice.currency == money["currency"]
    assert [line.description for line in invoice.lines] == [
        row["service_name"] for row in served["rows"]]
    assert sum((line.amount or Decimal(0) for line in invoice.lines), Decimal(0)) == invoice.total


def test_token_the_provider_sends_has_the_required_claims(server: DemoServer,
                                                          creds_dir: Path) -> None:
    from invoice_tui.demo import keys

    provider = make(server, creds_dir)
    token = provider.signer.token()
    assert jwt.get_unverified_header(token)["kid"] == "demo-key-vox-main"
    claims = jwt.decode(token, keys.public_key("vox-main"), algorithms=["RS256"])
    assert claims["iss"] == "1000001" and isinstance(claims["iss"], str)
    assert 0 < claims["exp"] - claims["iat"] <= 3600


@pytest.mark.parametrize(("count", "cap", "page_size", "requests"), [
    (100, 7, 20, 15),     # the server caps count at 7: stride 7, ceil(100 / 7) pages
    (120, 50, 100, 3),    # cap 50 below the asked 100
    (100, 50, 10, 10),    # page_size below the cap: the asked size is honoured
    (0, 50, 20, 1),       # no invoices at all: one empty page
])
async def test_pagination_advances_by_what_the_server_returns(
        creds_dir: Path, count: int, cap: int, page_size: int, requests: int) -> None:
    with DemoServer(invoice_count=count, count_cap=cap) as server:
        demo_config(server, creds_dir)
        result = await fetch(make(server, creds_dir),
                             FetchOptions(page_size=page_size, concurrency=4))
        assert invoice_requests(server) == requests
    ids = [inv.id for inv in result.invoices]
    base = 1000001 * 1000 % 1_000_000 * 10_000
    assert sorted(ids, key=int) == [str(base + n) for n in range(1, count + 1)]


@pytest.mark.demo_server(invoice_count=60, count_cap=50, latency_ms=20)
@pytest.mark.parametrize("concurrency", [1, 3])
async def test_requests_in_flight_are_bounded_by_concurrency(
        server: DemoServer, creds_dir: Path, concurrency: int) -> None:
    transport = InFlight()
    result = await fetch(make(server, creds_dir),
                         FetchOptions(page_size=5, concurrency=concurrency), transport)
    assert len(result.invoices) == 60
    assert transport.peak == concurrency


@pytest.mark.demo_server(invoice_count=50, count_cap=10)
async def test_short_pages_leave_gaps_that_are_filled_sequentially(
        server: DemoServer, creds_dir: Path) -> None:
    def shrink_after_first_page(progress: FetchProgress) -> None:
        server.count_cap = 3  # later pages come back shorter than the learned stride

    result = await fetch(make(server, creds_dir), FetchOptions(page_size=100, concurrency=2),
                         progress=shrink_after_first_page)
    requests = invoice_requests(server)
    assert len({inv.id for inv in result.invoices}) == len(result.invoices) == 50
    assert requests > 5  # 1 + 4 concurrent pages + the sequential gap fills


async def test_empty_page_ends_the_list_even_if_total_count_says_more(
        server: DemoServer, creds_dir: Path) -> None:
    result = await fetch(make(server, creds_dir), FetchOptions(page_size=10, concurrency=2),
                         OverstatedTotal(extra=1000))
    assert len(result.invoices) == 28
    # Pages 0, 10, 20 (8 invoices), the empty one at 30, at most one more already in flight
    # (40), and 28 (the short page's gap) — not the 100 pages total_count claims.
    assert invoice_requests(server) <= 6


async def test_wrong_key_with_the_right_kid_is_an_authorization_error(
        server: DemoServer, creds_dir: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = write_credentials(creds_dir / "stolen.json", rsa_key, account_id=1000001,
                             key_id="demo-key-vox-main")
    provider = make(server, creds_dir, credentials=path)
    with pytest.raises(ProviderError) as caught:
        await fetch(provider)
    assert "Voximplant error 100" in caught.value.reason
    assert "system clock" in caught.value.hint and "key file" in caught.value.hint
    assert_no_secret(caught.value, provider)


async def test_unknown_key_id(server: DemoServer, creds_dir: Path,
                             rsa_key: rsa.RSAPrivateKey) -> None:
    path = write_credentials(creds_dir / "old.json", rsa_key, account_id=1000001,
                             key_id="deleted-key")
    provider = make(server, creds_dir, credentials=path)
    with pytest.raises(ProviderError) as caught:
        await fetch(provider)
    assert "Voximplant error 433" in caught.value.reason
    assert "key was deleted" in caught.value.hint
    assert_no_secret(caught.value, provider)


@pytest.mark.parametrize(("offset", "code"), [(-7200, 456), (7200, 455)])
async def test_wrong_clock_gets_the_clock_hint(server: DemoServer, creds_dir: Path,
                                               offset: int, code: int) -> None:
    import time

    provider = make(server, creds_dir, clock=lambda: time.time() + offset)
    with pytest.raises(ProviderError) as caught:
        await fetch(provider)
    assert f"Voximplant error {code}" in caught.value.reason
    assert "check the system clock" in caught.value.hint
    assert_no_secret(caught.value, provider)


async def test_missing_role_is_reported_with_the_role_hint(server: DemoServer,
                                                           creds_dir: Path) -> None:
    # A page after the first fails: the concurrent workers stop and the error surfaces alone.
    def forbid_later_pages(progress: FetchProgress) -> None:
        if progress.pages == 1:
            server.add_fault(Fault("vox_error", code=104, times=-1))

    provider = make(server, creds_dir)
    with pytest.raises(ProviderError) as caught:
        await fetch(provider, FetchOptions(page_size=5, concurrency=3),
                    progress=forbid_later_pages)
    assert "Voximplant error 104" in caught.value.reason
    assert "Accountant/Owner" in caught.value.hint


@pytest.mark.parametrize(("fault", "delay"), [
    (Fault("vox_error", code=162), 0.01),                      # "try later": backoff
    (Fault("vox_error", code=416, retry_after=7), 7.0),        # "repeat after 7 seconds"
    (Fault("http_status", status=429, retry_after=3), 3.0),    # Retry-After header
    (Fault("http_status", status=502), 0.01),
    (Fault("drop"), 0.01),                                     # connection closed, no answer
])
async def test_transient_failure_then_success(server: DemoServer, creds_dir: Path,
                                              fault: Fault, delay: float) -> None:
    server.add_fault(fault)
    sleeps = Sleeps()
    result = await fetch(make(server, creds_dir, sleeps=sleeps))
    assert len(result.invoices) == 28
    assert sleeps.delays == [delay]
    assert invoice_requests(server) == 2


async def test_persistent_5xx_gives_up_after_max_retries(server: DemoServer,
                                                         creds_dir: Path) -> None:
    server.add_fault(Fault("http_status", status=503, times=-1))
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server, creds_dir, sleeps=sleeps), FetchOptions(max_retries=3))
    assert caught.value.reason == "gave up after 4 attempts: Voximplant server error (HTTP 503)"
    assert sleeps.delays == [0.01, 0.02, 0.04]  # exponential (jitter pinned to its ceiling)
    assert invoice_requests(server) == 4


async def test_persistent_drops_give_up(server: DemoServer, creds_dir: Path) -> None:
    server.add_fault(Fault("drop", times=-1))
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server, creds_dir), FetchOptions(max_retries=1))
    assert caught.value.reason.startswith("gave up after 2 attempts: Voximplant")
    assert "connection" in caught.value.reason


@pytest.mark.parametrize(("fault", "reason"), [
    (Fault("html"), "Voximplant answered with an HTML page instead of JSON (HTTP 200)"),
    (Fault("malformed_json"), "Voximplant sent malformed JSON"),
])
async def test_garbled_answers_are_clear_errors(server: DemoServer, creds_dir: Path,
                                                fault: Fault, reason: str) -> None:
    server.add_fault(fault)
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server, creds_dir))
    assert caught.value.reason.startswith(reason)
    assert caught.value.hint
    assert invoice_requests(server) == 1  # not retried: the same answer would come back


async def test_timeout_is_a_clear_error(server: DemoServer, creds_dir: Path) -> None:
    server.add_fault(Fault("slow", seconds=5))
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server, creds_dir), FetchOptions(timeout=0.2))
    assert caught.value.reason.startswith("Voximplant (127.0.0.1) did not answer within 0.2 s")
    assert "timeout" in caught.value.hint


async def test_account_info_failure_does_not_fail_the_invoices(server: DemoServer,
                                                               creds_dir: Path) -> None:
    def break_account_info(progress: FetchProgress) -> None:
        if progress.pages == 1:  # with concurrency 1 the next request is GetAccountInfo
            server.add_fault(Fault("vox_error", code=2))

    result = await fetch(make(server, creds_dir), FetchOptions(concurrency=1),
                         progress=break_account_info)
    assert len(result.invoices) == 28
    assert result.summary.balance is None
    assert not server.pending_faults()


async def test_download_pdf(server: DemoServer, creds_dir: Path) -> None:
    provider = make(server, creds_dir)
    async with httpx.AsyncClient() as client:
        result = await provider.fetch(client, FetchOptions())
        pdf = await provider.download_pdf(client, FetchOptions(), result.invoices[0])
        assert pdf.startswith(b"%PDF-")
        missing = dataclasses.replace(result.invoices[0], id="1")
        with pytest.raises(ProviderError) as caught:
            await provider.download_pdf(client, FetchOptions(), missing)
    assert "Voximplant error 101" in caught.value.reason


def test_error_messages_redact_tokens_and_control_characters() -> None:
    secret = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiI0MiJ9.c2lnbmF0dXJl"
    error = api_error({"error": {"code": 447, "msg": f"bad token {secret}\n\x1b]52;c;x\x07 end"}},
                      (secret,))
    assert error is not None
    assert secret not in str(error) and "eyJ" not in str(error)
    assert "\x1b" not in str(error) and "\n" not in str(error)
    assert error.reason.startswith("Voximplant error 447: bad token ***")

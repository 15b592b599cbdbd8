"""Unleash provider: parsing, options, URL rules, and fetches over real HTTP to the emulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from invoice_tui.config import load_config, save_config
from invoice_tui.demo import UNLICENSED_INSTANCE, DemoServer, Fault, demo_account, demo_config
from invoice_tui.providers import provider_class
from invoice_tui.providers._http import RetryPolicy, check_base_url, join_url, loads
from invoice_tui.providers.base import FetchOptions, FetchProgress, FetchResult, ProviderError
from invoice_tui.providers.unleash import PROVIDER, UnleashProvider, parse_invoices, status_error

BODY_JSON = """
{"planPrice": 1875.00, "planCurrency": "USD", "invoices": [
  {"invoiceDate": "2026-10-01T00:00:00.000Z", "dueDate": "2026-10-15T00:00:00.000Z",
   "status": "paid", "totalAmount": 1082.50, "subtotal": 1000.00, "currency": "USD",
   "taxAmount": 82.50, "taxPercentage": 8.25,
   "invoiceURL": "https://billing.example.com/i/in_1",
   "invoicePDF": "https://billing.example.com/i/in_1.pdf",
   "monthText": "September 2026",
   "mainLines": [{"description": "Seats", "quantity": 12, "totalAmount": 900.00,
      "currency": "USD", "lookupKey": "seat", "startDate": "2026-09-01T00:00:00.000Z",
      "endDate": "2026-09-30T23:59:59.999Z", "unitPrice": 75.00}],
   "usageLines": [{"description": "Frontend requests", "quantity": 20, "totalAmount": 100.00,
      "currency": "USD", "lookupKey": "fe", "startDate": "2026-08-28T00:00:00.000Z",
      "endDate": "2026-09-29T00:00:00.000Z", "limit": 10000000, "consumption": 12000000,
      "unitPrice": 5.00}]},
  {"invoiceDate": "2026-11-01T00:00:00.000Z", "status": "estimate", "totalAmount": 0.3,
   "subtotal": 0.3, "currency": "USD", "taxAmount": 0, "taxPercentage": 0,
   "monthText": "October 2026",
   "mainLines": [{"description": "a", "quantity": 1, "totalAmount": 0.1, "currency": "USD",
                  "lookupKey": "a"}],
   "usageLines": [{"description": "b", "quantity": 1, "totalAmount": 0.2, "currency": "USD",
                   "lookupKey": "b"}]}
]}
"""


def test_parse_maps_every_field_per_spec() -> None:
    result = parse_invoices("unleash-acme", loads(BODY_JSON))
    assert (result.summary.plan_price, result.summary.plan_currency) == (Decimal("1875.00"), "USD")
    estimate, paid = result.invoices  # newest first
    assert paid.id == "https://billing.example.com/i/in_1"
    assert (paid.account, paid.provider, paid.number, paid.label) == (
        "unleash-acme", "unleash", None, "September 2026")
    assert (paid.issued, paid.due) == (dt.date(2026, 10, 1), dt.date(2026, 10, 15))
    assert (paid.period_start, paid.period_end) == (dt.date(2026, 8, 28), dt.date(2026, 9, 30))
    assert (paid.subtotal, paid.tax, paid.total, paid.tax_rate) == (
        Decimal("1000.00"), Decimal("82.50"), Decimal("1082.50"), Decimal("8.25"))
    assert paid.discount is None and paid.amount_due is None
    assert (paid.url, paid.pdf_url) == ("https://billing.example.com/i/in_1",
                                        "https://billing.example.com/i/in_1.pdf")
    seats, usage = paid.lines
    assert (seats.kind, seats.description, seats.quantity, seats.unit_price, seats.amount) == (
        "main", "Seats", Decimal(12), Decimal("75.00"), Decimal("900.00"))
    assert (usage.kind, usage.consumption, usage.limit, usage.lookup_key, usage.taxes) == (
        "usage", Decimal(12000000), Decimal(10000000), "fe", ())
    assert usage.period_start == dt.date(2026, 8, 28)
    # No invoiceURL: the id is "<invoiceDate>|<monthText>"; no line dates: no period.
    assert estimate.id == "2026-11-01T00:00:00.000Z|October 2026"
    assert estimate.is_estimate and estimate.url is None and estimate.period_start is None
    assert sum((line.amount or Decimal(0) for line in estimate.lines), Decimal(0)) \
        == estimate.total == Decimal("0.3")


@pytest.mark.parametrize(("patch", "field"), [
    ({"totalAmount": "lots"}, "totalAmount"),
    ({"currency": None}, "currency"),
    ({"dueDate": "soon"}, "dueDate"),
    ({"mainLines": [{"description": "x", "quantity": False}]}, "mainLines[0].quantity"),
    ({"usageLines": 3}, "usageLines"),
])
def test_malformed_invoice_names_invoice_and_field(patch: dict[str, object], field: str) -> None:
    raw = {"invoiceDate": "2026-01-01T00:00:00Z", "monthText": "December 2025",
           "currency": "EUR", "status": "paid"} | patch
    with pytest.raises(ProviderError) as caught:
        parse_invoices("a", {"invoices": [raw]})
    assert "December 2025" in caught.value.reason and field in caught.value.reason


def test_unexpected_shapes_are_provider_errors() -> None:
    for body in ([], None, {"planPrice": 1}, {"invoices": "x"}, {"invoices": [1]}):
        with pytest.raises(ProviderError):
            parse_invoices("a", body)


# --- options and URLs --------------------------------------------------------------------


def test_validate_options_exactly_one_token_source() -> None:
    url = "https://us.app.unleash-hosted.com/acme"
    assert PROVIDER.validate_options({"base_url": url, "token": "user:abc"}) == []
    assert PROVIDER.validate_options({"base_url": url, "token_env": "UNLEASH_TOKEN"}) == []
    for options in ({"base_url": url}, {"base_url": url, "token": "t", "token_env": "E"}):
        (line,) = PROVIDER.validate_options(options)
        assert line.startswith("token/token_env/token_keyring: set exactly one")
    (line,) = PROVIDER.validate_options({"token": "t"})
    assert line.startswith("base_url: missing")


def test_from_options_reads_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    options = {"base_url": "https://x.example.com/p", "token_env": "UNLEASH_TOKEN"}
    with pytest.raises(ProviderError) as caught:
        PROVIDER.from_options("u", options)
    assert caught.value.reason == "environment variable UNLEASH_TOKEN is not set"
    assert "personal access token" in caught.value.hint
    monkeypatch.setenv("UNLEASH_TOKEN", "user:secret-token-123")
    provider = PROVIDER.from_options("u", options)
    assert provider.cache_key() == "unleash:https://x.example.com/p"
    assert "secret-token-123" not in repr(provider) + provider.cache_key()


@pytest.mark.parametrize("base", ["https://h.example.com/eu/acme", "https://h.example.com/eu/acme/"])
def test_invoices_url_keeps_prefix_with_or_without_slash(base: str) -> None:
    provider = UnleashProvider("u", base, "t")
    assert provider.invoices_url == "https://h.example.com/eu/acme/api/admin/invoices/list"
    assert join_url("http://127.0.0.1:1/", "/x") == "http://127.0.0.1:1/x"


@pytest.mark.parametrize("url", [
    "https://api.voximplant.com/platform_api", "http://127.0.0.1:8080/p", "http://127.3.4.5/",
    "http://[::1]:9/x", "http://localhost:1", "https://[2001:db8::1]/",
])
def test_check_base_url_accepts(url: str) -> None:
    assert check_base_url(url) is None


@pytest.mark.parametrize(("url", "part"), [
    ("http://example.com/acme", "https://"), ("http://10.0.0.1/", "loopback"),
    ("ftp://127.0.0.1/", "http(s)"), ("https://", "host"), ("", "URL"), (42, "URL"),
    ("https://user:pw@example.com/", "user:password"), ("https://h:99999/", "not a valid URL"),
    ("http://localhost.evil.com/", "https://"),
    # Neither user:password@ nor a query (both may hold a secret) is ever echoed.
    ("htps://user:pw@example.com/", "http(s)"), ("https://user:pw@h:99999/", "not a valid URL"),
    ("https://h.example.com/acme?token=pw", "query string"), ("https://h.example.com/#pw", "#…"),
])
def test_check_base_url_rejects(url: object, part: str) -> None:
    problem = check_base_url(url)
    assert problem is not None and part in problem
    assert "pw" not in problem


def test_links_may_have_a_query() -> None:
    # Invoice PDF links (e.g. Stripe's) carry a query; API base URLs may not.
    link = "https://pay.example.com/invoice/acct_1/pdf?s=ap"
    assert check_base_url(link, allow_query=True) is None
    assert check_base_url(link) is not None
    assert check_base_url("http://example.com/x?s=1", allow_query=True) is not None


def test_registry_finds_the_provider() -> None:
    assert provider_class("unleash") is UnleashProvider


# --- over real HTTP to the emulator ------------------------------------------------------

ACME_TOKEN = demo_account("unleash-acme").token or ""


class Sleeps:
    """A RetryPolicy ``sleep`` that records the delays and does not wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make(base_url: str, token: str = ACME_TOKEN, sleeps: Sleeps | None = None) -> UnleashProvider:
    policy = RetryPolicy(backoff_base=0.01, backoff_max=0.05, retry_after_max=60.0,
                         sleep=sleeps or Sleeps(), jitter=lambda: 1.0)
    return UnleashProvider("unleash-acme", base_url, token, retry=policy)


async def fetch(provider: UnleashProvider, options: FetchOptions | None = None) -> FetchResult:
    async with httpx.AsyncClient() as client:
        return await provider.fetch(client, options or FetchOptions())


def api_requests(server: DemoServer) -> int:
    return sum(1 for _, path, _ in server.request_log if path.endswith("/invoices/list"))


@pytest.mark.parametrize("name", ["unleash-acme", "unleash-contoso"])
@pytest.mark.parametrize("slash", ["", "/"])
async def test_fetch_from_config_with_path_prefix(server: DemoServer, tmp_path: Path,
                                                  name: str, slash: str) -> None:
    account = demo_config(server, tmp_path).account(name)
    options = dict(account.options) | {"base_url": server.unleash_base_url(name) + slash}
    assert PROVIDER.validate_options(options) == []
    provider = PROVIDER.from_options(name, options)
    progress: list[FetchProgress] = []
    async with httpx.AsyncClient() as client:
        result = await provider.fetch(client, FetchOptions(), progress.append)
    served = demo_account(name)
    assert len(result.invoices) == 28
    assert (result.summary.plan_price, result.summary.plan_currency) == (
        served.plan_price, served.currency)
    assert {inv.currency for inv in result.invoices} == {served.currency}
    assert {inv.status for inv in result.invoices} >= {"estimate", "upcoming", "paid"}
    assert all(inv.tax_rate == served.tax_percentage for inv in result.invoices)
    dates = [inv.issued for inv in result.invoices]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    usage = [line for inv in result.invoices for line in inv.lines if line.kind == "usage"]
    assert usage and all(line.consumption is not None for line in usage)
    assert progress == [FetchProgress(invoices=28, pages=1, total_invoices=28, total_pages=1,
                                      page=result.invoices)]


async def test_token_from_environment(server: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_UNLEASH", ACME_TOKEN)
    options = {"base_url": server.unleash_base_url("unleash-acme"), "token_env": "MY_UNLEASH"}
    assert PROVIDER.validate_options(options) == []
    result = await fetch(PROVIDER.from_options("unleash-acme", options))
    assert len(result.invoices) == 28


async def test_invalid_token_is_401_with_the_token_hint(server: DemoServer) -> None:
    token = "user:not-a-real-token-5150"
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server.unleash_base_url("unleash-acme"), token))
    assert caught.value.reason.startswith("Unleash rejected the token (HTTP 401")
    assert "personal access token" in caught.value.hint
    assert token not in str(caught.value)


async def test_frontend_token_is_403_saying_why(server: DemoServer) -> None:
    token = demo_account("unleash-acme").client_token or ""
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server.unleash_base_url("unleash-acme"), token))
    reason = caught.value.reason
    assert "HTTP 403" in reason and "frontend/backend tokens can't" in reason
    assert "Frontend and backend tokens cannot use the Admin API" in reason  # the server's words
    assert token not in str(caught.value)


@pytest.mark.parametrize("prefix", ["/oss", "/no-such-prefix"])
async def test_missing_invoices_endpoint_is_404_no_enterprise(server: DemoServer,
                                                               prefix: str) -> None:
    token = UNLICENSED_INSTANCE.token or ""
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server.url + prefix, token))
    assert caught.value.reason.startswith("this instance has no Enterprise billing")
    assert caught.value.hint == ("check the instance URL incl. its path prefix; "
                                 "invoices need Unleash Enterprise")
    assert token not in str(caught.value)


async def test_rate_limit_with_retry_after_then_success(server: DemoServer) -> None:
    server.add_fault(Fault("http_status", status=429, retry_after=4, account="unleash-acme"))
    sleeps = Sleeps()
    result = await fetch(make(server.unleash_base_url("unleash-acme"), sleeps=sleeps))
    assert len(result.invoices) == 28
    assert sleeps.delays == [4.0]
    assert api_requests(server) == 2


async def test_persistent_5xx_gives_up(server: DemoServer) -> None:
    server.add_fault(Fault("http_status", status=500, times=-1))
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server.unleash_base_url("unleash-acme"), sleeps=sleeps),
                    FetchOptions(max_retries=2))
    assert caught.value.reason == "gave up after 3 attempts: Unleash server error (HTTP 500)"
    assert sleeps.delays == [0.01, 0.02]
    assert api_requests(server) == 3


@pytest.mark.parametrize(("fault", "reason"), [
    (Fault("html"), "Unleash answered with an HTML page instead of JSON"),
    (Fault("malformed_json"), "Unleash sent malformed JSON"),
])
async def test_garbled_answers(server: DemoServer, fault: Fault, reason: str) -> None:
    server.add_fault(fault)
    with pytest.raises(ProviderError) as caught:
        await fetch(make(server.unleash_base_url("unleash-acme")))
    assert caught.value.reason.startswith(reason)


async def test_dropped_connection_is_retried(server: DemoServer) -> None:
    server.add_fault(Fault("drop"))
    result = await fetch(make(server.unleash_base_url("unleash-acme")))
    assert len(result.invoices) == 28
    assert api_requests(server) == 2


async def test_connection_refused_is_a_clear_error() -> None:
    with DemoServer() as stopped:
        url = stopped.unleash_base_url("unleash-acme")
    with pytest.raises(ProviderError) as caught:
        await fetch(make(url))
    assert caught.value.reason == "could not connect to Unleash (127.0.0.1)"
    assert "base_url" in caught.value.hint


async def test_download_pdf_follows_the_link_without_the_token(server: DemoServer) -> None:
    provider = make(server.unleash_base_url("unleash-acme"))
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as client:
        result = await provider.fetch(client, FetchOptions())
        invoice = next(inv for inv in result.invoices if inv.pdf_url)
        pdf = await provider.download_pdf(client, FetchOptions(), invoice)
        assert pdf.startswith(b"%PDF-")
        estimate = next(inv for inv in result.invoices if inv.is_estimate)
        with pytest.raises(ProviderError, match="no PDF link"):
            await provider.download_pdf(client, FetchOptions(), estimate)
        foreign = dataclasses.replace(invoice, pdf_url="http://files.example.com/x.pdf")
        with pytest.raises(ProviderError, match="refusing to download"):
            await provider.download_pdf(client, FetchOptions(), foreign)
    assert api_requests(server) == 1
    api_call, pdf_call = sent
    assert api_call.headers["Authorization"] == ACME_TOKEN  # raw, no "Bearer"
    assert str(pdf_call.url) == invoice.pdf_url and "Authorization" not in pdf_call.headers


def test_server_messages_are_sanitized_and_never_echo_the_token() -> None:
    token = "user:7f3e9c1d2b"
    body = {"id": "x", "name": "InvalidTokenError",
            "message": f"Token {token} is invalid\x1b[2J; Bearer abc.def eyJhbGciOi.eyJzdWIi.c2ln",
            "details": [{"message": token}]}
    for status in (401, 403, 418):
        error = status_error(httpx.Response(status, json=body), (token,))
        assert error is not None
        text = str(error)
        assert token not in text and "eyJ" not in text and "abc.def" not in text
        assert "\x1b" not in text and "is invalid" in text
    assert status_error(httpx.Response(200, json={}), (token,)) is None


async def test_unusable_url_is_a_clear_error() -> None:
    with pytest.raises(ProviderError) as caught:
        await fetch(make("http://[not-an-ip]/acme"))
    assert caught.value.reason.startswith("'http://[not-an-ip]/acme/api/admin/invoices/list' is "
                                          "not a usable URL for Unleash")


def test_token_that_cannot_be_a_header_is_a_config_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://x.example.com"
    (line,) = PROVIDER.validate_options({"base_url": url, "token": "user:naïve"})
    assert line.startswith("token: contains characters an HTTP header cannot carry")
    monkeypatch.setenv("UNLEASH_TOKEN", "user:abc\ndef")
    with pytest.raises(ProviderError) as caught:
        PROVIDER.from_options("u", {"base_url": url, "token_env": "UNLEASH_TOKEN"})
    assert caught.value.reason.startswith("the Unleash token (environment variable UNLEASH_TOKEN)")
    assert "abc" not in str(caught.value)


# --- a token pasted with its "Bearer " scheme --------------------------------------------

@pytest.mark.parametrize("pasted", ["Bearer {}", "bearer {}", "BEARER   {}", "  Bearer\t{}  "])
async def test_a_bearer_prefix_is_stripped_and_the_raw_token_sent(
        server: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pasted: str) -> None:
    token = pasted.format(ACME_TOKEN)
    base_url = server.unleash_base_url("unleash-acme")
    # In the config file: validation accepts it, and so does loading the file.
    config = tmp_path / "config.toml"
    save_config(config, {"accounts": [{"name": "unleash-acme", "provider": "unleash",
                                       "base_url": base_url, "token": token}]})
    options = load_config(config).account("unleash-acme").options
    assert PROVIDER.validate_options(options) == []
    # And from the environment.
    monkeypatch.setenv("MY_UNLEASH", token)
    from_env = {"base_url": base_url, "token_env": "MY_UNLEASH"}
    assert PROVIDER.validate_options(from_env) == []
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as client:
        for source in (options, from_env):
            provider = PROVIDER.from_options("unleash-acme", source)
            result = await provider.fetch(client, FetchOptions())
            assert len(result.invoices) == 28
    # The emulator checks the token; what went over the wire is the raw token alone.
    assert [request.headers["Authorization"] for request in sent] == [ACME_TOKEN, ACME_TOKEN]


@pytest.mark.parametrize("token", ["Bearer", "bearer   ", " Bearer "])
def test_a_bare_bearer_is_no_token(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    url = "https://x.example.com"
    (line,) = PROVIDER.validate_options({"base_url": url, "token": token})
    assert line.startswith("token: must be a non-empty string")
    with pytest.raises(ProviderError, match="no Unleash token configured"):
        PROVIDER.from_options("u", {"base_url": url, "token": token})


def test_a_bearer_prefix_does_not_hide_a_bad_token() -> None:
    url = "https://x.example.com"
    (line,) = PROVIDER.validate_options({"base_url": url, "token": "Bearer user:a b"})
    assert line.startswith("token: contains characters an HTTP header cannot carry")
    # "Bearerish" is a token that happens to start so: kept as it is.
    provider = PROVIDER.from_options("u", {"base_url": url, "token": "Bearerish:abc"})
    assert provider._token == "Bearerish:abc"

"""The demo emulator, over real HTTP on loopback: auth, paging, routing, faults, data."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import threading
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from invoice_tui.config import load_config
from invoice_tui.demo import (
    DEMO_ACCOUNTS,
    UNLICENSED_INSTANCE,
    UNTRUSTED_TEXT,
    DemoServer,
    Fault,
    demo_account,
    demo_config,
    demo_environment,
    parse_fault,
    run_demo_server,
)
from invoice_tui.demo import keys as demo_keys
from invoice_tui.demo.data import (
    VoximplantInvoices,
    unleash_invoices,
    voximplant_account_info,
)
from invoice_tui.providers import provider_class
from invoice_tui.providers.base import FetchOptions
from invoice_tui.sync import SyncSucceeded, sync_all

TODAY = dt.date(2026, 11, 21)
pytestmark = pytest.mark.demo_server(today=TODAY)
VOX_MAIN = demo_account("vox-main")
VOX_EU = demo_account("vox-eu")
ACME = demo_account("unleash-acme")
CONTOSO = demo_account("unleash-contoso")
LIST_PATH = "/api/admin/invoices/list"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # Shared: building an httpx client (its TLS context) costs more than most tests here.
    with httpx.Client(timeout=10) as http:
        yield http


def make_token(account: Any = VOX_MAIN, *, iss: object = None, iat: float | None = None,
               ttl: float = 60, exp: float | None = None, kid: str | None = None,
               key: rsa.RSAPrivateKey | None = None, drop: tuple[str, ...] = ()) -> str:
    """A Voximplant JWT with any claim made wrong (PyJWS, so ``iss`` may be a non-string)."""
    now = time.time()
    claims: dict[str, object] = {
        "iss": str(account.account_id) if iss is None else iss,
        "iat": int(now - 5 if iat is None else iat),
    }
    claims["exp"] = int(now - 5 if iat is None else iat) + ttl if exp is None else exp
    for name in drop:
        claims.pop(name)
    signing_key = key or demo_keys.private_key(account.name)
    return jwt.PyJWS().encode(json.dumps(claims).encode(), signing_key, algorithm="RS256",
                              headers={"kid": kid or account.key_id, "typ": "JWT"})


def vox(client: httpx.Client, server: DemoServer, command: str = "GetAccountInvoices", *,
        token: str | None = None, params: dict[str, object] | None = None,
        data: dict[str, object] | None = None, account: Any = VOX_MAIN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or make_token(account)}"}
    return client.post(f"{server.voximplant_base_url}/{command}", params=params, data=data,
                       headers=headers)


def body(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal, parse_int=Decimal)


def all_vox_invoices(client: httpx.Client, server: DemoServer, account: Any) -> list[Any]:
    result: list[Any] = []
    while True:
        page = body(vox(client, server, data={"count": 100, "offset": len(result)},
                        account=account))
        result += page["result"]
        if not page["result"] or len(result) >= page["total_count"]:
            return result


def unleash(client: httpx.Client, server: DemoServer, account: Any = ACME, *,
            token: str | None = None, suffix: str = LIST_PATH) -> httpx.Response:
    headers = {"Authorization": token if token is not None else account.token}
    return client.get(server.unleash_base_url(account.name) + suffix, headers=headers)


# --- Voximplant auth ------------------------------------------------------------------------

def test_valid_token_gets_invoices_in_the_documented_shape(server, client) -> None:
    response = vox(client, server)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    data = body(response)
    assert set(data) == {"result", "total_count", "count"}
    assert data["total_count"] == VOX_MAIN.invoices == 28
    invoice = data["result"][0]
    assert set(invoice) == {"invoice_id", "invoice_number", "invoice_date", "status", "period",
                            "amount", "rows"}
    assert set(invoice["amount"]) == {"tax_amount", "total_amount", "amount_to_pay",
                                      "discount_amount", "currency"}
    assert set(invoice["period"]) == {"from", "to"}
    assert set(invoice["rows"][0]["taxes"][0]) == {
        "taxable_measure", "amount", "level", "rate", "name", "currency", "category"}
    assert json.loads(response.content)["result"][0]["invoice_id"] == int(invoice["invoice_id"])


def _other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(("token_args", "code"), [
    ({"key": "other"}, 100),
    ({"kid": "no-such-key"}, 433),
    ({"iss": str(VOX_EU.account_id)}, 100),
    ({"iss": VOX_EU.account_id}, 100),  # a number, naming another account
    ({"iss": True}, 100),  # not an id at all (and True == 1 in Python)
    ({"iss": f" {VOX_MAIN.account_id}"}, 100),
    ({"ttl": 3601}, 454),
    ({"iat": +120}, 455),  # iat values here are offsets from now
    ({"iat": -200, "ttl": 60}, 456),
    ({"drop": ("exp",)}, 447),
], ids=["wrong-key", "unknown-kid", "iss-other-account", "iss-other-account-number",
        "iss-bool", "iss-padded", "ttl-too-long", "issued-in-future", "expired", "no-exp"])
def test_bad_tokens_get_the_real_error_codes(server, client, token_args, code) -> None:
    if token_args.get("key") == "other":
        token_args = {**token_args, "key": _other_key()}
    if "iat" in token_args:
        token_args = {**token_args, "iat": time.time() + token_args["iat"]}
    response = vox(client, server, token=make_token(**token_args))
    assert response.status_code == 200
    assert body(response)["error"]["code"] == code
    assert body(response)["error"]["msg"]


@pytest.mark.parametrize("iss", [str(VOX_MAIN.account_id), VOX_MAIN.account_id],
                         ids=["string", "number"])
def test_iss_may_be_the_account_id_as_string_or_number(server, client, iss) -> None:
    # SDK versions differ: the Node SDK signs the number from the key file.
    data = body(vox(client, server, token=make_token(iss=iss)))
    assert data["total_count"] == VOX_MAIN.invoices and len(data["result"]) == 20
    info = body(vox(client, server, "GetAccountInfo", token=make_token(iss=iss)))["result"]
    assert info["account_id"] == VOX_MAIN.account_id


def test_token_with_full_hour_ttl_is_accepted(server, client) -> None:
    assert "result" in body(vox(client, server, token=make_token(ttl=3600)))


@pytest.mark.parametrize(("authorization", "code"), [
    (None, 100), ("Basic abc", 100), ("Bearer not-a-jwt", 447), ("Bearer a.b.c", 447),
])
def test_missing_or_garbage_authorization(server, client, authorization, code) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post(f"{server.voximplant_base_url}/GetAccountInvoices", headers=headers)
    assert response.status_code == 200
    assert body(response)["error"]["code"] == code


def test_unknown_command_is_103(server, client) -> None:
    assert body(vox(client, server, "GetEverything"))["error"]["code"] == 103


def test_each_account_sees_only_its_own_invoices(server, client) -> None:
    main = body(vox(client, server, account=VOX_MAIN))["result"]
    eu = body(vox(client, server, account=VOX_EU))["result"]
    assert {i["amount"]["currency"] for i in main} == {"USD"}
    assert {i["amount"]["currency"] for i in eu} == {"EUR"}
    assert not {i["invoice_id"] for i in main} & {i["invoice_id"] for i in eu}


# --- paging ---------------------------------------------------------------------------------

def test_count_and_offset_from_query_or_form_body_agree(server, client) -> None:
    everything = all_vox_invoices(client, server, VOX_MAIN)
    by_query = body(vox(client, server, params={"count": 5, "offset": 10}))
    by_form = body(vox(client, server, data={"count": 5, "offset": 10}))
    assert by_query == by_form
    assert by_query["count"] == 5
    assert by_query["result"] == everything[10:15]


def multipart(fields: dict[str, object], boundary: str, *, go_style: bool = False) -> bytes:
    """A file-less multipart/form-data body as the SDKs write it: per field only a
    Content-Disposition header. Node's form-data ends each part with CRLF; Go's
    mime/multipart puts the CRLF before the next delimiter instead (same bytes between
    parts, but no CRLF before the very first delimiter)."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}'
             for name, value in fields.items()]
    if go_style:
        return ("\r\n".join(parts) + f"\r\n--{boundary}--\r\n").encode()
    return "".join(part + "\r\n" for part in parts).encode() + f"--{boundary}--\r\n".encode()


# Node's form-data package: 26 dashes and 24 digits (so the delimiter line starts with 28).
NODE_BOUNDARY = "--------------------------" + "408163264128256512102420"
GO_BOUNDARY = "3f2b8c1d0e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"


def _encoded(encoding: str, fields: dict[str, object]) -> dict[str, Any]:
    """httpx keyword arguments sending ``fields`` in one of the encodings the SDKs use."""
    if encoding == "query":
        return {"params": fields}
    if encoding == "form":
        return {"data": fields}
    if encoding == "json":
        return {"json": fields}
    if encoding == "multipart-httpx":  # a real client's multipart: (None, value) is no file
        return {"files": {name: (None, str(value)) for name, value in fields.items()}}
    boundary = NODE_BOUNDARY if encoding == "multipart-node" else GO_BOUNDARY
    return {"content": multipart(fields, boundary, go_style=encoding == "multipart-go"),
            "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


ENCODINGS = ["query", "form", "json", "multipart-httpx", "multipart-node", "multipart-go"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_count_and_offset_arrive_in_every_encoding(server, client, encoding) -> None:
    everything = all_vox_invoices(client, server, VOX_MAIN)
    request = _encoded(encoding, {"count": 5, "offset": 10})
    headers = {"Authorization": f"Bearer {make_token()}", **request.pop("headers", {})}
    response = client.post(f"{server.voximplant_base_url}/GetAccountInvoices",
                           headers=headers, **request)
    data = body(response)
    assert data["count"] == 5 and data["total_count"] == 28
    assert data["result"] == everything[10:15]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_download_invoice_id_arrives_in_every_encoding(server, client, encoding) -> None:
    invoice = body(vox(client, server))["result"][2]
    request = _encoded(encoding, {"invoice_id": int(invoice["invoice_id"])})
    headers = {"Authorization": f"Bearer {make_token()}", **request.pop("headers", {})}
    response = client.post(f"{server.voximplant_base_url}/DownloadInvoice",
                           headers=headers, **request)
    assert response.headers["content-type"] == "application/octet-stream"
    assert invoice["invoice_number"].encode() in response.content


def test_a_request_as_the_node_sdk_sends_it(server, client) -> None:
    # One URL for every command, the command in a multipart field "cmd", a numeric iss.
    fields = {"cmd": "GetAccountInvoices", "count": 3, "offset": 1}
    response = client.post(
        f"{server.url}/platform_api", content=multipart(fields, NODE_BOUNDARY),
        headers={"Authorization": f"Bearer {make_token(iss=VOX_MAIN.account_id)}",
                 "Content-Type": f"multipart/form-data; boundary={NODE_BOUNDARY}"})
    data = body(response)
    assert data["count"] == 3
    assert data["result"] == all_vox_invoices(client, server, VOX_MAIN)[1:4]
    missing = body(client.post(f"{server.url}/platform_api",
                               headers={"Authorization": f"Bearer {make_token()}"}))
    assert missing["error"]["code"] == 103


@pytest.mark.parametrize(("content_type", "content"), [
    ("multipart/form-data", b"--x\r\n\r\n5\r\n--x--\r\n"),  # no boundary
    (f"multipart/form-data; boundary={NODE_BOUNDARY}", b"count=5"),  # no parts at all
    ("application/json", b"{count: 5"),
])
def test_a_body_that_does_not_parse_is_101(server, client, content_type, content) -> None:
    response = client.post(f"{server.voximplant_base_url}/GetAccountInvoices", content=content,
                           headers={"Authorization": f"Bearer {make_token()}",
                                    "Content-Type": content_type})
    assert response.status_code == 200
    assert body(response)["error"]["code"] == 101


def test_multipart_values_keep_their_text(server, client) -> None:
    # A value with a CRLF inside and a non-ASCII one: only the delimiter's CRLF is cut.
    fields = {"count": "ten\r\nlines", "offset": "0"}
    response = client.post(
        f"{server.voximplant_base_url}/GetAccountInvoices",
        content=multipart(fields, NODE_BOUNDARY),
        headers={"Authorization": f"Bearer {make_token()}",
                 "Content-Type": f'multipart/form-data; boundary="{NODE_BOUNDARY}"'})
    error = body(response)["error"]
    assert error["code"] == 101 and "'ten\\r\\nlines'" in error["msg"]


def test_default_page_is_20(server, client) -> None:
    data = body(vox(client, server))
    assert data["count"] == len(data["result"]) == 20


@pytest.mark.demo_server(invoice_count=300)
def test_count_is_capped_and_the_cap_is_a_runtime_knob(server, client) -> None:
    assert body(vox(client, server, data={"count": 100}))["count"] == 50
    server.count_cap = 7
    assert body(vox(client, server, data={"count": 100}))["count"] == 7
    server.count_cap = None
    assert body(vox(client, server, data={"count": 120}))["count"] == 120


def test_paging_walks_every_invoice_once(server, client) -> None:
    everything = all_vox_invoices(client, server, VOX_MAIN)
    assert len(everything) == 28
    assert len({i["invoice_id"] for i in everything}) == 28
    dates = [i["invoice_date"] for i in everything]
    assert dates == sorted(dates, reverse=True)
    past_end = body(vox(client, server, data={"count": 10, "offset": 28}))
    assert past_end["result"] == [] and past_end["total_count"] == 28


@pytest.mark.parametrize("count", ["ten", "-1"])
def test_invalid_count_is_101(server, client, count) -> None:
    assert body(vox(client, server, data={"count": count}))["error"]["code"] == 101


@pytest.mark.demo_server(invoice_count=100_000)
def test_hundred_thousand_invoices_page_lazily(server, client) -> None:
    first = body(vox(client, server, data={"count": 50}))
    last = body(vox(client, server, data={"count": 50, "offset": 99_990}))
    middle = body(vox(client, server, params={"count": 50, "offset": 51_234}))
    # The knob sizes every Voximplant account, each with its own invoices.
    eu = body(vox(client, server, data={"count": 50, "offset": 99_990}, account=VOX_EU))
    assert first["total_count"] == last["total_count"] == 100_000
    assert first["count"] == 50 and last["count"] == 10 and middle["count"] == 50
    ids = {i["invoice_id"] for page in (first, last, middle) for i in page["result"]}
    assert len(ids) == 110
    oldest = dt.date.fromisoformat(last["result"][-1]["invoice_date"])
    assert TODAY - dt.timedelta(days=4 * 366) < oldest < TODAY
    assert last["result"][-1]["invoice_number"].endswith("000001")
    assert eu["total_count"] == 100_000 and eu["count"] == 10
    assert {i["amount"]["currency"] for i in eu["result"]} == {"EUR"}
    assert not ids & {i["invoice_id"] for i in eu["result"]}


@pytest.mark.parametrize("count", [0, 1, 37])
def test_invoice_count_applies_to_each_voximplant_account(client, count) -> None:
    with DemoServer(today=TODAY, invoice_count=count) as server:
        for account in (VOX_MAIN, VOX_EU):
            invoices = all_vox_invoices(client, server, account)
            assert len(invoices) == count
            assert body(vox(client, server, account=account))["total_count"] == count
        # The Unleash instances are not Voximplant accounts: unchanged.
        served = body(unleash(client, server, ACME))["invoices"]
        assert len(served) == len(unleash_invoices(ACME, TODAY, server.url)["invoices"])


# --- other Voximplant commands --------------------------------------------------------------

@pytest.mark.demo_server(invoice_count=45, count_cap=10)
async def test_our_client_works_end_to_end_on_every_account(server, tmp_path) -> None:
    config = demo_config(server, tmp_path)
    names = [VOX_MAIN.name, VOX_EU.name]
    outcomes = await sync_all(config, names)
    for name in names:
        outcome = outcomes[name]
        assert isinstance(outcome, SyncSucceeded), outcome
        info = voximplant_account_info(demo_account(name))
        assert len({i.id for i in outcome.invoices}) == 45
        assert (outcome.summary.balance, outcome.summary.balance_currency) == (
            info["balance"], info["currency"])
    # The PDF arrives as the exact bytes served (octet-stream, never decoded).
    account = config.account(VOX_MAIN.name)
    provider = provider_class("voximplant").from_options(account.name, account.options)
    invoice = outcomes[VOX_MAIN.name].invoices[4]
    async with httpx.AsyncClient() as http:
        pdf = await provider.download_pdf(http, FetchOptions(), invoice)
        raw = await http.post(
            f"{server.voximplant_base_url}/DownloadInvoice", data={"invoice_id": invoice.id},
            headers={"Authorization": f"Bearer {make_token()}"})
    assert raw.headers["content-type"] == "application/octet-stream"
    assert pdf == raw.content and pdf.startswith(b"%PDF-")


def test_account_info_and_pdf_download(server, client) -> None:
    info = body(vox(client, server, "GetAccountInfo"))["result"]
    assert info["account_id"] == VOX_MAIN.account_id and info["currency"] == "USD"
    invoice = body(vox(client, server))["result"][3]
    pdf = vox(client, server, "DownloadInvoice", data={"invoice_id": invoice["invoice_id"]})
    assert pdf.status_code == 200
    # The real API answers the raw file bytes, untyped.
    assert pdf.headers["content-type"] == "application/octet-stream"
    assert int(pdf.headers["content-length"]) == len(pdf.content)
    assert pdf.content.startswith(b"%PDF-1.4") and pdf.content.rstrip().endswith(b"%%EOF")
    assert invoice["invoice_number"].encode() in pdf.content
    missing = vox(client, server, "DownloadInvoice", data={"invoice_id": 1})
    assert body(missing)["error"]["code"] == 101


def test_other_accounts_invoice_cannot_be_downloaded(server, client) -> None:
    invoice = body(vox(client, server, account=VOX_EU))["result"][0]
    response = vox(client, server, "DownloadInvoice", data={"invoice_id": invoice["invoice_id"]})
    assert body(response)["error"]["code"] == 101


# --- Unleash --------------------------------------------------------------------------------

def test_unleash_instances_live_under_their_prefix(server, client) -> None:
    for account in (ACME, CONTOSO):
        response = unleash(client, server, account)
        assert response.status_code == 200
        data = body(response)
        assert data["planCurrency"] == account.currency
        assert data["planPrice"] == account.plan_price
        assert {i["currency"] for i in data["invoices"]} == {account.currency}
    assert server.unleash_base_url("unleash-contoso").endswith("/eu/contoso")


def test_unleash_trailing_slash_and_bearer(server, client) -> None:
    plain = unleash(client, server).content
    assert unleash(client, server, suffix=LIST_PATH + "/").content == plain
    assert unleash(client, server, token=f"Bearer {ACME.token}").content == plain
    # Naive joining of a base URL that ends in "/" is a different path.
    assert unleash(client, server, suffix="/" + LIST_PATH).status_code == 404


def _assert_unleash_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    error = body(response)
    assert set(error) == {"id", "name", "message", "details"}
    assert error["details"][0]["message"]


def test_unleash_auth_errors(server, client) -> None:
    _assert_unleash_error(unleash(client, server, token=""), 401)
    _assert_unleash_error(unleash(client, server, token="user:wrong"), 401)
    _assert_unleash_error(unleash(client, server, token=CONTOSO.token), 401)
    _assert_unleash_error(unleash(client, server, token=ACME.client_token), 403)
    _assert_unleash_error(unleash(client, server, token="default:development.abc123"), 403)


def test_unleash_not_found(server, client) -> None:
    _assert_unleash_error(client.get(f"{server.url}/nope{LIST_PATH}",
                                     headers={"Authorization": ACME.token}), 404)
    oss = client.get(server.unleash_base_url(UNLICENSED_INSTANCE.name) + LIST_PATH,
                     headers={"Authorization": UNLICENSED_INSTANCE.token})
    _assert_unleash_error(oss, 404)
    _assert_unleash_error(unleash(client, server, suffix="/api/admin/features"), 404)


def test_unleash_invoice_links_are_served_locally(server, client) -> None:
    invoices = body(unleash(client, server))["invoices"]
    linked = [i for i in invoices if "invoiceURL" in i]
    assert linked and all(i["status"] not in ("estimate", "upcoming") for i in linked)
    page = client.get(linked[0]["invoiceURL"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert linked[0]["monthText"] in page.text
    pdf = client.get(linked[0]["invoicePDF"])
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-1.4")
    assert client.get(f"{server.url}/invoices/in_nothing_190001").status_code == 404


# --- faults ---------------------------------------------------------------------------------

def test_http_status_fault_with_retry_after_is_used_up(server, client) -> None:
    server.add_fault(Fault("http_status", status=429, retry_after=2, times=2))
    for _ in range(2):
        response = vox(client, server)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "2"
    assert vox(client, server).status_code == 200
    assert server.pending_faults() == []


def test_http_status_fault_on_unleash_keeps_unleash_error_shape(server, client) -> None:
    server.add_fault(Fault("http_status", account="unleash-acme", status=503))
    _assert_unleash_error(unleash(client, server), 503)
    assert unleash(client, server).status_code == 200


def test_vox_error_fault_only_hits_voximplant(server, client) -> None:
    server.add_fault(Fault("vox_error", code=162))
    assert unleash(client, server).status_code == 200
    response = vox(client, server)
    assert response.status_code == 200 and body(response)["error"]["code"] == 162
    assert "result" in body(vox(client, server))


def test_vox_error_416_names_the_delay(server, client) -> None:
    server.add_fault(parse_fault("vox_error:416:retry_after=3"))
    error = body(vox(client, server))["error"]
    assert error["code"] == 416 and "after 3 seconds" in error["msg"]


def test_html_fault(server, client) -> None:
    server.add_fault(Fault("html"))
    response = vox(client, server)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().startswith("<!DOCTYPE html>")


def test_malformed_json_fault(server, client) -> None:
    server.add_fault(Fault("malformed_json", account="unleash-contoso"))
    assert unleash(client, server, ACME).status_code == 200
    response = unleash(client, server, CONTOSO)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    body(unleash(client, server, CONTOSO))


def test_drop_fault_closes_without_answer(server, client) -> None:
    server.add_fault(Fault("drop", account="vox-main"))
    with pytest.raises(httpx.RemoteProtocolError):
        vox(client, server)
    assert vox(client, server).status_code == 200


def test_slow_fault_holds_the_answer(server) -> None:
    server.add_fault(Fault("slow", seconds=5))
    with httpx.Client(timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        vox(impatient, server)
    assert server.pending_faults() == []


def test_fault_scope_and_forever(server, client) -> None:
    server.add_fault(Fault("http_status", account="vox-eu", status=502, times=-1))
    assert vox(client, server, account=VOX_MAIN).status_code == 200
    for _ in range(3):
        assert vox(client, server, account=VOX_EU).status_code == 502
    server.clear_faults()
    assert vox(client, server, account=VOX_EU).status_code == 200


def test_parse_fault() -> None:
    assert parse_fault("http_status:429:retry_after=1:times=2") == Fault(
        "http_status", status=429, retry_after=1.0, times=2)
    assert parse_fault("vox_error:162") == Fault("vox_error", code=162)
    assert parse_fault("malformed_json:account=vox-main") == Fault(
        "malformed_json", account="vox-main")
    assert parse_fault("slow:2.5:times=-1") == Fault("slow", seconds=2.5, times=-1)
    assert parse_fault("drop") == Fault("drop")


@pytest.mark.parametrize(("spec", "message"), [
    ("explode", "unknown kind"),
    ("vox_error", "needs a code"),
    ("http_status:abc", "must be a number"),
    ("http_status:429:colour=red", "unknown setting"),
    ("html:times=0", "times"),
    ("http_status:42", "HTTP status"),
    ("drop:5", "name=value"),
])
def test_parse_fault_rejects_bad_specs(spec, message) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_fault(spec)
    assert "\n" not in str(raised.value) and spec in str(raised.value)


# --- data -----------------------------------------------------------------------------------

def _two_places(value: Decimal) -> bool:
    return value.as_tuple().exponent == -2


def test_voximplant_amounts_add_up_exactly(server, client) -> None:
    for account in (VOX_MAIN, VOX_EU):
        invoices = all_vox_invoices(client, server, account)
        assert len(invoices) >= 26
        for invoice in invoices:
            amount, rows = invoice["amount"], invoice["rows"]
            for key in ("tax_amount", "total_amount", "amount_to_pay", "discount_amount"):
                assert _two_places(amount[key])
                assert amount[key] == sum(row["amount"][key] for row in rows)
            assert amount["amount_to_pay"] == amount["total_amount"] - amount["discount_amount"]
            for row in rows:
                taxes = sum((t["amount"] for t in row["taxes"]), Decimal(0))
                assert row["amount"]["tax_amount"] == taxes
                assert all(_two_places(t["amount"]) for t in row["taxes"])


def test_unleash_amounts_add_up_exactly(server, client) -> None:
    for account in (ACME, CONTOSO):
        for invoice in body(unleash(client, server, account))["invoices"]:
            lines = invoice["mainLines"] + invoice["usageLines"]
            if invoice["status"] == "estimate":
                # As Unleash sends the running month: zero figures, left to the client to
                # recompute; the second instance's has a usage line without an amount.
                figures = (invoice["subtotal"], invoice["taxAmount"], invoice["totalAmount"])
                assert figures == (0, 0, 0)
                missing = [line for line in lines if "totalAmount" not in line]
                assert len(missing) == (account == CONTOSO)
                continue
            assert invoice["subtotal"] == sum(line["totalAmount"] for line in lines)
            assert invoice["totalAmount"] == invoice["subtotal"] + invoice["taxAmount"]
            assert all(_two_places(x) for x in (invoice["subtotal"], invoice["taxAmount"]))
            for line in lines:
                assert line["totalAmount"] == line["quantity"] * line["unitPrice"]


def test_data_covers_every_status_and_two_years(server, client) -> None:
    main = all_vox_invoices(client, server, VOX_MAIN)
    assert {i["status"] for i in main} == {"new", "taxed", "accepted", "committed",
                                           "cancelled", "numbered"}
    assert any(i["amount"]["discount_amount"] > 0 for i in main)
    acme = body(unleash(client, server, ACME))["invoices"]
    assert {i["status"] for i in acme} == {"estimate", "upcoming", "invoiced", "paid", "past-due"}
    estimate = next(i for i in acme if i["status"] == "estimate")
    assert estimate["monthText"] == "November 2026"
    months = {i["monthText"] for i in acme}
    assert len(months) == len(acme) >= 26
    usage = [line for i in acme for line in i["usageLines"]]
    assert any(line["consumption"] > line["limit"] for line in usage)
    assert any(line["consumption"] <= line["limit"] for line in usage)


def test_non_ascii_and_untrusted_text_survive(server, client) -> None:
    main_rows = [r["service_name"] for i in all_vox_invoices(client, server, VOX_MAIN)
                 for r in i["rows"]]
    eu_rows = [r["service_name"] for i in all_vox_invoices(client, server, VOX_EU)
               for r in i["rows"]]
    assert any("通話" in name for name in main_rows)
    assert "Téléphonie — München" in eu_rows and any("Звонки" in n for n in eu_rows)
    assert main_rows.count(UNTRUSTED_TEXT) == 1 and UNTRUSTED_TEXT not in eu_rows
    assert "\x1b]52;c;ZXZpbA==\x07" in UNTRUSTED_TEXT and "[bold red]x[/]" in UNTRUSTED_TEXT
    acme_lines = [line["description"] for i in body(unleash(client, server, ACME))["invoices"]
                  for line in i["usageLines"]]
    assert acme_lines.count(UNTRUSTED_TEXT) == 1
    contoso = body(unleash(client, server, CONTOSO))["invoices"]
    assert any("Zürich" in line["description"] for i in contoso for line in i["usageLines"])


def test_data_is_deterministic_across_servers(client) -> None:
    pages = []
    for _ in range(2):
        with DemoServer(today=TODAY) as server:
            vox_pages = [vox(client, server, data={"count": 50}, account=a).content
                         for a in (VOX_MAIN, VOX_EU)]
            unleash_pages = [unleash(client, server, a).content.replace(
                server.url.encode(), b"URL") for a in (ACME, CONTOSO)]
            pages.append((vox_pages, unleash_pages))
    assert pages[0] == pages[1]


def test_served_invoices_equal_the_data_modules_dicts(server, client) -> None:
    # Other tests build expectations from VoximplantInvoices.invoice(); it must be what is served.
    response = vox(client, server, data={"count": 5, "offset": 0})
    served = json.loads(response.content, parse_float=Decimal)["result"]
    assert served == VoximplantInvoices(VOX_MAIN, TODAY).page(0, 5)


@pytest.mark.demo_server(today=dt.date(2025, 3, 2))
def test_today_moves_the_data(server, client) -> None:
    newest = body(vox(client, server))["result"][0]
    assert newest["invoice_date"] == "2025-03-01"
    assert newest["period"] == {"from": "2025-02-01", "to": "2025-02-28"}


# --- server plumbing ------------------------------------------------------------------------

def test_concurrent_keep_alive_requests(server) -> None:
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    with httpx.Client(timeout=10, limits=limits) as shared:
        def fetch(offset: int) -> Any:
            return body(vox(shared, server, data={"count": 1, "offset": offset}))["result"][0]

        with ThreadPoolExecutor(max_workers=8) as pool:
            invoices = list(pool.map(fetch, range(28)))
    assert len({i["invoice_id"] for i in invoices}) == 28
    assert len(server.request_log) == 28
    assert {entry for entry in server.request_log} == {
        ("POST", "/platform_api/GetAccountInvoices", "vox-main")}


def test_responses_are_http11_with_exact_content_length(server, client) -> None:
    response = unleash(client, server)
    assert response.http_version == "HTTP/1.1"
    assert int(response.headers["content-length"]) == len(response.content)


def test_chunked_body_is_refused_and_the_connection_stays_usable(server, client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"count=1"

    url = f"{server.voximplant_base_url}/GetAccountInvoices"
    assert client.post(url, content=chunks()).status_code == 411
    assert "result" in body(vox(client, server))


def test_latency_knob_is_applied_per_request(server, client) -> None:
    # A latency longer than the client's timeout must make the request time out.
    server.latency_ms = 5000
    with httpx.Client(timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        unleash(impatient, server)
    server.latency_ms = 0
    assert unleash(client, server).status_code == 200


def test_stop_closes_the_port() -> None:
    server = DemoServer(today=TODAY).start()
    url = server.url
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.url
    with httpx.Client(timeout=2) as fresh, pytest.raises(httpx.ConnectError):
        fresh.get(url)


# --- config and environments ----------------------------------------------------------------

def test_demo_config_writes_private_credentials_that_work(server, client, tmp_path) -> None:
    config = demo_config(server, tmp_path)
    assert config.path is None
    assert [a.name for a in config.accounts] == [a.name for a in DEMO_ACCOUNTS]
    for account in config.accounts:
        options = account.options
        assert options["provider"] == account.provider == demo_account(account.name).provider
        if account.provider == "unleash":
            assert options["base_url"] == server.unleash_base_url(account.name)
            assert options["token"] == demo_account(account.name).token
            continue
        assert options["base_url"] == server.voximplant_base_url
        path = Path(options["credentials"])
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        creds = json.loads(path.read_text())
        creds = creds.get("result", creds)  # the EUR account uses the older wrapped form
        token = jwt.encode({"iss": str(creds["account_id"]), "iat": int(time.time()) - 5,
                            "exp": int(time.time()) + 30}, creds["private_key"],
                           algorithm="RS256", headers={"kid": creds["key_id"]})
        response = client.post(f"{options['base_url']}/GetAccountInvoices",
                               headers={"Authorization": f"Bearer {token}"})
        assert body(response)["total_count"] == demo_account(account.name).invoices
    assert "result" in json.loads(
        Path(config.accounts[1].options["credentials"]).read_text())


def test_demo_environment_is_temporary(client) -> None:
    fault = Fault("http_status", status=500)
    with demo_environment(today=TODAY, faults=[fault], count_cap=10) as env:
        credentials = Path(env.config.accounts[0].options["credentials"])
        assert credentials.exists() and env.cache_dir.is_dir()
        assert env.server.pending_faults() == [(fault, 1)]
        assert body(vox(client, env.server, data={"count": 50}))  # the fault
        assert body(vox(client, env.server, data={"count": 50}))["count"] == 10
        url = env.server.url
    assert not credentials.exists() and not env.cache_dir.exists()
    with httpx.Client(timeout=2) as fresh, pytest.raises(httpx.ConnectError):
        fresh.get(url)


def test_run_demo_server_writes_a_usable_config(tmp_path, client) -> None:
    stop = threading.Event()
    out_path = tmp_path / "out.txt"
    config_path = tmp_path / "conf" / "demo.toml"
    with out_path.open("w") as out:
        runner = threading.Thread(target=run_demo_server, kwargs={
            "host": "127.0.0.1", "port": 0, "latency_ms": 0, "invoice_count": 40,
            "count_cap": 50, "faults": ["vox_error:340"], "write_config": config_path,
            "out": out, "stop": stop})
        runner.start()
        try:
            for _ in range(500):  # wait for the config file (written after listening)
                if config_path.exists():
                    break
                threading.Event().wait(0.01)
            table = tomllib.loads(config_path.read_text())
            assert stat.S_IMODE(os.stat(config_path).st_mode) == 0o600
            loaded = load_config(config_path)  # the app accepts what demo-server wrote
            assert [a.name for a in loaded.accounts] == [a.name for a in DEMO_ACCOUNTS]
            accounts = {a["name"]: a for a in table["accounts"]}
            assert set(accounts) == {a.name for a in DEMO_ACCOUNTS}
            vox_main = accounts["vox-main"]
            assert Path(vox_main["credentials"]).parent == config_path.parent
            base = vox_main["base_url"]
            token = make_token()
            first = client.post(f"{base}/GetAccountInvoices",
                                headers={"Authorization": f"Bearer {token}"})
            assert body(first)["error"]["code"] == 340
            second = client.post(f"{base}/GetAccountInvoices",
                                 headers={"Authorization": f"Bearer {token}"})
            assert body(second)["total_count"] == 40
            eu = client.post(f"{accounts['vox-eu']['base_url']}/GetAccountInvoices",
                             headers={"Authorization": f"Bearer {make_token(VOX_EU)}"})
            assert body(eu)["total_count"] == 40  # --invoice-count is per account
        finally:
            stop.set()
            runner.join()
    printed = out_path.read_text()
    assert base.removesuffix("/platform_api") in printed
    assert "    vox-main: 40 invoices\n    vox-eu: 40 invoices\n" in printed
    assert "GetAccountInvoices" in printed and token not in printed


def test_run_demo_server_rejects_a_bad_fault(capsys) -> None:
    assert run_demo_server(faults=["nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err

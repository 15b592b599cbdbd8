"""The fault matrix: every hostile server, file and terminal input of issue 6, over real HTTP.

Each section is one row of the matrix (what an attacker or a broken proxy does →
what the app must do). The servers are ``tests/hostile.py`` on loopback; nothing
here is mocked below the socket.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from hostile import (
    HostileServer,
    Responder,
    by_endpoint,
    drip,
    dynamic,
    endless_chunked,
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

from invoice_tui import cli
from invoice_tui.cache import InvoiceCache
from invoice_tui.config import MB, AccountConfig, Settings, save_config
from invoice_tui.model import Invoice
from invoice_tui.providers.base import FetchOptions, ProviderError
from invoice_tui.providers.unleash import parse_invoice as unleash_parse
from invoice_tui.providers.voximplant import parse_invoice as vox_parse
from invoice_tui.sync import SyncFailed, SyncSucceeded, make_client, sync_account

# --- 1. escape sequences in the currency field ---------------------------------------


# --- 2. server text in toasts, reasons, hints and stderr -----------------------------


# --- 3. one sanitizer: escapes, bidi, zero-width ------------------------------------


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
                      cache: InvoiceCache | None = None) -> ProviderError:
    outcome = await sync_account(account, settings, cache=cache)
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


# --- 7. 3xx replies are errors; a failed fetch keeps the cache ------------------------

REDIRECT_HINTS = {"unleash": "check base_url (use the instance URL the browser ends on)",
                  "voximplant": "check base_url (default https://api.voximplant.com/platform_api)"}
LOGIN = "https://login.example.com/sso/start?session=s3cr3t-session#frag"


@pytest.mark.parametrize("kind", SERVICES)
async def test_row7_a_redirect_never_replaces_the_cache(hostile: HostileServer, tmp_path: Path,
                                                        kind: str) -> None:
    account = _account(kind, hostile, tmp_path)
    cache = InvoiceCache(tmp_path / "cache")
    hostile.respond = _good_answer(kind)
    good = await sync_account(account, TINY, cache=cache)
    assert isinstance(good, SyncSucceeded) and len(good.invoices) == 3

    empty = {"invoices": []} if kind == "unleash" else {"result": [], "total_count": 0}
    hostile.respond = json_reply(empty, status=302, headers={"Location": LOGIN})
    error = await _sync_error(account, TINY, cache)
    assert (error.reason, error.hint) == (
        f"{SERVICES[kind]} redirected to login.example.com (HTTP 302)", REDIRECT_HINTS[kind])
    assert "sso" not in str(error) and "s3cr3t" not in str(error)  # host only, never the path
    cached = cache.load(account)
    assert cached is not None and len(cached.invoices) == 3


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


# --- 9. secrets in the crash screen ------------------------------------------------------


# --- 10. secrets readable by others --------------------------------------------------


# --- 11. stale temp files of killed saves -------------------------------------------------


# --- 12. export --output onto special files ------------------------------------------


# --- 13. config reading limits, unknown account keys, BOM ------------------------------


# --- 14. PDF save: planted symlinks, races, never the cwd ---------------------------------


# --- 15. redaction of any form of a secret; weak keys ---------------------------------

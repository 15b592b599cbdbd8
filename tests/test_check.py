"""``invoice-tui check`` and ``check_account``: one first-page request per account, over real
HTTP to the emulator (and to the hostile server for what a server must not get on screen)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
from pathlib import Path

import pytest
from hostile import (
    HOSTILE_TOKEN,
    HostileServer,
    json_reply,
    unleash_account,
    vox_invoice,
    voximplant_account,
)

from invoice_tui import cli
from invoice_tui.check import CheckResult, check_account, check_all
from invoice_tui.config import AccountConfig, Config, Settings, config_path
from invoice_tui.demo import DEMO_ACCOUNTS, UNTRUSTED_TEXT, DemoServer, Fault, write_demo_config
from invoice_tui.demo.keys import private_key_pem
from invoice_tui.sync import SyncFailed, SyncSucceeded, sync_account

# A first page shorter than every demo list: a count above it proves it came from the
# provider's total, not from reading further pages.
PAGE = 5
pytestmark = pytest.mark.demo_server(count_cap=PAGE)

SECRETS = ["eyJ", "PRIVATE KEY", HOSTILE_TOKEN,
           *(a.token for a in DEMO_ACCOUNTS if a.token),
           *(line for a in DEMO_ACCOUNTS if a.provider == "voximplant"
             for line in private_key_pem(a.name).splitlines()[1:3])]
JSON_KEYS = {"name", "provider", "ok", "invoices", "counted", "first_page", "reason", "hint"}


def _no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
        assert "Traceback" not in text


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["check", *argv])
    out, err = capsys.readouterr()
    _no_secrets(out, err)
    return code, out, err


def _check(account: AccountConfig, settings: Settings | None = None) -> CheckResult:
    result = asyncio.run(check_account(account, settings or Settings()))
    _no_secrets(result.line(), json.dumps(result.to_json()))
    return result


def _replaced(account: AccountConfig, **options: object) -> AccountConfig:
    return dataclasses.replace(account, options={**account.options, **options})


def _dead_port() -> int:
    # A port that was just free: nothing listens there, so connecting is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def configured(server: DemoServer) -> Config:
    """The user's config (``$INVOICE_TUI_CONFIG``, a temp path) points at the emulator."""
    return write_demo_config(server, config_path())


# --- check_account -----------------------------------------------------------------------

def test_voximplant_passes_with_its_total_from_the_first_page_alone(
        server: DemoServer, demo: Config) -> None:
    result = _check(demo.account("vox-main"))
    total = server.voximplant_invoice_count("vox-main")
    assert total > PAGE
    assert result == CheckResult("vox-main", "voximplant", True, total,
                                 counted="provider_total", first_page=PAGE)
    assert result.line() == f"✓ vox-main  {total} invoices reachable"
    # One request, for the first page: no paging on, no GetAccountInfo.
    assert [(path, who) for _, path, who in server.request_log] == [
        ("/platform_api/GetAccountInvoices", "vox-main")]


def test_unleash_passes_with_the_length_of_its_one_answer(
        server: DemoServer, demo: Config) -> None:
    result = _check(demo.account("unleash-acme"))
    assert result.ok and result.counted == "whole_list"
    assert result.invoices is not None and result.invoices > PAGE
    assert result.invoices == result.first_page
    # Unleash gives no total: the line says the figure was counted, in a list sent whole.
    assert result.line() == f"✓ unleash-acme  {result.invoices} invoices reachable"
    assert [who for _, _, who in server.request_log] == ["unleash-acme"]


def test_the_count_is_what_a_full_sync_reads(demo: Config) -> None:
    # One meaning for the figure, whatever the provider: the invoices a sync would read.
    results = asyncio.run(check_all(demo))
    assert [r.name for r in results] == demo.account_names
    for result in results:
        outcome = asyncio.run(sync_account(demo.account(result.name), demo.settings))
        assert isinstance(outcome, SyncSucceeded)
        assert result.ok and result.invoices == len(outcome.invoices), result


def test_a_list_without_a_total_gives_no_count_and_says_so(
        hostile: HostileServer, tmp_path: Path) -> None:
    invoices = [vox_invoice(n) for n in (1, 2, 3)]
    hostile.respond = json_reply({"result": invoices, "count": 3})
    result = _check(voximplant_account(hostile, tmp_path))
    assert (result.ok, result.invoices, result.counted, result.first_page) == (True, None, None, 3)
    assert result.line() == ("✓ vox-hostile  reachable (3 invoices on the first page; "
                             "the server gave no total)")


def test_an_absurd_total_fails_as_a_sync_would(hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = json_reply({"result": [vox_invoice(1)], "total_count": 10**20, "count": 1})
    account = voximplant_account(hostile, tmp_path)
    result = _check(account)
    outcome = asyncio.run(sync_account(account, Settings()))
    assert isinstance(outcome, SyncFailed) and not result.ok
    assert result.summary() == str(outcome.error)
    assert result.reason.startswith("Voximplant reported more than")


def test_a_wrong_unleash_token_fails_with_the_words_a_failed_sync_shows(
        demo: Config) -> None:
    account = _replaced(demo.account("unleash-acme"), token="user:not-the-right-one-123456")
    result = _check(account)
    outcome = asyncio.run(sync_account(account, demo.settings))
    assert isinstance(outcome, SyncFailed)
    assert (result.reason, result.hint) == (outcome.error.reason, outcome.error.hint)
    assert not result.ok and result.invoices is None and result.first_page is None
    assert "HTTP 401" in result.reason and result.hint
    assert result.line() == f"✗ unleash-acme  {result.reason} — {result.hint}"
    assert "not-the-right-one" not in result.line()


def test_a_dead_port_fails_as_one_line(demo: Config) -> None:
    account = _replaced(demo.account("vox-main"),
                        base_url=f"http://127.0.0.1:{_dead_port()}/platform_api")
    result = _check(account)
    assert not result.ok
    assert result.reason.startswith("could not connect to Voximplant (127.0.0.1")
    assert "\n" not in result.line() and " — check base_url" in result.line()


def test_an_account_that_cannot_be_built_fails_alone(demo: Config) -> None:
    account = AccountConfig("unleash-env", "unleash", {
        "name": "unleash-env", "provider": "unleash",
        "base_url": demo.account("unleash-acme").options["base_url"],
        "token_env": "CHECK_TEST_UNSET_TOKEN"})
    result = _check(account)
    assert not result.ok
    assert result.reason == "environment variable CHECK_TEST_UNSET_TOKEN is not set"


def test_a_slow_server_fails_within_the_configured_deadline(
        server: DemoServer, demo: Config) -> None:
    server.add_fault(Fault("slow", account="vox-main", seconds=5, times=-1))
    result = _check(demo.account("vox-main"), Settings(timeout=1.0))
    assert not result.ok
    assert "1 s" in result.reason, result.reason  # the deadline error names the setting


def test_hostile_server_text_is_sanitized_and_the_token_redacted(
        hostile: HostileServer) -> None:
    message = f"{UNTRUSTED_TEXT}\nsecond line, and the token: {HOSTILE_TOKEN}"
    hostile.respond = json_reply({"name": "InvalidTokenError", "message": message}, status=401)
    result = _check(unleash_account(hostile))
    line = result.line()
    assert not result.ok and "HTTP 401" in line
    assert "\x1b" not in line and "\x07" not in line and "\n" not in line
    assert "Untrusted text test" in line  # shown, literally, not dropped
    assert "hostile-secret" not in line and "***" in line


def test_hostile_voximplant_error_text_is_one_safe_line(
        hostile: HostileServer, tmp_path: Path) -> None:
    hostile.respond = json_reply({"error": {"msg": UNTRUSTED_TEXT + "\r\nmore", "code": 104}})
    result = _check(voximplant_account(hostile, tmp_path))
    assert not result.ok and "104" in result.reason
    assert all(ch.isprintable() for ch in result.line())


# --- the command ---------------------------------------------------------------------------

def test_all_passing_exits_0_one_aligned_line_each(
        configured: Config, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines] == [["✓", a.name] for a in DEMO_ACCOUNTS]
    width = max(len(a.name) for a in DEMO_ACCOUNTS)
    assert {line.index("  ", 2 + width) for line in lines} == {2 + width}


def test_some_failing_exits_1_and_the_rest_still_pass(
        configured: Config, server: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.add_fault(Fault("vox_error", account="vox-eu", code=104, times=-1))
    code, out, err = _run(capsys)
    assert (code, err) == (1, "")
    marks = {line.split()[1]: line.split()[0] for line in out.splitlines()}
    assert marks == {a.name: "✗" if a.name == "vox-eu" else "✓" for a in DEMO_ACCOUNTS}
    (failed,) = [line for line in out.splitlines() if line.startswith("✗")]
    assert "Voximplant error 104" in failed and " — " in failed


def test_json_is_one_object_per_account(
        configured: Config, server: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.add_fault(Fault("http_status", account="unleash-acme", status=404, times=-1))
    code, out, _ = _run(capsys, "--json")
    assert code == 1
    data = json.loads(out)
    assert [item["name"] for item in data] == [a.name for a in DEMO_ACCOUNTS]
    by_name = {item["name"]: item for item in data}
    for item in data:
        assert set(item) == JSON_KEYS
    vox = by_name["vox-main"]
    assert vox == {"name": "vox-main", "provider": "voximplant", "ok": True,
                   "invoices": server.voximplant_invoice_count("vox-main"),
                   "counted": "provider_total", "first_page": PAGE, "reason": None,
                   "hint": None}
    failed = by_name["unleash-acme"]
    assert (failed["ok"], failed["invoices"], failed["counted"], failed["first_page"]) == (
        False, None, None, None)
    assert "HTTP 404" in failed["reason"] and isinstance(failed["hint"], str)


def test_account_filter_checks_only_those(
        configured: Config, server: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--account", "unleash-contoso", "--account", "vox-eu",
                        "--account", "vox-eu")
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()] == ["unleash-contoso", "vox-eu"]
    assert {who for _, _, who in server.request_log} == {"unleash-contoso", "vox-eu"}


def test_an_unknown_account_is_a_usage_error_with_did_you_mean(
        configured: Config, server: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--account", "vox-mian")
    assert (code, out) == (2, "")
    assert err.startswith("invoice-tui: unknown account 'vox-mian' (did you mean 'vox-main'?)")
    assert server.request_log == []  # nothing checked


def test_config_problems_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"invoice-tui: no config at {config_path()}")
    config_path().write_text('[[accounts]]\nname = "x"\nprovider = "voximplnt"\n')
    code, out, err = _run(capsys)
    assert (code, out) == (2, "")
    assert "did you mean 'voximplant'?" in err
    code, _, err = _run(capsys, "--bogus")
    assert code == 2 and "unrecognized arguments" in err


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in root.rglob("*")}


def test_nothing_is_written(configured: Config, isolated_home: Path,
                            capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    before = _files(isolated_home)
    config_bytes = config_path().read_bytes()
    assert _run(capsys)[0] == 0
    assert _run(capsys, "--cache-dir", str(cache), "--json")[0] == 0
    assert list(cache.iterdir()) == []
    assert not Path(os.environ["INVOICE_TUI_CACHE_DIR"]).exists()
    assert _files(isolated_home) == before  # no store, no cache, no config change
    assert config_path().read_bytes() == config_bytes


def test_the_demo_is_checked_without_a_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--demo")
    assert code == 0 and len(out.splitlines()) == len(DEMO_ACCOUNTS)
    assert not config_path().exists()

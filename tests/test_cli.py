"""The command line over real HTTP to the emulator: export shape, CSV, filters, exit codes."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tomllib
import types
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from invoice_factory import synthetic_invoices

import invoice_tui
from invoice_tui import cli
from invoice_tui.config import config_path, save_config
from invoice_tui.demo import (
    DEMO_ACCOUNTS,
    UNLICENSED_INSTANCE,
    DemoServer,
    Fault,
    demo_account,
    write_demo_config,
)
from invoice_tui.demo.data import VoximplantInvoices
from invoice_tui.demo.keys import private_key_pem
from invoice_tui.export import CHUNK_INVOICES, dumps_indented, iter_csv, iter_json
from invoice_tui.model import INVOICE_FIELDS, LINE_FIELDS, TAX_FIELDS, Invoice, invoice_to_dict
from invoice_tui.store import SCHEMA_VERSION
from invoice_tui.text import sanitize

TODAY = dt.date(2026, 11, 15)
pytestmark = pytest.mark.demo_server(today=TODAY)
REPO = Path(invoice_tui.__file__).parent.parent


def _secrets() -> list[str]:
    found = ["eyJ", "PRIVATE KEY"]
    for account in (*DEMO_ACCOUNTS, UNLICENSED_INSTANCE):
        found += [t for t in (account.token, account.client_token) if t]
        if account.provider == "voximplant":
            found += private_key_pem(account.name).splitlines()[1:3]  # key material lines
    return found


SECRETS = _secrets()


def _assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
        assert "Traceback" not in text


@pytest.fixture
def configured(server: DemoServer) -> DemoServer:
    """The user's config (``$INVOICE_TUI_CONFIG``, a temp path) points at the emulator."""
    write_demo_config(server, config_path())
    return server


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    _assert_no_secrets(out, err)
    return code, out, err


def _money(value: Decimal) -> str:
    return f"{value:f}"


def _expected_voximplant(raw: dict[str, Any]) -> dict[str, Any]:
    """SPEC §2's mapping of a raw AccountInvoice, written out independently of the provider."""
    amount = raw["amount"]
    return {
        "account": "vox-main", "provider": "voximplant",
        "id": str(raw["invoice_id"]), "number": raw["invoice_number"], "label": None,
        "issued": raw["invoice_date"], "due": None,
        "period_start": raw["period"]["from"], "period_end": raw["period"]["to"],
        "status": raw["status"], "currency": amount["currency"],
        "subtotal": _money(amount["total_amount"] - amount["tax_amount"]),
        "discount": _money(amount["discount_amount"]),
        "tax": _money(amount["tax_amount"]), "total": _money(amount["total_amount"]),
        "amount_due": _money(amount["amount_to_pay"]), "tax_rate": None,
        "url": None, "pdf_url": None, "totals_computed": False, "estimate_incomplete": False,
        "lines": [{
            # Server text is sanitized at parse: escape sequences never reach an export.
            "kind": "service", "description": sanitize(row["service_name"]), "quantity": None,
            "unit_price": None, "amount": _money(row["amount"]["total_amount"]),
            "tax": _money(row["amount"]["tax_amount"]),
            # The row's total includes its tax: gross as sent, net = total − tax.
            "net": _money(row["amount"]["total_amount"] - row["amount"]["tax_amount"]),
            "gross": _money(row["amount"]["total_amount"]),
            "currency": row["amount"]["currency"],
            "period_start": None, "period_end": None, "consumption": None, "limit": None,
            "lookup_key": None,
            "taxes": [{"name": t["name"], "rate": _money(t["rate"]), "amount": _money(t["amount"]),
                       "level": t["level"], "category": t["category"],
                       "taxable": _money(t["taxable_measure"]), "currency": t["currency"]}
                      for t in row["taxes"]],
        } for row in raw["rows"]],
    }


def _export_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    code, out, err = _run(capsys, "export", *argv)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert isinstance(data, list)
    return data


# --- JSON ------------------------------------------------------------------------------

def test_export_json_matches_spec_field_by_field(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _export_json(capsys)
    raw = VoximplantInvoices(demo_account("vox-main"), TODAY).invoice(1)
    (found,) = [i for i in data if i["account"] == "vox-main" and i["id"] == str(raw["invoice_id"])]
    expected = _expected_voximplant(raw)
    assert found == expected
    # Key order exactly as SPEC §2, for invoices, lines and taxes.
    assert list(found) == [*INVOICE_FIELDS, "lines"]
    assert list(found["lines"][0]) == [*LINE_FIELDS, "taxes"]
    assert list(found["lines"][0]["taxes"][0]) == list(TAX_FIELDS)
    # Untrusted text arrives literally (markup is only text), without its escape sequences.
    assert any("[bold red]" in line["description"] and "ZXZpbA" not in line["description"]
               for line in found["lines"])
    for invoice in data:
        assert list(invoice) == [*INVOICE_FIELDS, "lines"]


def test_export_covers_every_account_sorted(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "export")
    data = json.loads(out)
    assert out == json.dumps(data, ensure_ascii=False, indent=2) + "\n"  # the exact format
    assert {i["account"] for i in data} == {a.name for a in DEMO_ACCOUNTS}
    assert {i["currency"] for i in data} == {"USD", "EUR"}
    unleash = [i for i in data if i["provider"] == "unleash"]
    assert unleash and all(i["number"] is None and i["label"] for i in unleash)
    assert {line["kind"] for i in unleash for line in i["lines"]} == {"main", "usage"}
    keys = [(i["issued"] or "", i["account"], i["id"]) for i in data]
    by_account_id = sorted(keys, key=lambda k: (k[1], k[2]))
    assert keys == sorted(by_account_id, key=lambda k: k[0], reverse=True)


def test_export_demo_writes_nothing_of_the_users(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    before = sorted(p.relative_to(isolated_home) for p in isolated_home.rglob("*"))
    data = _export_json(capsys, "--demo", "--format", "json")
    assert {i["account"] for i in data} == {a.name for a in DEMO_ACCOUNTS}
    assert sorted(p.relative_to(isolated_home) for p in isolated_home.rglob("*")) == before
    assert not config_path().exists()


# --- CSV ---------------------------------------------------------------------------------

def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_headers_and_row_counts(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _export_json(capsys)
    code, out, _ = _run(capsys, "export", "--format", "csv")
    rows = _csv(out)
    assert code == 0 and rows[0] == list(INVOICE_FIELDS)
    assert len(rows) - 1 == len(data)
    first = dict(zip(rows[0], rows[1], strict=True))
    flags = {True: "true", False: "false"}  # JSON booleans are CSV true/false
    assert first == {k: "" if v is None else flags[v] if isinstance(v, bool) else v
                     for k, v in data[0].items() if k != "lines"}

    code, out, _ = _run(capsys, "export", "--format", "csv", "--lines")
    rows = _csv(out)
    assert code == 0
    assert rows[0] == [f"invoice_{f}" for f in INVOICE_FIELDS] + list(LINE_FIELDS)
    assert len(rows) - 1 == sum(max(1, len(i["lines"])) for i in data)
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["invoice_id"] == data[0]["id"]
    assert line["description"] == data[0]["lines"][0]["description"]


def test_export_carries_the_estimate_figures_the_screen_shows(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _export_json(capsys)
    assert all(type(i["totals_computed"]) is bool and type(i["estimate_incomplete"]) is bool
               for i in data)
    computed = {i["account"]: i for i in data if i["totals_computed"]}
    # The demo's two Unleash estimates come with 0 figures: recomputed, and only those.
    assert sorted(computed) == ["unleash-acme", "unleash-contoso"]
    assert all(i["status"] == "estimate" for i in computed.values())
    for invoice in computed.values():
        net = sum((Decimal(line["amount"]) for line in invoice["lines"] if line["amount"]),
                  Decimal(0))
        tax = Decimal(invoice["tax"])
        assert Decimal(invoice["subtotal"]) == net > 0
        assert Decimal(invoice["total"]) == net + tax and tax > 0
    assert not computed["unleash-acme"]["estimate_incomplete"]
    assert computed["unleash-contoso"]["estimate_incomplete"]
    assert any(line["amount"] is None for line in computed["unleash-contoso"]["lines"])

    code, out, _ = _run(capsys, "export", "--format", "csv")
    rows = _csv(out)
    header = rows[0]
    assert header.index("totals_computed") == header.index("pdf_url") + 1
    by_id = {(row[0], row[header.index("id")]): dict(zip(header, row, strict=True))
             for row in rows[1:]}
    for invoice in data:
        row = by_id[(invoice["account"], invoice["id"])]
        assert row["totals_computed"] == ("true" if invoice["totals_computed"] else "false")
        assert row["estimate_incomplete"] == ("true" if invoice["estimate_incomplete"]
                                              else "false")
        assert (row["subtotal"], row["tax"], row["total"]) == (
            invoice["subtotal"] or "", invoice["tax"] or "", invoice["total"] or "")


# --- filters -------------------------------------------------------------------------------

def test_account_filter(configured: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    data = _export_json(capsys, "--account", "vox-eu", "--account", "unleash-acme")
    assert {i["account"] for i in data} == {"vox-eu", "unleash-acme"}
    code, out, err = _run(capsys, "export", "--account", "nope")
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert "unknown account 'nope'" in line
    for account in DEMO_ACCOUNTS:
        assert account.name in line


def test_since_until_filter(configured: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    everything = _export_json(capsys)
    data = _export_json(capsys, "--since", "2025-02", "--until", "2025-07")
    expected = [i for i in everything if i["issued"] and "2025-02" <= i["issued"][:7] <= "2025-07"]
    assert data == expected and len(data) >= 4 * 6
    assert _export_json(capsys, "--since", "2026-11") == [
        i for i in everything if i["issued"] and i["issued"] >= "2026-11-01"]
    # A year alone is the whole year: its January as a start, its December as an end.
    year = [i for i in everything if i["issued"] and i["issued"].startswith("2025-")]
    assert _export_json(capsys, "--since", "2025", "--until", "2025") == year and year
    assert {i["issued"][5:7] for i in year} >= {"01", "12"}
    for bad in (["--since", "2025-13"], ["--until", "25-01"], ["--since", "2025-05",
                                                                "--until", "2025-01"],
                ["--since", "2026", "--until", "2025"], ["--since", "20255"]):
        code, out, err = _run(capsys, "export", *bad)
        assert code == 2 and out == "" and err.strip()


def test_demo_offline_says_what_it_would_do(capsys: pytest.CaptureFixture[str]) -> None:
    # It printed [] and exited 1 ("never synced"): the demo's store is a throwaway one.
    code, out, err = _run(capsys, "export", "--demo", "--offline")
    assert (code, out) == (2, "")
    assert err == ("invoice-tui: --offline reads your own invoice store, and --demo uses a "
                   "throwaway one that holds nothing yet — drop --offline to export the "
                   "demo's invoices\n")


# --- offline and failures --------------------------------------------------------------------

def test_offline_reads_what_the_last_sync_cached(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    online = _export_json(capsys)
    configured.add_fault(Fault("http_status", status=500, times=-1))  # the network is "down"
    assert _export_json(capsys, "--offline") == online

    code, out, err = _run(capsys, "export", "--offline", "--cache-dir", str(isolated_home / "new"))
    assert code == 1 and json.loads(out) == []
    lines = err.splitlines()
    assert len(lines) == len(DEMO_ACCOUNTS)
    for account, line in zip(DEMO_ACCOUNTS, lines, strict=True):
        assert line == f"invoice-tui: {account.name}: never synced — run without --offline"


def test_offline_with_a_corrupt_store_warns_once_and_moves_it_aside(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    _export_json(capsys, "--account", "vox-main")
    store = isolated_home / "cache" / "invoices.sqlite3"
    store.write_bytes(b"not a database at all" * 100)
    code, out, err = _run(capsys, "export", "--offline", "--account", "vox-main")
    assert code == 1 and json.loads(out) == []
    warning, failure = err.splitlines()
    assert warning.startswith(f"invoice-tui: store: {store} could not be used (")
    assert "moved aside to invoices.sqlite3.broken-" in warning
    assert failure == "invoice-tui: vox-main: never synced — run without --offline"
    (broken,) = store.parent.glob("invoices.sqlite3.broken-*")
    assert broken.read_bytes().startswith(b"not a database")


def test_offline_with_a_store_of_another_version_says_so(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    _export_json(capsys, "--account", "vox-main")
    path = isolated_home / "cache" / "invoices.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 99")
    code, out, err = _run(capsys, "export", "--offline", "--account", "vox-main")
    assert code == 1 and json.loads(out) == []
    warning, failure = err.splitlines()
    assert f"(schema version 99, this invoice-tui uses {SCHEMA_VERSION})" in warning
    assert failure == "invoice-tui: vox-main: never synced — run without --offline"


def test_an_old_json_cache_is_removed_with_one_note(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    cache = isolated_home / "cache"
    cache.mkdir()
    for name in ("vox-main-0123456789abcdef.json", "acme-fedcba9876543210.json"):
        (cache / name).write_text('{"version": 2, "account": "x"}\n', encoding="utf-8")
    (cache / "notes-0123456789abcdef.json").write_text("[1, 2]", encoding="utf-8")  # not ours
    code, out, err = _run(capsys, "export", "--account", "vox-main")
    assert code == 0 and json.loads(out)
    assert err == (f"invoice-tui: store: old cache removed (2 files in {cache}); it is only a "
                   "cache — the next sync refetches\n")
    assert sorted(p.name for p in cache.glob("*.json")) == ["notes-0123456789abcdef.json"]
    assert _run(capsys, "export", "--account", "vox-main")[2] == ""  # noted once


def test_a_failing_account_exits_1_and_the_rest_are_exported(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    configured.add_fault(Fault("vox_error", account="vox-eu", code=104, times=-1))
    code, out, err = _run(capsys, "export")
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("invoice-tui: vox-eu: Voximplant error 104")
    assert " — " in line
    data = json.loads(out)
    assert {i["account"] for i in data} == {a.name for a in DEMO_ACCOUNTS} - {"vox-eu"}


# --- usage and config errors -------------------------------------------------------------------

def test_config_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = config_path()
    code, out, err = _run(capsys, "export")
    assert (code, out) == (2, "")
    assert err == (f"invoice-tui: no config at {path} — run `invoice-tui` to create one, "
                   "or try `invoice-tui export --demo`\n")

    path.write_text('[[accounts]]\nname = "x"\nprovider = "voximplant"\ncredentials = [\n')
    code, out, err = _run(capsys, "export")
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith(f"invoice-tui: {path} line ") and "fix the TOML syntax" in line

    path.write_text('[[accounts]]\nname = "x"\nprovider = "nope"\n[[accounts]]\nname = "x"\n')
    code, out, err = _run(capsys, "export")
    assert (code, out) == (2, "")
    first, *rest = err.splitlines()
    assert first.startswith(f"invoice-tui: {path}: 3 problems")
    assert len(rest) == 3 and all(str(path) in line for line in rest)


@pytest.mark.parametrize("argv", [
    ["export", "--format", "xml"], ["export", "--lines"], ["export", "--bogus"], ["nope"],
    ["demo-server", "--fault", "meteor"], ["demo-server", "--port", "-1"],
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == "" and err.strip()


@pytest.mark.parametrize("argv", [
    [], ["--demo"], ["-v", "--config", "c.toml"], ["--config=c.toml", "--cache-dir", "d"],
    ["--cache-dir", "d", "--config", "c", "--demo", "--verbose"],
])
def test_a_tui_start_parses_as_the_whole_parser_would(argv: list[str]) -> None:
    # Parsed without every command's parser (see cli.parse_args): the same result.
    assert vars(cli.parse_args(argv)) == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["--bogus"], ["--config"], ["--demo", "-q"]])
def test_a_bad_tui_option_is_reported_by_the_whole_parser(
        capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert "COMMAND ..." in err and err.strip().splitlines()[-1].startswith("invoice-tui: error:")


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--version")
    assert (code, out) == (0, f"invoice-tui {invoice_tui.__version__}\n")
    code, out, _ = _run(capsys, "export", "--help")
    assert code == 0 and "--offline" in out and "--since" in out
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "demo-server" in out and "--cache-dir" in out


# --- output file, logging, interrupts ---------------------------------------------------------

def test_output_file_is_written_atomically_0600(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "out" / "invoices.csv"
    code, out, err = _run(capsys, "export", "--format", "csv", "--output", str(target))
    assert (code, out, err) == (0, "", "")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = _csv(target.read_text(encoding="utf-8"))
    assert rows[0] == list(INVOICE_FIELDS) and len(rows) > 50
    assert [p.name for p in target.parent.iterdir()] == ["invoices.csv"]


def test_verbose_logs_to_stderr_without_secrets(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "-v", "export", "--account", "vox-main",
                          "--account", "unleash-acme")
    assert code == 0 and json.loads(out)
    assert "HTTP Request: POST" in err and "HTTP Request: GET" in err
    code, out, err = _run(capsys, "export", "--account", "vox-main")
    assert code == 0 and err == ""  # quiet without -v


def test_ctrl_c_exits_130(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.syncs, "sync_all", interrupted)
    assert _run(capsys, "export") == (130, "", "")


def test_a_bug_is_one_line_not_a_traceback(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("details that belong in a bug report")

    monkeypatch.setattr(cli.exports, "iter_encoded", broken)
    code, out, err = _run(capsys, "export")
    assert (code, out) == (1, "")
    assert err == ("invoice-tui: internal error: RuntimeError — please report this bug "
                   "(run with -v to log the details)\n")


# --- dispatch -------------------------------------------------------------------------------

def test_default_command_opens_the_tui(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    calls: list[tuple[Path, Path, bool]] = []

    def run_tui(config: Path, cache: Path, demo: bool) -> int:
        calls.append((config, cache, demo))
        return 0

    monkeypatch.setitem(sys.modules, "invoice_tui.ui.app",
                        types.SimpleNamespace(run_tui=run_tui))
    assert _run(capsys, "--demo", "--config", "~/c.toml", "--cache-dir", "~/cache2") == (0, "", "")
    assert _run(capsys) == (0, "", "")
    assert calls == [(isolated_home / "c.toml", isolated_home / "cache2", True),
                     (isolated_home / "config.toml", isolated_home / "cache", False)]

    monkeypatch.setitem(sys.modules, "invoice_tui.ui.app", None)  # an unimportable UI
    code, out, err = _run(capsys)
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("invoice-tui: the TUI is not available")


def test_demo_server_command_passes_its_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    import invoice_tui.demo as demo

    seen: dict[str, Any] = {}

    def fake(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(demo, "run_demo_server", fake)
    code, _, _ = _run(capsys, "demo-server", "--port", "8765", "--latency-ms", "200",
                      "--invoice-count", "100000", "--count-cap", "500",
                      "--fault", "http_status:429:retry_after=1", "--fault", "drop",
                      "--write-config", "~/demo.toml")
    assert code == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8765
    assert (seen["latency_ms"], seen["invoice_count"], seen["count_cap"]) == (200, 100000, 500)
    assert seen["faults"] == [Fault("http_status", status=429, retry_after=1.0), Fault("drop")]
    assert seen["write_config"] == isolated_home / "demo.toml"


# --- as a real process ------------------------------------------------------------------------

def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env


def test_python_m_export_demo_as_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "invoice_tui", "export", "--demo"],
        capture_output=True, text=True, timeout=120, env=_subprocess_env(), cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data = json.loads(done.stdout)
    assert {i["account"] for i in data} == {a.name for a in DEMO_ACCOUNTS}
    _assert_no_secrets(done.stdout, done.stderr)


def test_closed_pipe_exits_quietly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "invoice_tui", "export", "--demo"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_subprocess_env(), cwd=REPO,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(100).startswith(b"[")
    process.stdout.close()  # like `| head -c 100`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert stderr == ""


# --- the JSON writer -------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


# What json.dumps leaves raw but an export escapes (issue 6 row 8): DEL, C1, bidi and
# zero-width characters, line/paragraph separators.
_ESCAPED_IN_EXPORTS = (0x7F, *range(0x80, 0xA0), 0x061C, *range(0x200B, 0x2010),
                       *range(0x2028, 0x202F), 0x2060, *range(0x2066, 0x206A), 0xFEFF)


@given(_json_values)
def test_fast_json_writer_matches_json_dumps(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, indent=2)
    for code in _ESCAPED_IN_EXPORTS:  # these only ever occur inside JSON strings
        expected = expected.replace(chr(code), f"\\u{code:04x}")
    assert dumps_indented(value) == expected
    assert json.loads(dumps_indented(value)) == value


@pytest.mark.parametrize("count", [0, 1, CHUNK_INVOICES, CHUNK_INVOICES + 1,
                                   2 * CHUNK_INVOICES + 3])
def test_streamed_exports_across_chunk_boundaries(count: int) -> None:
    invoices = synthetic_invoices(count)
    dicts = [invoice_to_dict(i) for i in invoices]
    assert "".join(iter_json(invoices)) == json.dumps(dicts, ensure_ascii=False, indent=2)
    rows = _csv("".join(iter_csv(invoices)))
    assert rows[0] == list(INVOICE_FIELDS)
    assert [row[2] for row in rows[1:]] == [i.id for i in invoices]
    line_rows = _csv("".join(iter_csv(invoices, lines=True)))
    assert len(line_rows) - 1 == sum(max(1, len(i.lines)) for i in invoices)


# --- breaking it like a user would -------------------------------------------------------------

def _credentials_of(account: str) -> Path:
    return Path(config_path().parent / f"{config_path().stem}.{account}-credentials.json")


def _replace_private_key(path: Path, key: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    data = json.loads(path.read_text())
    data = data.get("result", data)
    data["private_key"] = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    path.write_text(json.dumps(data))


def _other_rsa_key_file(path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    _replace_private_key(path, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _ec_key_file(path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    _replace_private_key(path, ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda path: path.write_text("not json"), "is not a JSON key file"),
    (lambda path: path.write_text(""), "is not a JSON key file"),
    (lambda path: path.unlink(), "does not exist"),
    (_ec_key_file, "is not an RSA PEM key"),
    (_other_rsa_key_file, "Voximplant error 100"),  # a valid key the server does not know
])
def test_a_broken_key_file_fails_only_its_account(
    configured: DemoServer, capsys: pytest.CaptureFixture[str],
    damage: Any, reason: str,
) -> None:
    damage(_credentials_of("vox-eu"))
    code, out, err = _run(capsys, "export")
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("invoice-tui: vox-eu: ") and reason in line and " — " in line
    assert {i["account"] for i in json.loads(out)} == {a.name for a in DEMO_ACCOUNTS} - {"vox-eu"}


@pytest.mark.parametrize("text", ["", "[settings]\npage_size = 10\n"])
def test_a_config_without_accounts_says_so(capsys: pytest.CaptureFixture[str], text: str) -> None:
    config_path().write_text(text)
    code, out, err = _run(capsys, "export")
    assert (code, out) == (2, "")
    assert err == (f"invoice-tui: no accounts in {config_path()} — add an [[accounts]] table "
                   "(see README.md), or try `invoice-tui export --demo`\n")


def test_output_into_a_directory_is_refused_before_fetching(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, "export", "--output", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"invoice-tui: --output {tmp_path} is a directory — give a file name inside it\n"
    assert configured.request_log == []
    assert list(tmp_path.iterdir()) == []


def test_deeply_nested_files_are_clear_errors_not_crashes(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path().write_text("x = " + "[" * 100_000)
    code, out, err = _run(capsys, "export")
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith(f"invoice-tui: {config_path()}: arrays or tables nested too deeply")


def _set_option(account: str, key: str, value: str) -> None:
    table = tomllib.loads(config_path().read_text())
    for item in table["accounts"]:
        if item["name"] == account:
            item[key] = value
    save_config(config_path(), table)


def test_base_url_with_a_query_is_a_config_error_that_hides_the_query(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = configured.unleash_base_url("unleash-acme")
    _set_option("unleash-acme", "base_url", f"{base}?token=user:leaky-secret")
    code, out, err = _run(capsys, "export")
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert "account 'unleash-acme': base_url:" in line and "query string" in line
    assert "leaky-secret" not in line and f"{base}?…" in line
    assert configured.request_log == []


def test_base_url_with_surrounding_spaces_still_works(
    configured: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_option("unleash-acme", "base_url", f"  {configured.unleash_base_url('unleash-acme')}  ")
    _set_option("vox-main", "base_url", f"{configured.voximplant_base_url}/ ")
    data = _export_json(capsys, "--account", "unleash-acme", "--account", "vox-main")
    assert {i["account"] for i in data} == {"unleash-acme", "vox-main"}


def test_an_empty_token_env_fails_only_its_account(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tomllib.loads(config_path().read_text())
    for item in table["accounts"]:
        if item["name"] == "unleash-acme":
            del item["token"]
            item["token_env"] = "ACME_TOKEN"
    save_config(config_path(), table)
    monkeypatch.setenv("ACME_TOKEN", "")
    code, out, err = _run(capsys, "export")
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("invoice-tui: unleash-acme: environment variable ACME_TOKEN is empty — "
                           "export ACME_TOKEN=<token>")
    assert {i["account"] for i in json.loads(out)} == {a.name for a in DEMO_ACCOUNTS} - {
        "unleash-acme"}


def test_export_never_builds_a_repr_of_the_invoices(
    configured: DemoServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python 3.11's asyncio.run reprs its main task's result on the way out; with
    # 100 000 invoices that repr alone took seconds and hundreds of megabytes.
    reprs: list[str] = []

    def counting_repr(invoice: Invoice) -> str:
        reprs.append(invoice.id)
        return "Invoice(…)"

    monkeypatch.setattr(Invoice, "__repr__", counting_repr)
    assert _export_json(capsys, "--account", "vox-main")
    assert reprs == []


def test_demo_server_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "demo.toml"
    process = subprocess.Popen(
        [sys.executable, "-m", "invoice_tui", "demo-server", "--write-config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_subprocess_env(),
        cwd=REPO,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:  # blocks until the server says it is ready
            if line.startswith("Press Ctrl-C"):
                break
        process.send_signal(signal.SIGTERM)
        rest, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert rest.strip().endswith("Stopped.") and err == ""

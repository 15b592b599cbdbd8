"""The fault matrix: every hostile server, file and terminal input of issue 6, over real HTTP.

Each section is one row of the matrix (what an attacker or a broken proxy does →
what the app must do). The servers are ``tests/hostile.py`` on loopback; nothing
here is mocked below the socket.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hostile import (
    HOSTILE_TOKEN,
    HostileServer,
    by_endpoint,
    json_reply,
    unleash_account,
    vox_invoice,
    vox_page,
    voximplant_account,
)
from rich.console import Console
from rich.traceback import Traceback

import invoice_tui
from invoice_tui import cli
from invoice_tui.cache import InvoiceCache
from invoice_tui.config import AccountConfig, load_config, save_config
from invoice_tui.providers.voximplant import VoximplantProvider
from invoice_tui.ui.app import InvoiceApp

REPO = Path(invoice_tui.__file__).parent.parent


# --- 1. escape sequences in the currency field ---------------------------------------


# --- 2. server text in toasts, reasons, hints and stderr -----------------------------


# --- 3. one sanitizer: escapes, bidi, zero-width ------------------------------------


# --- 4. response size: big, endless, gzip bomb -----------------------------------------


# --- 5. timeout is the whole request's deadline --------------------------------------


# --- 6. Voximplant paging that never ends; absurd numbers ------------------------------


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

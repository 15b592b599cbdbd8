"""Secrets in the OS keyring (issue 10 §4): ``secret set|delete``, token_keyring /
credentials_keyring, syncs over real HTTP to the emulator with the keyring's secrets,
no backend, and redaction.

The keyring is ``tests/keyring_backend.py``'s JSON-file backend: chosen through
``PYTHON_KEYRING_BACKEND`` in subprocesses (keyring's own lookup) and with
``keyring.set_keyring`` in this process.
"""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import keyring
import keyring.core
import pytest
from keyring.backends import null
from keyring_backend import FILE_ENV, BrokenKeyring, JsonFileKeyring
from store_helpers import new_store
from ui_helpers import TODAY, frozen_now, settle, widget_text

import invoice_tui
from invoice_tui.config import AccountConfig, load_config, save_config
from invoice_tui.demo import DEMO_ACCOUNTS, DemoServer, write_demo_config
from invoice_tui.demo.keys import credentials, private_key_pem
from invoice_tui.keyring_store import (
    SERVICE,
    delete_secret,
    get_secret,
    keyring_problem,
    set_secret,
)
from invoice_tui.providers import ProviderError
from invoice_tui.providers.unleash import UnleashProvider
from invoice_tui.providers.voximplant import VoximplantProvider
from invoice_tui.sync import SyncSucceeded, sync_account
from invoice_tui.ui.app import InvoiceApp
from invoice_tui.ui.screens.main import MainScreen

REPO = Path(invoice_tui.__file__).parent.parent
TESTS = Path(__file__).parent
FAIL = "keyring.backends.fail.Keyring"
UNLEASH = next(a for a in DEMO_ACCOUNTS if a.provider == "unleash")
VOX = next(a for a in DEMO_ACCOUNTS if a.provider == "voximplant")
TOKEN = UNLEASH.token or ""
PEM_LINE = private_key_pem(VOX.name).splitlines()[1]  # a line of key material


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (TOKEN, PEM_LINE, "PRIVATE KEY", "eyJ"):
            assert secret not in text
        assert "Traceback" not in text


@pytest.fixture
def store_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test backend's file, and the backend in use in this process (undone after)."""
    path = tmp_path / "keyring.json"
    monkeypatch.setenv(FILE_ENV, str(path))
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(JsonFileKeyring())
    return path


def _stored(path: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    return data


def _cli(*argv: str, stdin: str = "", backend: str = "keyring_backend.JsonFileKeyring",
         ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS)])
    env["PYTHON_KEYRING_BACKEND"] = backend
    return subprocess.run([sys.executable, "-m", "invoice_tui", *argv], input=stdin,
                          capture_output=True, text=True, timeout=120, env=env, cwd=REPO,
                          check=False)


@pytest.fixture
def config(server: DemoServer, tmp_path: Path, store_file: Path) -> Path:
    """A config of every demo account on ``server``, with comments of the user's own."""
    path = tmp_path / "config.toml"
    write_demo_config(server, path)
    text = path.read_text()
    text = text.replace("[[accounts]]", "# my account, do not touch\n[[accounts]]", 1)
    path.write_text("# mine: billing accounts\n" + text.replace(
        f'name = "{UNLEASH.name}"', f'name = "{UNLEASH.name}"  # the prod instance'))
    return path


# --- secret set / delete, as a real process ---------------------------------------------


def test_secret_set_stores_the_token_from_stdin_and_rewrites_the_config(
        config: Path, store_file: Path) -> None:
    done = _cli("--config", str(config), "secret", "set", UNLEASH.name,
                stdin=f"Bearer {TOKEN}\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"stored the Unleash token of {UNLEASH.name} in the OS keyring")
    assert "token_keyring = true instead of token" in line
    _no_secret(done.stdout, done.stderr)
    # Service invoice-tui, username = the account; the raw token (Bearer dropped).
    assert _stored(store_file) == {f"{SERVICE}\0{UNLEASH.name}": TOKEN}
    text = config.read_text()
    assert TOKEN not in text and "token_keyring = true" in text
    assert "# mine: billing accounts" in text and "# my account, do not touch" in text
    assert f'name = "{UNLEASH.name}"  # the prod instance' in text
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    account = load_config(config).account(UNLEASH.name)
    assert "token" not in account.options and account.options["token_keyring"] is True


def test_secret_set_stores_a_voximplant_key_file_and_drops_its_path(
        config: Path, store_file: Path) -> None:
    key_file = Path(load_config(config).account(VOX.name).options["credentials"])
    wrapped = json.dumps({"result": credentials(VOX)}, indent=2)  # older files wrap it
    done = _cli("--config", str(config), "secret", "set", VOX.name, stdin=wrapped)
    assert done.returncode == 0, done.stderr
    _no_secret(done.stdout, done.stderr)
    stored = json.loads(_stored(store_file)[f"{SERVICE}\0{VOX.name}"])
    assert stored == credentials(VOX)  # unwrapped, one line
    account = load_config(config).account(VOX.name)
    assert "credentials" not in account.options and account.options["credentials_keyring"]
    assert key_file.name not in config.read_text()


def test_secret_set_on_a_terminal_asks_at_a_hidden_prompt(
        config: Path, store_file: Path) -> None:
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]),
           "PYTHON_KEYRING_BACKEND": "keyring_backend.JsonFileKeyring"}
    child = subprocess.Popen(
        [sys.executable, "-m", "invoice_tui", "--config", str(config), "secret", "set",
         UNLEASH.name], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO,
        start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        while b"(hidden" not in seen:
            seen += _read_pty(master)
        os.write(master, TOKEN.encode() + b"\r")
        assert child.wait(timeout=60) == 0
        while (chunk := _read_pty(master, wait=0.5)):
            seen += chunk
    finally:
        if child.poll() is None:
            child.kill()
        os.close(master)
    shown = seen.decode()
    assert shown.startswith(f"Unleash token for {UNLEASH.name} (hidden")
    assert f"stored the Unleash token of {UNLEASH.name}" in shown
    _no_secret(shown)  # the terminal never echoed it
    assert _stored(store_file) == {f"{SERVICE}\0{UNLEASH.name}": TOKEN}


def _read_pty(master: int, wait: float = 60) -> bytes:
    ready, _, _ = select.select([master], [], [], wait)
    if not ready:
        assert wait < 60, "the prompt never came"
        return b""
    try:
        return os.read(master, 4096)
    except OSError:  # EIO: the child closed its side
        return b""


@pytest.mark.parametrize(("name", "secret", "says"), [
    (VOX.name, '{"account_id": 1}', "lacks key_id, private_key"),
    (VOX.name, "-----BEGIN PRIVATE KEY-----\nnot json", "is not a JSON key file"),
    (VOX.name, json.dumps({**credentials(VOX), "private_key": "x"}), "not an RSA PEM key"),
    (UNLEASH.name, "user:a b\x1b[31m", "cannot carry"),
    (UNLEASH.name, "Bearer  \n", "the Unleash token is empty"),
    (UNLEASH.name, " \n", "no secret given"),
])
def test_secret_set_checks_the_secret_before_storing_anything(
        config: Path, store_file: Path, name: str, secret: str, says: str) -> None:
    before = config.read_bytes()
    done = _cli("--config", str(config), "secret", "set", name, stdin=secret)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert says in line and "\x1b" not in line and "not json" not in line
    assert not store_file.exists() and config.read_bytes() == before


def test_secret_delete_removes_it_and_says_what_the_config_still_needs(
        config: Path, store_file: Path) -> None:
    assert _cli("--config", str(config), "secret", "set", UNLEASH.name,
                stdin=TOKEN).returncode == 0
    done = _cli("--config", str(config), "secret", "delete", UNLEASH.name)
    assert done.returncode == 0, done.stderr
    assert "still says token_keyring = true" in done.stdout
    assert f"invoice-tui secret set {UNLEASH.name}" in done.stdout
    assert _stored(store_file) == {}
    again = _cli("--config", str(config), "secret", "delete", UNLEASH.name)
    assert again.returncode == 1 and "nothing to remove" in again.stderr
    # The account now fails alone, with the command that fixes it.
    with pytest.raises(ProviderError) as caught:
        load_config(config).account(UNLEASH.name).build()
    assert str(caught.value) == (f"no secret for {UNLEASH.name} in the keyring — run: "
                                 f"invoice-tui secret set {UNLEASH.name}")


def test_an_unknown_account_gets_a_did_you_mean(config: Path, store_file: Path) -> None:
    for action in ("set", "delete"):
        done = _cli("--config", str(config), "secret", action, UNLEASH.name + "x", stdin=TOKEN)
        assert done.returncode == 2
        assert done.stderr.strip() == (
            f"invoice-tui: unknown account '{UNLEASH.name}x' (did you mean "
            f"'{UNLEASH.name}'?) — known accounts: "
            + ", ".join(a.name for a in DEMO_ACCOUNTS))
    assert not store_file.exists()


def test_no_keyring_backend_is_one_line_naming_the_fix(config: Path, server: DemoServer) -> None:
    done = _cli("--config", str(config), "secret", "set", UNLEASH.name, stdin=TOKEN,
                backend=FAIL)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "invoice-tui: no OS keyring available (keyring backend fail.Keyring) — install or "
        "unlock one (GNOME Keyring, KWallet, Keychain…), set PYTHON_KEYRING_BACKEND, or "
        "keep token_env / a credentials file in the config"]
    assert TOKEN in config.read_text()  # the config is left as it was
    # An account that reads the keyring fails alone in an export, in one line.
    text = config.read_text().replace(f'token = "{TOKEN}"', "token_keyring = true")
    config.write_text(text)
    export = _cli("--config", str(config), "export", backend=FAIL)
    assert export.returncode == 1
    (line,) = [line for line in export.stderr.splitlines() if UNLEASH.name in line]
    assert line.startswith(f"invoice-tui: {UNLEASH.name}: no OS keyring available "
                           "(keyring backend fail.Keyring) — ")
    _no_secret(export.stderr)
    assert {i["account"] for i in json.loads(export.stdout)} == \
        {a.name for a in DEMO_ACCOUNTS} - {UNLEASH.name}


def test_check_says_no_keyring_in_its_account_line(config: Path) -> None:
    text = config.read_text().replace(f'token = "{TOKEN}"', "token_keyring = true")
    config.write_text(text)
    done = _cli("--config", str(config), "check", backend=FAIL)
    assert done.returncode == 1
    (line,) = [line for line in done.stdout.splitlines() if UNLEASH.name in line]
    assert " ".join(line.split()).startswith(
        f"✗ {UNLEASH.name} no OS keyring available (keyring backend fail.Keyring) — install or "
        "unlock one")
    assert sum(line.startswith("✓") for line in done.stdout.splitlines()) == 3
    _no_secret(done.stdout, done.stderr)


def test_a_backend_that_cannot_be_loaded_is_one_line_too(config: Path) -> None:
    done = _cli("--config", str(config), "secret", "set", UNLEASH.name, stdin=TOKEN,
                backend="no_such_module.Keyring")
    assert done.returncode == 1
    assert done.stderr.startswith("invoice-tui: no OS keyring available "
                                  "(ModuleNotFoundError choosing the backend) — ")
    assert len(done.stderr.splitlines()) == 1


# --- syncs over real HTTP with the keyring's secrets ----------------------------------------


def test_export_over_http_with_every_secret_in_the_keyring(
        config: Path, store_file: Path) -> None:
    before = _cli("--config", str(config), "export")
    assert before.returncode == 0, before.stderr
    loaded = load_config(config)
    for account in loaded.accounts:
        if account.provider == "unleash":
            secret = account.options["token"]
        else:
            secret = Path(account.options["credentials"]).read_text()
            Path(account.options["credentials"]).unlink()  # only the keyring has it now
        done = _cli("--config", str(config), "secret", "set", account.name, stdin=secret)
        assert done.returncode == 0, done.stderr
    text = config.read_text()
    assert "token =" not in text and "credentials =" not in text
    after = _cli("--config", str(config), "export")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    _no_secret(after.stdout, after.stderr)


@pytest.mark.parametrize("account", [UNLEASH, VOX], ids=lambda a: a.provider)
async def test_the_sync_reads_the_keyring_off_the_event_loop(
        server: DemoServer, tmp_path: Path, store_file: Path, account: object) -> None:
    demo = next(a for a in DEMO_ACCOUNTS if a is account)
    options: dict[str, object] = {"name": demo.name, "provider": demo.provider}
    if demo.provider == "unleash":
        options |= {"base_url": server.unleash_base_url(demo.name), "token_keyring": True}
        set_secret(demo.name, TOKEN)
    else:
        options |= {"base_url": server.voximplant_base_url, "credentials_keyring": True}
        set_secret(demo.name, json.dumps(credentials(demo)))
    readers: list[threading.Thread] = []
    backend = keyring.get_keyring()
    real_get = backend.get_password

    def get_password(service: str, username: str) -> str | None:
        readers.append(threading.current_thread())
        return real_get(service, username)

    backend.get_password = get_password  # type: ignore[method-assign]
    loaded = load_config(_write_config(tmp_path, options))
    assert readers == []  # never at config load
    outcome = await sync_account(loaded.account(demo.name), loaded.settings)
    assert isinstance(outcome, SyncSucceeded) and outcome.invoices, outcome
    assert readers and threading.main_thread() not in readers


def _write_config(tmp_path: Path, *accounts: dict[str, object]) -> Path:
    path = tmp_path / "kr-config.toml"
    save_config(path, {"accounts": list(accounts)})
    return path


async def test_the_tui_pane_says_no_keyring_in_one_line(
        server: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FAIL)
    loaded = load_config(_write_config(tmp_path, {
        "name": UNLEASH.name, "provider": "unleash",
        "base_url": server.unleash_base_url(UNLEASH.name), "token_keyring": True}))
    app = InvoiceApp(loaded, new_store(tmp_path), now=frozen_now, today=TODAY)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        state = main.pane.states[UNLEASH.name]
        assert state.phase == "failed" and state.error is not None
        assert state.error.reason == "no OS keyring available (keyring backend fail.Keyring)"
        assert "PYTHON_KEYRING_BACKEND" in state.error.hint
        assert "Traceback" not in widget_text(main.pane)


# --- the store's API, in-process ------------------------------------------------------------


def test_the_store_round_trip(store_file: Path) -> None:
    assert keyring_problem() is None
    set_secret("a b", "s3")
    assert get_secret("a b") == "s3"
    assert stat.S_IMODE(store_file.stat().st_mode) == 0o600
    assert delete_secret("a b") is True and delete_secret("a b") is False
    with pytest.raises(ProviderError, match="run: invoice-tui secret set 'a b'$"):
        get_secret("a b")


def test_keyring_calls_run_one_at_a_time(store_file: Path) -> None:
    # Accounts are built in parallel threads; a locked keyring must not get one unlock
    # prompt per account at once.
    inside, most = [0], [0]
    backend = keyring.get_keyring()
    real_get = backend.get_password

    def get_password(service: str, username: str) -> str | None:
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        inside[0] -= 1
        return real_get(service, username)

    backend.get_password = get_password  # type: ignore[method-assign]
    for name in "abcd":
        set_secret(name, f"secret-{name}")
    got: dict[str, str] = {}
    threads = [threading.Thread(target=lambda n=name: got.update({n: get_secret(n)}))
               for name in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == {name: f"secret-{name}" for name in "abcd"} and most == [1]


def test_a_failing_backend_is_named_never_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(BrokenKeyring())
    for call in (lambda: set_secret("acct", TOKEN), lambda: get_secret("acct"),
                 lambda: delete_secret("acct")):
        with pytest.raises(ProviderError) as caught:
            call()
        assert "(RuntimeError)" in caught.value.reason and "D-Bus" not in str(caught.value)
        _no_secret(str(caught.value), repr(caught.value))


def test_the_null_backend_counts_as_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(null.Keyring())
    assert keyring_problem() == (
        "no OS keyring available (keyring backend null.Keyring) — install or unlock one "
        "(GNOME Keyring, KWallet, Keychain…), set PYTHON_KEYRING_BACKEND, or keep token_env "
        "/ a credentials file in the config")


# --- config rules and redaction -----------------------------------------------------------

URL = "https://us.app.unleash-hosted.com/acme"


@pytest.mark.parametrize(("options", "says"), [
    ({"base_url": URL, "token_keyring": True}, None),
    ({"base_url": URL, "token_keyring": False, "token_env": "T"}, None),
    ({"base_url": URL, "token_keyring": True, "token": "t"},
     "token/token_env/token_keyring: set exactly one (found token and token_keyring) — "),
    ({"base_url": URL, "token_keyring": False}, "token/token_env/token_keyring: set exactly one"),
    ({"base_url": URL, "token_keyring": "yes"}, "token_keyring: must be true or false"),
])
def test_unleash_takes_exactly_one_token_source(options: dict[str, object],
                                                says: str | None) -> None:
    problems = UnleashProvider.validate_options(options)
    if says is None:
        assert problems == []
    else:
        (line,) = problems
        assert line.startswith(says)


@pytest.mark.parametrize(("options", "says"), [
    ({"credentials_keyring": True}, None),
    ({"credentials_keyring": True, "credentials": "k.json"},
     "credentials/credentials_keyring: set exactly one"),
    ({"credentials_keyring": False}, "credentials: missing"),
    ({"credentials_keyring": 1}, "credentials_keyring: must be true or false"),
])
def test_voximplant_takes_exactly_one_key_source(options: dict[str, object],
                                                 says: str | None) -> None:
    problems = VoximplantProvider.validate_options(options)
    if says is None:
        assert problems == []
    else:
        (line,) = problems
        assert line.startswith(says)


def test_hostile_keyring_values_never_reach_a_message(store_file: Path) -> None:
    evil = "user:\x1b]52;c;ZXZpbA==\x07\x1b[2J secret-part"
    set_secret("un", evil)
    unleash = AccountConfig("un", "unleash", {"base_url": URL, "token_keyring": True})
    with pytest.raises(ProviderError) as caught:
        unleash.build()
    assert str(caught.value).startswith("the Unleash token (keyring entry of un) contains "
                                        "characters an HTTP header cannot carry")
    set_secret("vx", json.dumps({"account_id": "\x1b[31m", "key_id": "k",
                                 "private_key": "secret-part"}))
    vox = AccountConfig("vx", "voximplant", {"credentials_keyring": True})
    with pytest.raises(ProviderError) as caught:
        vox.build()
    assert str(caught.value).startswith(
        "credentials: private_key in the keyring entry of vx is not an RSA PEM key")
    set_secret("vx", "\x1b[2J secret-part")
    with pytest.raises(ProviderError) as not_json:
        vox.build()
    assert str(not_json.value) == ("credentials: the keyring entry of vx is not a JSON key file "
                                   "— store the key file again: invoice-tui secret set vx < FILE")
    for text in (str(caught.value), str(not_json.value), repr(unleash), repr(vox)):
        assert "secret-part" not in text and "\x1b" not in text
    set_secret("un", TOKEN)
    provider = unleash.build()
    _no_secret(repr(provider), repr(unleash.options))

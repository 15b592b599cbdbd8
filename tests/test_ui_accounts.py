"""Accounts inside the app (issue 10 §1): the add/edit form, remove, over real HTTP to the
emulator; keys by Pilot; every write checked on disk (0600, comments kept, nothing on Esc)."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring_backend import FILE_ENV, JsonFileKeyring
from store_helpers import new_store
from textual import events
from textual.widgets import Checkbox, Input, Select
from ui_helpers import (
    TODAY,
    ScriptedSync,
    frozen_now,
    run_palette_command,
    settle,
    squashed,
    widget_text,
)

from invoice_tui.account_setup import (
    AccountDraft,
    complete_path,
    draft_problems,
    save_draft,
    suggest_name,
)
from invoice_tui.config import Config, ConfigError, example_config_text, load_config
from invoice_tui.demo import DemoServer
from invoice_tui.demo.data import demo_account
from invoice_tui.demo.keys import credentials
from invoice_tui.ui import app as app_module
from invoice_tui.ui.app import InvoiceApp
from invoice_tui.ui.messages import ConfigChanged
from invoice_tui.ui.screens.account_form import (
    VALIDATE_DELAY,
    AccountFormScreen,
    RemoveAccountScreen,
)
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.ui.screens.welcome import WelcomeScreen

FORM_SIZE = (80, 24)
UNLEASH = demo_account("unleash-acme")
VOX = demo_account("vox-main")
USER_CONFIG = """\
# my billing accounts — keep this comment
[settings]
page_size = 50  # small pages, on purpose

[[accounts]]
# the EU instance
name = "eu"
provider = "unleash"
base_url = "https://eu.example.com/unleash"
token_env = "EU_TOKEN"  # set in my shell
"""


class RecordingApp(InvoiceApp):
    """The app as a first run sees it (welcome), recording every ConfigChanged it gets."""

    # Textual reads CSS_PATH relative to the subclass's module: point at the app's own.
    CSS_PATH = str(Path(app_module.__file__).parent / "app.tcss")

    def __init__(self, path: Path, config: Config | None = None) -> None:
        super().__init__(None, config_path=path, now=frozen_now, today=TODAY, demo_today=TODAY)
        self.form_config = config
        self.changed: list[Config] = []

    def on_config_changed(self, message: ConfigChanged) -> None:
        self.changed.append(message.config)


def _user_config(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir()
    path.write_text(USER_CONFIG, encoding="utf-8")
    path.chmod(0o600)
    return path


async def _open_form(app: RecordingApp, pilot: Any, path: Path, **kwargs: Any
                     ) -> AccountFormScreen:
    form = AccountFormScreen(path, app.form_config, **kwargs)
    app.push_screen(form)
    await pilot.pause()
    return form


async def _type(pilot: Any, form: AccountFormScreen, field: str, text: str) -> None:
    """Focus the field, clear it and type ``text`` (the keys a user presses)."""
    widget = form.query_one(f"#input-{field}", Input)
    widget.focus()
    widget.value = ""
    await pilot.pause()
    await pilot.press(*[_key(char) for char in text])


async def _press_and_wait(app: InvoiceApp, pilot: Any, key: str) -> None:
    """Press ``key`` and wait for what it started (a save or a test runs in a worker)."""
    await pilot.press(key)
    await app.workers.wait_for_complete()
    await pilot.pause()


def _key(char: str) -> str:
    names = {":": "colon", "/": "slash", ".": "full_stop", "-": "minus", "_": "underscore",
             " ": "space"}
    return names.get(char, char)


async def _choose(pilot: Any, form: AccountFormScreen, provider: str) -> None:
    form.query_one("#provider", Select).value = provider
    await pilot.pause()
    await pilot.pause()


def _shown(form: AccountFormScreen, selector: str) -> str:
    return squashed(widget_text(form.query_one(selector)))


async def _fill_unleash(pilot: Any, form: AccountFormScreen, server: DemoServer,
                        token: str | None = None, name: str = "acme") -> None:
    await _choose(pilot, form, "unleash")
    await _type(pilot, form, "name", name)
    await _type(pilot, form, "base_url", server.unleash_base_url(UNLEASH.name))
    await _type(pilot, form, "token", token or UNLEASH.token or "")


# --- add -----------------------------------------------------------------------------------


async def test_a_valid_unleash_account_is_saved_and_posted(server: DemoServer,
                                                           tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _fill_unleash(pilot, form, server)
        await _press_and_wait(app, pilot, "enter")  # Enter in a field saves
        assert not isinstance(app.screen, AccountFormScreen)
    text = path.read_text(encoding="utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for line in ("# my billing accounts — keep this comment", "page_size = 50  # small pages",
                 "# the EU instance", 'token_env = "EU_TOKEN"  # set in my shell'):
        assert line in text
    saved = load_config(path)
    assert saved.account_names == ["eu", "acme"]
    acme = saved.account("acme")
    assert dict(acme.options) == {"name": "acme", "provider": "unleash",
                                  "base_url": server.unleash_base_url(UNLEASH.name),
                                  "token": UNLEASH.token}
    assert [c.account_names for c in app.changed] == [["eu", "acme"]]


async def test_a_pasted_voximplant_key_is_saved_0600_beside_the_config(
        server: DemoServer, tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    key_json = json.dumps(credentials(VOX), indent=2)  # many lines, as the file comes
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _choose(pilot, form, "voximplant")
        await _type(pilot, form, "name", "vox")
        form.query_one("#input-credentials_json", Input).focus()
        await pilot.pause()
        form.query_one("#input-credentials_json", Input).post_message(events.Paste(key_json))
        await _type(pilot, form, "base_url", server.voximplant_base_url)
        await pilot.press("ctrl+t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert _shown(form, "#test-result") == squashed(f"✓ {VOX.invoices} invoices reachable")
        assert "private_key" not in app.export_screenshot()
        await _press_and_wait(app, pilot, "ctrl+s")
    key_file = path.parent / "keys" / "vox.json"
    assert json.loads(key_file.read_text(encoding="utf-8")) == credentials(VOX)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert 'credentials = "keys/vox.json"' in path.read_text(encoding="utf-8")
    assert load_config(path).account("vox").build().cache_key().startswith("voximplant:")
    assert len(app.changed) == 1


async def test_an_invalid_field_is_shown_inline_and_save_is_refused(tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    before = path.read_bytes()
    app = RecordingApp(path, load_config(path))
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _choose(pilot, form, "unleash")
        await _type(pilot, form, "base_url", "http://example.com/acme")
        await pilot.press("tab")  # leaving the field checks it
        await pilot.pause()
        problem = _shown(form, "#problem-base_url")
        assert squashed("uses http:// — use https://") in problem
        await _type(pilot, form, "name", "eu")  # taken
        await _press_and_wait(app, pilot, "ctrl+s")
        assert isinstance(app.screen, AccountFormScreen)
        assert squashed("duplicate name") in _shown(form, "#problem-name")
        assert squashed("set exactly one") in _shown(form, "#problem-token")
        assert squashed("not saved") in _shown(form, "#test-result")
    assert path.read_bytes() == before
    assert app.changed == []


async def test_a_failed_test_shows_the_reason_and_hint(server: DemoServer,
                                                       tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    app = RecordingApp(path)
    wrong = "user:wrong-token-0123456789"
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _fill_unleash(pilot, form, server, token=wrong)
        await pilot.click("#test")
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = _shown(form, "#test-result")
        assert result.startswith("✗") and "401" in result and "token" in result
        screen_text = app.export_screenshot()
        assert wrong not in screen_text and "wrong-token" not in screen_text


async def test_a_dead_port_is_a_one_line_failure(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = _user_config(tmp_path)
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _choose(pilot, form, "unleash")
        await _type(pilot, form, "base_url", f"http://127.0.0.1:{port}/x")
        await _type(pilot, form, "token", "user:abc")
        await pilot.press("ctrl+t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = widget_text(form.query_one("#test-result"))
        assert result.startswith("✗") and "—" in result and "Traceback" not in result


async def test_a_passing_test_shows_the_invoice_count(server: DemoServer,
                                                      tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _fill_unleash(pilot, form, server)
        await pilot.press("ctrl+t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert _shown(form, "#test-result").startswith(squashed("✓"))
        assert squashed(f"✓ {UNLEASH.invoices} invoices reachable") == _shown(form, "#test-result")
        assert UNLEASH.token and UNLEASH.token not in app.export_screenshot()
    assert path.read_text(encoding="utf-8") == USER_CONFIG  # a test writes nothing


async def test_escape_writes_nothing(server: DemoServer, tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    before = path.stat()
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _fill_unleash(pilot, form, server)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert not (path.parent / "keys").exists() and app.changed == []


async def test_a_pause_in_typing_checks_the_field(tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _choose(pilot, form, "unleash")
        await _type(pilot, form, "base_url", "ftp")
        assert _shown(form, "#problem-base_url") == ""  # not while typing
        await pilot.pause(VALIDATE_DELAY + 0.3)
        assert squashed("is not an http(s) URL") in _shown(form, "#problem-base_url")
        assert _shown(form, "#problem-token") == ""  # a field not yet visited stays quiet


async def test_the_key_file_path_completes_from_the_file_system(
        tmp_path: Path, isolated_home: Path) -> None:
    (isolated_home / "keys").mkdir()
    (isolated_home / "keys" / "vox-credentials.json").write_text("{}", encoding="utf-8")
    path = _user_config(tmp_path)
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _choose(pilot, form, "voximplant")
        await _type(pilot, form, "credentials", "~/ke")
        await pilot.pause()
        await pilot.press("right")  # take the suggestion
        await pilot.press("v", "right")
        await pilot.pause()
        assert form.query_one("#input-credentials", Input).value == \
            "~/keys/vox-credentials.json"


async def test_a_save_the_file_refuses_is_shown_and_writes_nothing(
        server: DemoServer, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[[accounts]\nname = \"broken\"\n", encoding="utf-8")  # bad TOML
    before = path.read_bytes()
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await _fill_unleash(pilot, form, server)
        await _press_and_wait(app, pilot, "enter")
        assert isinstance(app.screen, AccountFormScreen)
        result = widget_text(form.query_one("#test-result"))
        # The long temp path wraps wherever the width runs out, and pytest's numbered
        # base dir changes its length from run to run: compare without the breaks.
        assert result.startswith("✗ not saved") and "invalidTOML" in squashed(result)
        assert UNLEASH.token and UNLEASH.token not in app.export_screenshot()
    assert path.read_bytes() == before and app.changed == []


# --- the OS keyring -------------------------------------------------------------------


@pytest.fixture
def keyring_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tests' JSON-file keyring backend in use in this process (undone after)."""
    path = tmp_path / "keyring.json"
    monkeypatch.setenv(FILE_ENV, str(path))
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(JsonFileKeyring())
    return path


async def test_a_token_can_go_to_the_os_keyring(server: DemoServer, tmp_path: Path,
                                                keyring_file: Path) -> None:
    path = _user_config(tmp_path)
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await app.workers.wait_for_complete()  # the keyring is looked for in a thread
        await pilot.pause()
        await _fill_unleash(pilot, form, server)
        checkbox = form.query_one("#keyring", Checkbox)
        assert not checkbox.disabled
        checkbox.focus()
        await pilot.press("space")
        await _press_and_wait(app, pilot, "ctrl+s")
        assert not isinstance(app.screen, AccountFormScreen)
    text = path.read_text(encoding="utf-8")
    assert "token_keyring = true" in text and UNLEASH.token not in text
    assert json.loads(keyring_file.read_text(encoding="utf-8")) == {
        "invoice-tui\0acme": UNLEASH.token}
    assert load_config(path).account("acme").build().cache_key().startswith("unleash:")


async def test_without_a_keyring_the_choice_is_off_and_says_why(tmp_path: Path) -> None:
    path = _user_config(tmp_path)  # conftest: the "fail" backend, as on a headless box
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert form.query_one("#keyring", Checkbox).disabled
        assert squashed("no OS keyring available") in _shown(form, "#keyring-note")


# --- edit and remove ------------------------------------------------------------------


async def test_edit_changes_only_what_the_form_holds(tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    app = RecordingApp(path, load_config(path))
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path, editing="eu")
        assert form.query_one("#provider", Select).disabled
        assert form.query_one("#input-token_env", Input).value == "EU_TOKEN"
        await _type(pilot, form, "base_url", "https://eu2.example.com/unleash")
        await _press_and_wait(app, pilot, "enter")
    assert path.read_text(encoding="utf-8") == USER_CONFIG.replace(
        "https://eu.example.com/unleash", "https://eu2.example.com/unleash")
    assert len(app.changed) == 1


async def test_edit_keeps_a_stored_token_it_never_shows(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    token = "user:stored-secret-4242"
    path.write_text(f'[[accounts]]\nname = "p"\nprovider = "unleash"\n'
                    f'base_url = "https://p.example.com"\ntoken = "{token}"  # mine\n',
                    encoding="utf-8")
    app = RecordingApp(path, load_config(path))
    async with app.run_test(size=FORM_SIZE) as pilot:
        form = await _open_form(app, pilot, path, editing="p")
        assert form.query_one("#input-token", Input).value == ""
        assert token not in app.export_screenshot()
        await _type(pilot, form, "name", "prod")
        await _press_and_wait(app, pilot, "enter")
    text = path.read_text(encoding="utf-8")
    assert f'token = "{token}"  # mine' in text and 'name = "prod"' in text


async def test_remove_asks_then_removes(tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    path.write_text(USER_CONFIG + '\n[[accounts]]\nname = "two"\nprovider = "unleash"\n'
                    'base_url = "https://two.example.com"\ntoken_env = "T"\n',
                    encoding="utf-8")
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        app.push_screen(RemoveAccountScreen(path, "eu"))
        await pilot.pause()
        await pilot.press("n")  # keep it
        await pilot.pause()
        assert "# the EU instance" in path.read_text(encoding="utf-8")
        app.push_screen(RemoveAccountScreen(path, "eu"))
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    text = path.read_text(encoding="utf-8")
    assert 'name = "eu"' not in text and 'name = "two"' in text
    assert "# my billing accounts — keep this comment" in text
    assert [c.account_names for c in app.changed] == [["two"]]


# --- how the form is reached ----------------------------------------------------------


async def test_the_palette_and_the_pane_open_the_form(tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    config = load_config(path)
    app = InvoiceApp(config, new_store(tmp_path), config_path=path, now=frozen_now,
                     today=TODAY, sync=ScriptedSync({"eu": ()}))
    async with app.run_test(size=(120, 32)) as pilot:
        await settle(app, pilot)
        await run_palette_command(app, pilot, "Accounts: edit eu")
        assert isinstance(app.screen, AccountFormScreen) and app.screen.editing == "eu"
        await pilot.press("escape")
        await run_palette_command(app, pilot, "Accounts: remove eu")
        assert isinstance(app.screen, RemoveAccountScreen)
        await pilot.press("escape")
        await pilot.pause()
        app.screen.query_one("ProviderPane").focus()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AccountFormScreen) and app.screen.editing is None
    assert path.read_text(encoding="utf-8") == USER_CONFIG


async def test_welcome_add_an_account_saves_and_posts(server: DemoServer,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    app = RecordingApp(path)
    async with app.run_test(size=FORM_SIZE) as pilot:
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, AccountFormScreen)
        await _fill_unleash(pilot, form, server)
        await _press_and_wait(app, pilot, "enter")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path).account_names == ["acme"]
    assert [c.account_names for c in app.changed] == [["acme"]]


async def test_first_account_from_welcome_opens_the_main_screen_and_syncs(
        server: DemoServer, tmp_path: Path) -> None:
    # The whole first run: welcome → form → saved → the app applies the ConfigChanged
    # (main screen, the account synced over HTTP) → `a` in the pane adds a second one.
    path = tmp_path / "config.toml"
    app = InvoiceApp(None, config_path=path, now=frozen_now, today=TODAY,
                     cache_dir=tmp_path / "cache")
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, AccountFormScreen)
        await _fill_unleash(pilot, form, server)
        await pilot.press("enter")
        await settle(app, pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        assert main.table.view.total_count == UNLEASH.invoices
        main.pane.focus()
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, AccountFormScreen)
        contoso = demo_account("unleash-contoso")
        await _choose(pilot, form, "unleash")
        await _type(pilot, form, "name", "contoso")
        await _type(pilot, form, "base_url", server.unleash_base_url(contoso.name))
        await _type(pilot, form, "token", contoso.token or "")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is main
        assert main.table.view.total_count == UNLEASH.invoices + contoso.invoices
    assert load_config(path).account_names == ["acme", "contoso"]


# --- the non-UI half -----------------------------------------------------------------


def test_problems_map_to_their_fields(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    draft = AccountDraft("unleash", "", {"base_url": "ftp://x", "token_env": " "})
    problems = draft_problems(draft, None, path)
    assert set(problems) == {"name", "base_url", "token"}  # token/token_env: the group's first
    assert problems["token"].startswith("token/token_env")
    assert "set exactly one" in problems["token"]
    pasted = AccountDraft("voximplant", "v", {"credentials_json": '{"account_id": 1}'})
    problem = draft_problems(pasted, None, path)["credentials_json"]
    assert "lacks key_id, private_key" in problem and problem.startswith("the key given")
    assert "invoice-tui-key-" not in problem


def test_a_failed_save_puts_the_key_file_back(tmp_path: Path) -> None:
    path = _user_config(tmp_path)
    key = path.parent / "keys" / "eu.json"
    draft = AccountDraft("voximplant", "eu", {"credentials_json": "{}"})  # "eu" is taken
    with pytest.raises(ConfigError, match="duplicate name"):
        save_draft(path, draft)
    assert not key.exists() and path.read_text(encoding="utf-8") == USER_CONFIG


def test_paths_complete_from_the_file_system(tmp_path: Path, isolated_home: Path) -> None:
    (isolated_home / "keys").mkdir()
    (isolated_home / "keys" / "vox-credentials.json").write_text("{}", encoding="utf-8")
    assert complete_path("~/ke", tmp_path) == "~/keys/"
    assert complete_path("~/keys/v", tmp_path) == "~/keys/vox-credentials.json"
    assert complete_path("~/keys/vox-credentials.json", tmp_path) is None
    (tmp_path / "local.json").write_text("{}", encoding="utf-8")
    assert complete_path("loc", tmp_path) == "local.json"  # relative to the config's folder
    assert complete_path("/no/such/dir/x", tmp_path) is None


def test_suggested_names_are_free() -> None:
    assert suggest_name("unleash", []) == "unleash"
    assert suggest_name("unleash", ["unleash", "unleash-2"]) == "unleash-3"


async def test_a_config_without_accounts_says_how_to_add_one_and_a_opens_the_form(
        tmp_path: Path) -> None:
    # The example config written for a first start has its accounts commented out.
    path = tmp_path / "config.toml"
    path.write_text(example_config_text(), encoding="utf-8")
    config = load_config(path)
    assert config.accounts == ()
    app = InvoiceApp(config, new_store(tmp_path), config_path=path, now=frozen_now,
                     today=TODAY, cache_dir=tmp_path / "cache")
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(app, pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        assert "No accounts yet — a adds one" in widget_text(main.table)
        main.table.focus()  # `a` works from the table as from the pane
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AccountFormScreen) and app.screen.editing is None

"""The TOML config store: locations, validation messages, round trip, atomic 0600 writes."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

import platformdirs
import pytest

from invoice_tui import config as config_module
from invoice_tui.config import (
    MB,
    AccountConfig,
    AccountOptions,
    Config,
    ConfigError,
    ConfigMissing,
    Settings,
    cache_dir,
    config_path,
    example_config_text,
    load_config,
    save_config,
)
from invoice_tui.demo import DemoServer, demo_config
from invoice_tui.fs import FileTooLarge, NotARegularFile, read_small_file, write_atomic
from invoice_tui.providers import ProviderError, provider_names


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    for line in error.problems:
        assert "\n" not in line
        assert str(path) in line
    text = str(error)
    assert "Traceback" not in text
    return error.problems


# --- locations ---------------------------------------------------------------------------

def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    monkeypatch.setenv("INVOICE_TUI_CONFIG", "~/from-env.toml")
    assert config_path("~/from-cli.toml") == isolated_home / "from-cli.toml"
    assert config_path() == isolated_home / "from-env.toml"
    monkeypatch.delenv("INVOICE_TUI_CONFIG")
    assert config_path() == platformdirs.user_config_path("invoice-tui") / "config.toml"
    assert str(config_path()).startswith(str(isolated_home))


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    monkeypatch.setenv("INVOICE_TUI_CACHE_DIR", "~/env-cache")
    assert cache_dir("~/cli-cache") == isolated_home / "cli-cache"
    assert cache_dir() == isolated_home / "env-cache"
    monkeypatch.delenv("INVOICE_TUI_CACHE_DIR")
    assert cache_dir() == platformdirs.user_cache_path("invoice-tui")


# --- loading and round trip ----------------------------------------------------------------

def test_missing_config_is_config_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigMissing) as caught:
        load_config(tmp_path / "nope.toml")
    assert caught.value.path == tmp_path / "nope.toml"


def test_round_trip_save_then_load_is_equal(tmp_path: Path, demo: Config) -> None:
    data = {"settings": {"page_size": 250, "concurrency": 3, "timeout": 12.5},
            "accounts": [dict(account.options) for account in demo.accounts]}
    path = tmp_path / "cfg" / "config.toml"
    save_config(path, data)
    # Written for people: one [[accounts]] block per account, not inline tables.
    assert path.read_text(encoding="utf-8").count("[[accounts]]") == len(demo.accounts)
    loaded = load_config(path)
    assert loaded.settings == Settings(page_size=250, concurrency=3, timeout=12.5)
    assert loaded.account_names == demo.account_names
    assert [a.options for a in loaded.accounts] == [dict(a.options) for a in demo.accounts]
    # and back again: the loaded config saves to an equal document
    save_config(path, loaded.to_data())
    assert load_config(path) == loaded
    assert loaded.account(demo.account_names[0]).name == demo.account_names[0]
    with pytest.raises(KeyError):
        loaded.account("no-such-account")


def test_saved_config_is_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(path, {"accounts": []})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_atomic(path, b"x = 1\n", 0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    save_config(path, {"accounts": []})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("broken", ["replace", "fsync", "write"])
def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    path = tmp_path / "config.toml"
    save_config(path, {"settings": {"page_size": 7}, "accounts": []})
    before = path.read_bytes()

    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if broken == "replace":
        monkeypatch.setattr(config_module.os, "replace", crash)
    elif broken == "fsync":
        monkeypatch.setattr(config_module.os, "fsync", crash)
    else:
        monkeypatch.setattr(config_module.os, "fdopen", crash)
    with pytest.raises(OSError):
        save_config(path, {"settings": {"page_size": 9}, "accounts": []})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


# --- validation messages ------------------------------------------------------------------

def test_broken_toml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml",
                  '[settings]\npage_size = 100\n\n[[accounts]]\nname = "a"\nprovider = = "x"\n')
    problems = _problems(path)
    assert len(problems) == 1
    assert f"{path} line 6" in problems[0]
    assert problems[0].endswith("fix the TOML syntax")


def test_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[settings]\n# \xff\xfe\n')
    assert "UTF-8" in _problems(path)[0]


def test_bom_is_accepted_and_positions_stay_right(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf[settings]\npage_size = 7\n")
    assert load_config(path).settings.page_size == 7
    path.write_bytes(b"\xef\xbb\xbf[settings]\npage_size = = 7\n")
    assert f"{path} line 2, column 13" in _problems(path)[0]


def test_a_directory_or_a_file_over_1_mb_is_refused(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path)
    assert problem == (f"{tmp_path}: not a regular file (a directory) — point --config at a "
                       "TOML file")
    path = _write(tmp_path / "config.toml", "# padding\n" * (MB // 10 + 1))
    (problem,) = _problems(path)
    assert "larger than 1 MB — this is not an invoice-tui config" in problem
    path.write_bytes(path.read_bytes()[:MB])  # exactly the limit is fine
    assert load_config(path).accounts == ()


def test_read_small_file_never_reads_past_its_limit(tmp_path: Path) -> None:
    # /proc files report size 0 whatever they hold: only the read itself is bounded.
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0 and len(status.read_bytes()) > 64
    with pytest.raises(FileTooLarge):
        read_small_file(status, 64)
    data, info = read_small_file(_write(tmp_path / "x", "abc"), 3)
    assert data == b"abc" and stat.S_ISREG(info.st_mode)
    # (FIFOs are tested in the fault matrix, in a subprocess: a regression would hang.)
    with pytest.raises(NotARegularFile) as caught:
        read_small_file(Path("/dev/null"), 10)
    assert caught.value.kind == "a character device"


def test_unknown_account_keys_are_errors_with_did_you_mean(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml", (
        '[[accounts]]\nname = "un"\nprovider = "unleash"\ntokne = "user:x"\n'
        'base_url = "https://example.com/u"\n\n'
        '[[accounts]]\nname = "vox"\nprovider = "voximplant"\ncredentials = "k.json"\n'
        'base_ulr = "http://127.0.0.1:1/platform_api"\ncolor = "red"\n'))
    problems = _problems(path)
    assert (f"{path}: account 'un': unknown key 'tokne' (did you mean 'token'?) — allowed for "
            "unleash: name, provider, base_url, token, token_env, token_keyring") in problems
    assert (f"{path}: account 'vox': unknown key 'base_ulr' (did you mean 'base_url'?) — allowed "
            "for voximplant: name, provider, credentials, base_url, credentials_keyring"
            ) in problems
    assert any("unknown key 'color' — allowed for voximplant" in line for line in problems)
    assert "user:x" not in "\n".join(problems)


def test_options_are_read_only_and_their_repr_masks_secrets() -> None:
    table = {"name": "un", "provider": "unleash", "token": "user:very-secret",
             "base_url": "https://example.com/u"}
    account = AccountConfig(name="un", provider="unleash", options=table)
    assert isinstance(account.options, AccountOptions)
    assert account.options["token"] == "user:very-secret" and dict(account.options) == table
    assert account == AccountConfig(name="un", provider="unleash", options=dict(table))
    table["token"] = "changed"  # a copy: the caller's dict does not reach in
    assert account.options["token"] == "user:very-secret"
    with pytest.raises(TypeError):
        account.options["token"] = "x"  # type: ignore[index]
    config = Config(path=None, accounts=(account,))
    for text in (repr(account), repr(config), str(config), repr(account.options)):
        assert "very-secret" not in text and "'token': '***'" in text
        assert "https://example.com/u" in text  # the rest stays visible for debugging


@pytest.mark.parametrize(("mode", "shown"), [
    (0o600, None), (0o400, None), (0o644, "readable by others (mode 0644)"),
    (0o640, "readable by others (mode 0640)"), (0o620, "open to others (mode 0620)"),
])
def test_a_token_in_a_config_others_can_reach_warns(tmp_path: Path, mode: int,
                                                     shown: str | None) -> None:
    path = _write(tmp_path / "my config.toml", (
        '[[accounts]]\nname = "un"\nprovider = "unleash"\ntoken = "user:x"\n'
        'base_url = "https://example.com/u"\n'))
    os.chmod(path, mode)
    expected = () if shown is None else (
        f"{path} holds a token and is {shown} — run: chmod 600 '{path}'",)
    assert load_config(path).warnings == expected
    # token_env keeps no secret in the file: no warning at any mode (made writable first:
    # a 0400 file can only be rewritten by root)
    os.chmod(path, 0o600)
    path.write_text(path.read_text().replace('token = "user:x"', 'token_env = "X"'))
    os.chmod(path, mode)
    assert load_config(path).warnings == ()


def test_unknown_provider_lists_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml",
                  '[[accounts]]\nname = "billing"\nprovider = "voximplnt"\n')
    (problem,) = _problems(path)
    assert "account 'billing'" in problem
    assert "unknown provider 'voximplnt'" in problem
    assert "did you mean 'voximplant'" in problem
    for name in provider_names():
        assert name in problem


def test_duplicate_names_and_missing_fields_are_all_reported(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml", (
        '[[accounts]]\nname = "dup"\nprovider = "nope"\n\n'
        '[[accounts]]\nname = "dup"\nprovider = "nope"\n\n'
        '[[accounts]]\nprovider = "nope"\n\n'
        '[[accounts]]\nname = "no-provider"\n'
    ))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    first, *rest = message.splitlines()
    assert first == f"{path}: {len(rest)} problems — fix each of these:"
    assert rest == caught.value.problems
    assert any("account 'dup': duplicate name" in line for line in rest)
    assert any("account #3: missing name" in line for line in rest)
    assert any("account 'no-provider': missing provider" in line for line in rest)
    assert sum("unknown provider 'nope'" in line for line in rest) == 3


def test_settings_keys_types_and_ranges(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml", (
        "[settings]\npage_sise = 10\nconcurrency = 65\ntimeout = 0\n"
        "page_size = true\nmax_response_mb = 0\ndownloads = 3\n\n[extra]\nx = 1\n"
    ))
    problems = _problems(path)
    assert len(problems) == 7
    joined = "\n".join(problems)
    assert "unknown key 'page_sise' (did you mean 'page_size'?)" in joined
    assert "concurrency = 65 — use a whole number from 1 to 64" in joined
    assert "timeout = 0 — use a number of seconds from 1 to 600" in joined
    assert "max_response_mb = 0 — use a whole number from 1 to 1024" in joined
    assert "downloads = 3 — use the folder PDFs are saved to" in joined
    assert "page_size = True — use a whole number from 1 to 1000" in joined
    assert "unknown top-level key 'extra'" in joined


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "601", "0.5"])
def test_timeout_is_a_finite_bounded_deadline(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path / "config.toml", f"[settings]\ntimeout = {value}\n")
    (problem,) = _problems(path)
    assert "use a number of seconds from 1 to 600 (the whole request's deadline)" in problem


def test_new_settings_reach_the_fetch_options(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml",
                  '[settings]\ntimeout = 7\nmax_response_mb = 2\ndownloads = "~/pdfs"\n')
    settings = load_config(path).settings
    assert settings.fetch_options().timeout == 7.0
    assert settings.fetch_options().max_response_bytes == 2 * 1024 * 1024
    assert settings.downloads_dir() == Path.home() / "pdfs"
    assert Settings().downloads_dir() == platformdirs.user_downloads_path()


def test_theme_is_a_non_empty_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml", '[settings]\ntheme = "nord"\n')
    assert load_config(path).settings.theme == "nord"
    assert Settings().theme is None  # Textual's default theme
    # Which names exist is Textual's to say: the UI checks them, the loader only the type.
    assert load_config(_write(path, '[settings]\ntheme = "nrod"\n')).settings.theme == "nrod"
    for value in ('""', '"  "', "3", "true"):
        (problem,) = _problems(_write(path, f"[settings]\ntheme = {value}\n"))
        assert "[settings]: theme = " in problem and "use a theme's name" in problem


def test_keymap_keeps_the_table_as_written(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml", (
        '[keymap]\nopen = "l,enter"\n"main.filter" = "f"\nmain.refresh = "ctrl+r"\n'
        '[keymap.spend]\nback = "b"\n'))
    keymap = load_config(path).keymap
    # Quoted, dotted and sub-table spellings of an id all mean the same id.
    assert dict(keymap) == {"open": "l,enter", "main.filter": "f", "main.refresh": "ctrl+r",
                            "spend.back": "b"}
    assert load_config(_write(path, "")).keymap == {}
    with pytest.raises(TypeError):
        keymap["open"] = "x"  # type: ignore[index]


def test_keymap_values_must_be_key_strings(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml", (
        '[keymap]\nopen = 3\nquit = ""\nhelp = ["f1"]\n[keymap.main.deeper]\nx = "y"\n'
        "[keymaps]\n"))
    problems = _problems(path)
    joined = "\n".join(problems)
    assert len(problems) == 5, joined
    assert "[keymap]: open = 3 — use a comma list of keys, e.g. open = \"l,enter\"" in joined
    assert "[keymap]: quit = ''" in joined and "[keymap]: help = ['f1']" in joined
    assert "[keymap]: main.deeper = {'x': 'y'}" in joined
    assert "unknown top-level key 'keymaps' (did you mean 'keymap'?)" in joined
    (problem,) = _problems(_write(path, 'keymap = "l"\n'))
    assert "keymap must be a table — write it as [keymap]" in problem


def test_theme_and_keymap_survive_a_save(tmp_path: Path) -> None:
    path = _write(tmp_path / "config.toml",
                  '[settings]\ntheme = "nord"\n[keymap]\n"main.filter" = "f"\n')
    loaded = load_config(path)
    save_config(path, loaded.to_data())
    assert load_config(path) == loaded


def _vox_table(name: str, credentials: Path, **extra: object) -> str:
    lines = [f'[[accounts]]\nname = "{name}"\nprovider = "voximplant"\n'
             f'credentials = "{credentials}"\n']
    lines += [f'{key} = "{value}"\n' for key, value in extra.items()]
    return "".join(lines)


def test_http_base_url_only_for_loopback(tmp_path: Path, demo: Config) -> None:
    creds = Path(demo.account("vox-main").options["credentials"]).expanduser()
    path = _write(tmp_path / "config.toml",
                  _vox_table("plain", creds, base_url="http://api.example.com/platform_api")
                  + "\n" + _vox_table("local", creds, base_url="http://127.0.0.1:9/platform_api"))
    (problem,) = _problems(path)
    assert "account 'plain'" in problem
    assert "http://" in problem and "https://" in problem


def test_missing_credentials_file(tmp_path: Path) -> None:
    # A missing key (not a missing key file) is a config problem.
    path = _write(tmp_path / "config.toml",
                  '[[accounts]]\nname = "vox-a"\nprovider = "voximplant"\n')
    (problem,) = _problems(path)
    assert "account 'vox-a'" in problem and "credentials: missing" in problem
    # A key file that is gone only fails its own account when it is built: the
    # config still loads, so the other accounts keep working.
    missing = tmp_path / "nowhere" / "credentials.json"
    path = _write(tmp_path / "config.toml", _vox_table("vox-a", missing))
    account = load_config(path).account("vox-a")
    with pytest.raises(ProviderError) as caught:
        account.build()
    assert str(missing) in caught.value.reason and "does not exist" in caught.value.reason


def test_missing_unleash_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNLEASH_TOKEN", raising=False)
    unleash = ('provider = "unleash"\n'
               'base_url = "https://us.app.unleash-hosted.com/acme"\n')
    path = _write(tmp_path / "config.toml", (
        f'[[accounts]]\nname = "un-none"\n{unleash}\n'
        f'[[accounts]]\nname = "un-env"\n{unleash}token_env = "UNLEASH_TOKEN"\n'
    ))
    (problem,) = _problems(path)
    assert "account 'un-none'" in problem and "token" in problem
    # An unset token_env variable is not a config error (the config still loads and
    # the other accounts work); building that account says which variable to set.
    path = _write(tmp_path / "config.toml",
                  f'[[accounts]]\nname = "un-env"\n{unleash}token_env = "UNLEASH_TOKEN"\n')
    account = load_config(path).account("un-env")
    with pytest.raises(ProviderError) as caught:
        account.build()
    assert "UNLEASH_TOKEN" in str(caught.value) and "\n" not in str(caught.value)


# --- building providers ------------------------------------------------------------------

def test_account_build_uses_the_provider_module(tmp_path: Path, demo: Config) -> None:
    for account in demo.accounts:
        provider = account.build()
        assert type(provider).name == account.provider
    bogus = AccountConfig(name="x", provider="nope", options={"name": "x", "provider": "nope"})
    with pytest.raises(ProviderError) as caught:
        bogus.build()
    assert "unknown provider 'nope'" in str(caught.value)


# --- the example --------------------------------------------------------------------------

def test_example_config_loads_once_placeholders_are_filled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: Config
) -> None:
    example = example_config_text()
    assert "-----BEGIN" not in example and "eyJ" not in example
    # As written, no account: a first start never opens on failing placeholders.
    assert "accounts" not in tomllib.loads(example)
    assert load_config(_write(tmp_path / "config.toml", example)).accounts == ()
    # Uncommented, the example accounts are there.
    text = re.sub(r'(?m)^# ((?:\[\[accounts\]\])|(?:\w+ = "[^"]*"))$', r"\1", example)
    data = tomllib.loads(text)
    assert [a["provider"] for a in data["accounts"]] == ["voximplant", "unleash"]
    # Unfilled placeholders are reported when the account is built, not crashed on.
    path = _write(tmp_path / "config.toml", text)
    with pytest.raises(ProviderError) as caught:
        load_config(path).account("vox-main").build()
    assert "vox-credentials.json does not exist" in caught.value.reason
    # Filled: a real key file for the Voximplant account and the token env var.
    creds = Path(demo.account("vox-main").options["credentials"]).expanduser()
    monkeypatch.setenv("UNLEASH_TOKEN", "user:example-placeholder")
    path = _write(tmp_path / "config.toml",
                  text.replace("~/keys/vox-credentials.json", str(creds)))
    loaded = load_config(path)
    assert isinstance(loaded, Config)
    assert loaded.account_names == ["vox-main", "unleash-prod"]
    assert loaded.settings == Settings()
    assert os.environ["UNLEASH_TOKEN"] not in text


def test_messages_never_echo_a_token(tmp_path: Path) -> None:
    secret = "user:super-secret-123"
    path = _write(tmp_path / "config.toml", (
        f'[[accounts]]\nname = "un"\nprovider = "unleash"\ntoken = "{secret}"\n'
        f'token_env = "X"\nbase_url = "http://{secret}@example.com/x"\n\n'
        f'[[accounts]]\nname = "un"\nprovider = "unleash"\ntoken = "{secret}"\n'
        f'base_url = "ftp://example.com"\ntimeoutt = 3\n'
    ))
    problems = _problems(path)
    assert len(problems) >= 4
    assert all("super-secret" not in line for line in problems)


def test_relative_credentials_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: DemoServer
) -> None:
    demo = demo_config(server, tmp_path / "conf" / "keys")
    vox = next(a for a in demo.accounts if a.provider == "voximplant")
    key_file = Path(vox.options["credentials"])
    config_file = _write(tmp_path / "conf" / "config.toml", (
        '[[accounts]]\nname = "vox"\nprovider = "voximplant"\n'
        f'credentials = "keys/{key_file.name}"\n'
        f'base_url = "{server.voximplant_base_url}"\n'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_config(config_file)
    assert loaded.account("vox").options["credentials"] == str(key_file)
    assert type(loaded.account("vox").build()).name == "voximplant"

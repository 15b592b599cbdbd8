"""config_edit: in-place edits keep the user's comments, validate, and write atomically."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoice_tui import config_edit
from invoice_tui.config import ConfigError, load_config

HAND_WRITTEN = """\
# my invoices — keep this line

# how fast
[settings]
page_size = 50  # the API's favourite

# the main Unleash instance
[[accounts]]
name = "u1"   # production
provider = "unleash"
base_url = "https://one.example.com/acme"
# the token lives in my shell profile
token_env = "TOKEN_ONE"

# staging, paid by the other team
[[accounts]]
name = "u2"
provider = "unleash"
base_url = "https://two.example.com"
token_env = "TOKEN_TWO"

# a third one
[[accounts]]
name = "u3"
provider = "unleash"
base_url = "https://three.example.com"
token_env = "TOKEN_THREE"
"""


def unleash(name: str, env: str = "TOKEN_X") -> dict[str, object]:
    return {"name": name, "provider": "unleash", "base_url": f"https://{name}.example.com",
            "token_env": env}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    return path


def comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]


def test_a_new_setting_keeps_every_comment_and_lands_in_its_table(config_file: Path) -> None:
    config = config_edit.set_setting(config_file, "timeout", 20.0)
    text = config_file.read_text()
    assert comments(text) == comments(HAND_WRITTEN)
    assert config.settings.timeout == 20.0
    # The key goes after page_size, not after the next block's heading comment.
    assert "page_size = 50  # the API's favourite\ntimeout = 20.0\n" in text
    assert load_config(config_file).settings.page_size == 50


def test_a_changed_setting_keeps_its_place(config_file: Path) -> None:
    config_edit.set_setting(config_file, "page_size", 10)
    text = config_file.read_text()
    assert "page_size = 10" in text and "page_size = 50" not in text
    assert comments(text) == comments(HAND_WRITTEN)


@pytest.mark.parametrize(("name", "gone"), [
    ("u1", ["production", "the main Unleash instance", "the token lives in my shell profile"]),
    ("u2", ["staging, paid by the other team"]),
    ("u3", ["a third one"]),
])
def test_removing_an_account_takes_its_own_comments_only(config_file: Path, name: str,
                                                         gone: list[str]) -> None:
    config = config_edit.remove_account(config_file, name)
    text = config_file.read_text()
    assert name not in config.account_names and len(config.accounts) == 2
    assert comments(text) == [c for c in comments(HAND_WRITTEN) if c not in gone]
    assert f'name = "{name}"' not in text


def test_removing_the_first_account_of_a_file_without_settings(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# top\n\n# first\n[[accounts]]\nname = "a"\nprovider = "unleash"\n'
                    'base_url = "https://a.example.com"\ntoken_env = "A"\n\n# second\n'
                    '[[accounts]]\nname = "b"\nprovider = "unleash"\n'
                    'base_url = "https://b.example.com"\ntoken_env = "B"\n')
    config_edit.remove_account(path, "a")
    assert comments(path.read_text()) == ["top", "second"]
    assert load_config(path).account_names == ["b"]


def test_an_added_account_comes_last_after_a_blank_line(config_file: Path) -> None:
    config = config_edit.add_account(config_file, unleash("u4"))
    text = config_file.read_text()
    assert config.account_names == ["u1", "u2", "u3", "u4"]
    assert text.startswith(HAND_WRITTEN)
    assert text[len(HAND_WRITTEN):].startswith('\n[[accounts]]\nname = "u4"\n')


def test_updating_an_account_keeps_its_comments_and_adds_keys_inside_it(config_file: Path) -> None:
    config_edit.update_account(config_file, "u1", {"token_env": None, "token": "tok-1"})
    text = config_file.read_text()
    assert comments(text) == comments(HAND_WRITTEN)
    block = text.split("[[accounts]]")[1]
    assert 'token = "tok-1"' in block and "token_env" not in block
    # The new key sits before the next block's heading comment, not under it.
    assert block.index('token = "tok-1"') < block.index("# staging")


def test_replace_renames_and_drops_keys_not_given(config_file: Path) -> None:
    table = unleash("renamed", "NEW_ENV")
    config = config_edit.replace_account(config_file, "u2", table)
    assert config.account_names == ["u1", "renamed", "u3"]
    assert dict(config.account("renamed").options) == table
    assert "staging, paid by the other team" in comments(config_file.read_text())


def test_an_invalid_edit_writes_nothing(config_file: Path) -> None:
    before = config_file.read_bytes()
    with pytest.raises(ConfigError, match="duplicate name"):
        config_edit.add_account(config_file, unleash("u1"))
    with pytest.raises(ConfigError, match="base_url"):
        config_edit.update_account(config_file, "u1", {"base_url": "http://plain.example.com"})
    with pytest.raises(ConfigError, match="no account 'nope'"):
        config_edit.remove_account(config_file, "nope")
    with pytest.raises(ConfigError, match="page_size"):
        config_edit.set_setting(config_file, "page_size", 0)
    assert config_file.read_bytes() == before


def test_a_missing_file_is_made_with_the_header_and_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    config_edit.add_account(path, unleash("first"))
    text = path.read_text()
    assert text.startswith("# invoice-tui config (TOML)")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path).account_names == ["first"]


def test_an_inline_accounts_array_is_edited_in_its_own_form(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('accounts = [{name = "a", provider = "unleash", '
                    'base_url = "https://a.example.com", token_env = "A"}]  # inline\n')
    config_edit.add_account(path, unleash("b"))
    config_edit.update_account(path, "a", {"token_env": "AA"})
    assert load_config(path).account_names == ["a", "b"]
    assert load_config(path).account("a").options["token_env"] == "AA"
    assert "# inline" in path.read_text()


def test_a_broken_file_is_a_config_error_and_stays_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[settings\npage_size = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        config_edit.set_setting(path, "page_size", 2)
    assert path.read_bytes() == b"[settings\npage_size = 1\n"


def test_a_header_lookalike_inside_a_multiline_string_cannot_mislead_the_text_edits() -> None:
    # No valid config holds a line break in a value, so this checks the text edit itself:
    # it must give the structural edit's data or step aside (None), never other data.
    text = ('[[accounts]]\nname = "a"\n\n[[accounts]]\nname = "b"\ntoken = """x\n'
            '[[accounts]]\ny"""\n\n[[accounts]]\nname = "c"\n')
    for index in range(3):
        edited = config_edit._remove_block_text(tomlkit.parse(text), index)
        expected = tomllib.loads(text)
        del expected["accounts"][index]
        assert edited is None or edited.unwrap() == expected
    assert config_edit._remove_block_text(tomlkit.parse(text), 1) is None  # the lookalike


names = st.sampled_from(["a", "b", "c", "d"])
operations = st.lists(st.tuples(st.sampled_from(["add", "remove", "update"]), names),
                      max_size=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_any_sequence_of_edits_gives_the_data_a_plain_model_gives(
        tmp_path: Path, ops: list[tuple[str, str]]) -> None:
    path = tmp_path / "prop.toml"
    path.write_text("# top comment\n\n[settings]\npage_size = 5\n\n# tail comment\n")
    model: dict[str, dict[str, object]] = {}
    for step, (op, name) in enumerate(ops):
        try:
            if op == "add":
                config_edit.add_account(path, unleash(name, f"E{step}"))
                model[name] = unleash(name, f"E{step}")
            elif op == "remove":
                config_edit.remove_account(path, name)
                del model[name]
            else:
                config_edit.update_account(path, name, {"token_env": f"U{step}"})
                model[name]["token_env"] = f"U{step}"
        except ConfigError:
            assert (op == "add") == (name in model)  # refused exactly when it must be
    data = tomllib.loads(path.read_text())
    assert {a["name"]: a for a in data.get("accounts", [])} == model
    assert data["settings"] == {"page_size": 5}
    assert "# top comment" in path.read_text()

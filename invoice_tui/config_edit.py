"""Edits of config.toml that keep the user's comments and layout (tomlkit round-trips).

Every edit reads the file (the same 1 MB, regular-file-only read as loading),
changes only what it names in the parsed document, validates the result with
the loader's own validators (``parse_config``) and writes it atomically with
mode 0600. An edit that would make the config invalid raises ``ConfigError``
and writes nothing; the file on disk is never half-written.

The UI and the CLI call the four functions below; no tomlkit type leaves this
module.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Imported whole (deferred.DEFERRED: ~40 ms the first frame does without); its types are
# read as tomlkit.items.X when an edit runs.
import tomlkit

from .config import (
    CONFIG_LIMIT,
    Config,
    ConfigError,
    example_header,
    parse_config,
)
from .fs import FileTooLarge, NotARegularFile, read_small_file, write_atomic

#: ``None`` as a value in ``update_account``'s changes removes that key.
REMOVE = None


def set_setting(path: Path, key: str, value: Any) -> Config:
    """Set ``[settings] key = value`` (the table is made if absent); the config as saved."""
    doc = _read(path)
    settings = doc.get("settings")
    if settings is None:
        settings = tomlkit.table()
        # [settings] goes before the accounts, where a reader looks for it.
        _insert_first(doc, "settings", settings)
    if not isinstance(settings, tomlkit.items.Table | tomlkit.items.InlineTable):
        raise ConfigError(f"{path}: settings must be a table — write it as [settings]")
    _set_key(settings, key, value)
    return _write(path, doc)


def add_account(path: Path, table: Mapping[str, Any]) -> Config:
    """Append ``table`` as a new ``[[accounts]]`` block; the config as saved.

    ``ConfigError`` if the result is invalid (a duplicate name, a bad option …).
    """
    doc = _read(path)
    appended = _append_block_text(doc, table)
    if appended is not None:
        return _write(path, appended)
    accounts = doc.get("accounts")
    if accounts is None:
        doc.append("accounts", tomlkit.aot())
        accounts = doc["accounts"]
    if isinstance(accounts, tomlkit.items.AoT):
        block = tomlkit.table()
        for key, value in table.items():
            block[key] = value
        accounts.append(block)
    elif isinstance(accounts, tomlkit.items.Array):
        inline = tomlkit.inline_table()
        inline.update(dict(table))
        accounts.append(inline)
    else:
        raise ConfigError(f"{path}: accounts must be an array of tables — write each as "
                          "[[accounts]]")
    return _write(path, doc)


def update_account(path: Path, name: str, changes: Mapping[str, Any]) -> Config:
    """Change the keys of account ``name`` in place (``None`` removes a key); the config
    as saved. Comments inside and around the block stay where they were.

    A ``"name"`` in ``changes`` renames the account. ``ConfigError`` if there is no
    such account or the result is invalid.
    """
    doc = _read(path)
    block = _find_account(doc, name, path)
    for key, value in changes.items():
        if value is None:
            if key in block:
                del block[key]
        else:
            _set_key(block, key, value)
    return _write(path, doc)


def replace_account(path: Path, name: str, table: Mapping[str, Any]) -> Config:
    """Make account ``name``'s block hold exactly ``table`` (keys kept in place where they
    stay, removed where they go, appended where new); the config as saved."""
    doc = _read(path)
    block = _find_account(doc, name, path)
    changes: dict[str, Any] = {key: None for key in block if key not in table}
    changes.update(table)
    for key, value in changes.items():
        if value is None:
            del block[key]
        elif key not in block or block[key] != value:
            _set_key(block, key, value)
    return _write(path, doc)


def remove_account(path: Path, name: str) -> Config:
    """Delete account ``name``'s block; the config as saved."""
    doc = _read(path)
    accounts = doc.get("accounts")
    index = _account_index(accounts, name)
    if index is None or not isinstance(accounts, tomlkit.items.AoT | tomlkit.items.Array):
        raise ConfigError(f"{path}: no account {name!r} — nothing to remove")
    removed = _remove_block_text(doc, index)
    if removed is not None:
        return _write(path, removed)
    del accounts[index]
    if isinstance(accounts, tomlkit.items.AoT) and len(accounts) == 0:
        del doc["accounts"]
    return _write(path, doc)


# --- the document ---------------------------------------------------------------

def _read(path: Path) -> tomlkit.TOMLDocument:
    """The parsed document, or a new one holding the example header if there is no file."""
    try:
        raw, _info = read_small_file(path, CONFIG_LIMIT)
    except FileNotFoundError:
        return tomlkit.parse(example_header())
    except (NotARegularFile, IsADirectoryError):
        raise ConfigError(f"{path}: not a regular file — point --config at a TOML file") \
            from None
    except FileTooLarge:
        raise ConfigError(f"{path}: too large to be an invoice-tui config — check --config") \
            from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or type(exc).__name__}) — "
                          "check its permissions") from None
    try:
        return tomlkit.parse(raw.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}) — save it as UTF-8") \
            from None
    except Exception as exc:  # tomlkit's ParseError and friends: the file is not TOML
        raise ConfigError(f"{path}: invalid TOML ({_first_line(exc)}) — fix the file first, "
                          "then try again") from None


def _write(path: Path, doc: tomlkit.TOMLDocument) -> Config:
    """Validate ``doc`` as the loader would, then save it atomically (mode 0600)."""
    text = tomlkit.dumps(doc)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # a value tomlkit wrote that TOML rejects
        raise ConfigError(f"{path}: the edit would not be valid TOML ({_first_line(exc)})") \
            from None
    config = parse_config(data, path)  # raises ConfigError listing every problem
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, text.encode("utf-8"), 0o600)
    return config


def _find_account(doc: tomlkit.TOMLDocument, name: str,
                  path: Path) -> tomlkit.items.Table | tomlkit.items.InlineTable:
    accounts = doc.get("accounts")
    index = _account_index(accounts, name)
    if index is None or not isinstance(accounts, tomlkit.items.AoT | tomlkit.items.Array):
        raise ConfigError(f"{path}: no account {name!r} — check the name (invoice-tui "
                          "accounts lists them)")
    block = accounts[index]
    if not isinstance(block, tomlkit.items.Table | tomlkit.items.InlineTable):
        raise ConfigError(f"{path}: account {name!r} is not a table — write it as [[accounts]]")
    return block


def _account_index(accounts: object, name: str) -> int | None:
    if not isinstance(accounts, tomlkit.items.AoT | tomlkit.items.Array):
        return None
    for index, block in enumerate(accounts):
        if isinstance(block, tomlkit.items.Table | tomlkit.items.InlineTable) \
                and block.get("name") == name:
            return index
    return None


def _insert_first(doc: tomlkit.TOMLDocument, key: str, table: tomlkit.items.Table) -> None:
    """Put ``table`` before the first table of ``doc`` (after its leading comments)."""
    keys = list(doc.keys())
    if not keys:
        doc.append(key, table)
        return
    rest = {k: doc[k] for k in keys}
    for k in keys:
        del doc[k]
    doc.append(key, table)
    for k, value in rest.items():
        doc.append(k, value)


def _set_key(table: tomlkit.items.Table | tomlkit.items.InlineTable, key: str, value: Any) -> None:
    """``table[key] = value``; a new key goes after the table's last key, not after the
    comments and blank lines that end it (in TOML those sit in this table's body, but a
    reader sees them as the heading of the next table)."""
    if key in table or not isinstance(table, tomlkit.items.Table):
        table[key] = value
        return
    body = table.value.body
    start = len(body)
    while start > 0 and body[start - 1][0] is None \
            and isinstance(body[start - 1][1], tomlkit.items.Whitespace | tomlkit.items.Comment):
        start -= 1
    # Keyless trivia only: the container's key map holds no index at or past ``start``.
    trailing = body[start:]
    del body[start:]
    table[key] = value
    body.extend(trailing)


# The text-level edits below keep comments where a reader expects them; each result is
# accepted only if it parses to exactly the data the structural edit would give, so a
# header-like line inside a multi-line string can never mislead them.
_TABLE_HEADER = re.compile(r"\s*\[")
_ACCOUNTS_HEADER = re.compile(r"\s*\[\[\s*(accounts|\"accounts\"|'accounts')\s*\]\]\s*(#.*)?$")


def _append_block_text(doc: tomlkit.TOMLDocument, table: Mapping[str, Any]) \
        -> tomlkit.TOMLDocument | None:
    """``doc`` with a new ``[[accounts]]`` block appended as text after one blank line."""
    if not isinstance(doc.get("accounts", tomlkit.aot()), tomlkit.items.AoT):
        return None
    text = tomlkit.dumps(doc).rstrip("\n")
    block = "[[accounts]]\n" + tomlkit.dumps(dict(table))
    candidate = f"{text}\n\n{block}" if text else block
    expected = doc.unwrap()
    expected.setdefault("accounts", []).append(dict(table))
    return _if_same(candidate, expected)


def _remove_block_text(doc: tomlkit.TOMLDocument, index: int) -> tomlkit.TOMLDocument | None:
    """``doc`` without the ``index``-th ``[[accounts]]`` block, with the comment paragraph
    right above it, and keeping the one right above the next table."""
    lines = tomlkit.dumps(doc).splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if _TABLE_HEADER.match(line)]
    blocks = [i for i in headers if _ACCOUNTS_HEADER.match(lines[i])]
    if index >= len(blocks):
        return None
    start = blocks[index]
    end = next((h for h in headers if h > start), len(lines))
    kept = lines[:_paragraph_above(lines, start)] + lines[_paragraph_above(lines, end):]
    candidate = "".join(kept).rstrip("\n") + "\n"
    expected = doc.unwrap()
    del expected["accounts"][index]
    if not expected["accounts"]:
        del expected["accounts"]
    return _if_same(candidate, expected)


def _paragraph_above(lines: list[str], line: int) -> int:
    """The first line of the comment lines directly above ``line`` (``line`` if none)."""
    while line > 0 and line <= len(lines) and lines[line - 1].lstrip().startswith("#"):
        line -= 1
    return line


def _if_same(text: str, expected: dict[str, Any]) -> tomlkit.TOMLDocument | None:
    try:
        if tomllib.loads(text) != expected:
            return None
        return tomlkit.parse(text)
    except Exception:  # not TOML after all: the caller takes the structural way
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__

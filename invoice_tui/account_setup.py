"""The in-app account form without the UI: a draft account, its problems per field, saving it.

The form (``ui/screens/account_form.py``) draws each provider's declared
:class:`~invoice_tui.providers.base.FormField`\\ s and hands what was typed here as an
:class:`AccountDraft`. Problems come from the loader's own validators
(:func:`~invoice_tui.config.parse_config`, so the provider's ``validate_options`` and the
``base_url`` rule) run on the candidate table, each problem line mapped to the field it
names; saving goes through :mod:`invoice_tui.config_edit` (atomic, 0600, comments kept).
Nothing here knows a provider by name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config_edit, keyring_store
from .config import CONFIG_LIMIT, AccountConfig, Config, ConfigError, parse_config
from .fs import read_small_file, write_atomic
from .providers import provider_class
from .providers.base import FormField, KeyringSecret, ProviderError

#: The field every account has, before the provider's own.
NAME_FIELD = "name"
#: Where a problem goes that names no field (an unknown key, say).
GENERAL = ""
#: Folder (beside config.toml) where pasted key files are saved, one per account.
KEYS_DIR = "keys"
#: Entries of a folder looked at when completing a path (a huge folder never stalls typing).
COMPLETION_SCAN_LIMIT = 2000


def form_fields(provider: str) -> tuple[FormField, ...]:
    """The provider's declared form fields (none for an unknown provider)."""
    cls = provider_class(provider)
    return cls.form_fields if cls is not None else ()


def keyring_spec(provider: str) -> KeyringSecret | None:
    """How the provider's secret can live in the OS keyring (``None``: it cannot)."""
    cls = provider_class(provider)
    return cls.keyring_secret if cls is not None else None


def managed_keys(provider: str) -> set[str]:
    """Every ``[[accounts]]`` key the form sets or clears for ``provider``."""
    keys = {item.key for item in form_fields(provider)}
    spec = keyring_spec(provider)
    if spec is not None:
        keys.add(spec.option)
    return keys


def suggest_name(provider: str, taken: list[str]) -> str:
    """A name for a new account not in ``taken``: ``unleash``, ``unleash-2``, …"""
    if provider not in taken:
        return provider
    number = 2
    while f"{provider}-{number}" in taken:
        number += 1
    return f"{provider}-{number}"


def key_file_option(name: str) -> str:
    """The ``credentials`` value of a pasted key: relative, so it moves with the config."""
    return f"{KEYS_DIR}/{name}.json"


@dataclass(frozen=True, slots=True)
class AccountDraft:
    """What the form holds: the provider, the name and each field's text as typed.

    ``previous`` is the account's table as written in the file when editing: a secret
    group left blank keeps its previous keys (the form never shows a stored secret).
    ``keyring`` sends the typed secret to the OS keyring instead of the config.
    """

    provider: str
    name: str
    values: Mapping[str, str] = field(default_factory=dict)
    previous: Mapping[str, Any] | None = None
    keyring: bool = False

    def value(self, name: str) -> str:
        """The field's text, trimmed."""
        return self.values.get(name, "").strip()

    def filled(self, item: FormField) -> bool:
        """Whether something was typed in the field."""
        return bool(self.value(item.name))

    def secret_field(self) -> FormField | None:
        """The filled secret (typed token or pasted key), if any."""
        for item in form_fields(self.provider):
            if item.kind in ("secret", "json_secret") and self.filled(item):
                return item
        return None

    def to_keyring(self) -> KeyringSecret | None:
        """The keyring spec when the typed secret goes to the OS keyring, else ``None``."""
        spec = keyring_spec(self.provider)
        return spec if self.keyring and spec and self.secret_field() else None

    def table(self) -> dict[str, Any]:
        """The ``[[accounts]]`` table this draft saves (a pasted key as its file's path,
        a secret sent to the keyring as its ``…_keyring = true``)."""
        table: dict[str, Any] = {"name": self.name.strip(), "provider": self.provider}
        fields = form_fields(self.provider)
        spec = self.to_keyring()
        for item in fields:
            text = self.value(item.name)
            if not text or (spec is not None and item.key in spec.replaces):
                continue
            if item.kind == "json_secret":
                table[item.key] = key_file_option(self.name.strip())
            else:
                table[item.key] = text
        if spec is not None:
            table[spec.option] = True
        elif self.previous is not None:
            self._keep_untouched_secrets(table, fields)
        return table

    def _keep_untouched_secrets(self, table: dict[str, Any],
                                fields: tuple[FormField, ...]) -> None:
        previous = self.previous or {}
        groups = {item.one_of for item in fields if item.one_of}
        for group in groups:
            members = [item for item in fields if item.one_of == group]
            if any(self.filled(item) for item in members):
                continue
            if not any(item.kind in ("secret", "json_secret") for item in members):
                continue
            spec = keyring_spec(self.provider)
            keys = [item.key for item in members]
            if spec is not None and set(spec.replaces) & set(keys):
                keys.append(spec.option)
            for key in keys:  # nothing typed: the stored secret (or where it is) stays
                if key in previous:
                    table[key] = previous[key]


def field_for(draft: AccountDraft, text: str) -> str:
    """The form field a problem line (``"base_url: …"``) is about, or :data:`GENERAL`."""
    head = text.split(":", 1)[0].strip() if ":" in text else ""
    if text.startswith(("duplicate name", "missing name", "name must")):
        return NAME_FIELD
    fields = form_fields(draft.provider)
    keys = head.split("/") if head else []
    spec = keyring_spec(draft.provider)
    if spec is not None and spec.option in keys:
        keys += list(spec.replaces)
    named = [item for item in fields if item.key in keys]
    if named:
        # Of alternatives (key file or pasted key), the one the user filled.
        return next((item.name for item in named if draft.filled(item)), named[0].name)
    for item in fields:  # "environment variable UNLEASH_TOKEN is not set"
        value = draft.value(item.name)
        if value and item.kind == "text" and value in text:
            return item.name
    return GENERAL


def draft_problems(draft: AccountDraft, config: Config | None, path: Path | None,
                   editing: str | None = None) -> dict[str, str]:
    """Why the draft cannot be saved, one line per field (:data:`GENERAL` for the rest).

    Runs the loader's :func:`parse_config` on the other accounts plus this one, so
    the rules (and the words) are exactly those of loading the file; a pasted key is
    checked by building the provider from it.
    """
    others = [dict(account.options) for account in (config.accounts if config else ())
              if account.name != editing]
    table = draft.table()
    problems: dict[str, str] = {}
    try:
        parse_config({"accounts": [*others, table]}, path)
    except ConfigError as error:
        where = str(path) if path is not None else "config"
        name = table["name"]
        label = f"account {name!r}" if name else f"account #{len(others) + 1}"
        for line in error.problems:
            text = line.removeprefix(f"{where}: ")
            if not text.startswith(f"{label}: "):
                continue  # another account's problem: not this form's business
            text = text.removeprefix(f"{label}: ")
            problems.setdefault(field_for(draft, text), text)
    secret = draft.secret_field()
    if secret is not None and secret.name not in problems and \
            (secret.kind == "json_secret" or draft.to_keyring() is not None):
        problem = secret_problem(draft, secret)
        if problem:
            problems[secret.name] = problem
    return problems


def draft_warnings(draft: AccountDraft, path: Path | None) -> dict[str, str]:
    """What building the account would fail on now (a missing key file, an unset env var).

    Not a reason to refuse saving, as for the loader (the file may come later), but
    worth showing under its field. Pasted keys are checked by :func:`draft_problems`.
    """
    if any(item.kind == "json_secret" and draft.filled(item) for item in
           form_fields(draft.provider)) or draft.to_keyring() is not None:
        return {}
    try:
        account_config(draft, path).build()
    except ProviderError as error:
        return {field_for(draft, error.reason): str(error)}
    except ConfigError:
        return {}  # draft_problems says what
    return {}


def account_config(draft: AccountDraft, path: Path | None) -> AccountConfig:
    """The draft as a validated account (relative paths resolved as the loader does)."""
    config = parse_config({"accounts": [draft.table()]}, path)
    return config.accounts[0]


@contextlib.contextmanager
def testable_account(draft: AccountDraft, path: Path | None) -> Iterator[AccountConfig]:
    """The draft as an account a connection test can use, a pasted key in a temp file
    (0600, removed after): nothing is saved. ``ConfigError`` if the draft is invalid."""
    pasted = next((item for item in form_fields(draft.provider)
                   if item.kind == "json_secret" and draft.filled(item)), None)
    account = account_config(AccountDraft(draft.provider, draft.name, draft.values,
                                          draft.previous), path)
    if pasted is None:
        yield account
        return
    with tempfile.TemporaryDirectory(prefix="invoice-tui-key-") as temp:
        key = Path(temp) / "key.json"
        write_atomic(key, draft.value(pasted.name).encode("utf-8"), 0o600)
        options = {**account.options, pasted.key: str(key)}
        yield AccountConfig(account.name, account.provider, options)


def secret_problem(draft: AccountDraft, item: FormField) -> str | None:
    """Why the typed secret (a pasted key, or a token bound for the keyring, neither of
    which the table holds) is unusable, by the provider's own check; or ``None``."""
    cls = provider_class(draft.provider)
    if cls is None or cls.keyring_secret is None:
        return None
    try:
        cls.check_secret(draft.value(item.name))
    except ProviderError as error:
        return str(error).removeprefix(f"{item.key}: ")
    return None


# --- reading, completing, saving ------------------------------------------------------

def raw_account(path: Path, name: str) -> dict[str, Any] | None:
    """Account ``name``'s table as written in the file (relative paths as the user wrote
    them), or ``None`` if the file or the account cannot be read."""
    try:
        raw, _ = read_small_file(path, CONFIG_LIMIT)
        data = tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))
    except (OSError, ValueError):
        return None
    for table in data.get("accounts", []):
        if isinstance(table, dict) and table.get("name") == name:
            return table
    return None


def complete_path(value: str, base: Path) -> str | None:
    """``value`` completed with the first matching file or folder name (a folder gets
    a ``/``), or ``None``. ``~`` is expanded; a relative path is relative to ``base``
    (the config's folder, where the loader resolves it). What was typed is kept as typed.
    """
    if not value or "\n" in value:
        return None
    expanded = Path(os.path.expanduser(value))
    if not expanded.is_absolute():
        expanded = base / expanded
    directory, prefix = (expanded, "") if value.endswith("/") else \
        (expanded.parent, expanded.name)
    try:
        with os.scandir(directory) as entries:
            names = []
            for index, entry in enumerate(entries):
                if index >= COMPLETION_SCAN_LIMIT:
                    break
                if entry.name.startswith(prefix) and entry.name != prefix and \
                        (prefix.startswith(".") or not entry.name.startswith(".")):
                    names.append((entry.name, entry.is_dir()))
    except OSError:
        return None
    if not names:
        return None
    found, is_dir = min(names)
    return value + found[len(prefix):] + ("/" if is_dir else "")


def save_draft(path: Path, draft: AccountDraft, editing: str | None = None) -> Config:
    """Write the draft into config.toml (added, or account ``editing`` changed in place);
    the config as saved. A pasted key is saved first as ``keys/<name>.json`` (0600);
    when the config cannot be saved (``ConfigError``) that file is put back as it was.
    """
    table = draft.table()
    spec = draft.to_keyring()
    if spec is not None:
        return _save_with_keyring(path, draft, editing)
    pasted = next((item for item in form_fields(draft.provider)
                   if item.kind == "json_secret" and draft.filled(item)), None)
    key_path = path.parent / key_file_option(table["name"])
    before: bytes | None = None
    if pasted is not None:
        with contextlib.suppress(OSError):
            before = key_path.read_bytes()
        write_atomic(key_path, draft.value(pasted.name).encode("utf-8"), 0o600)
    try:
        return _write_table(path, draft.provider, table, editing)
    except ConfigError:
        if pasted is not None:
            _put_back(key_path, before)
        raise


def _write_table(path: Path, provider: str, table: dict[str, Any],
                 editing: str | None) -> Config:
    if editing is None:
        return config_edit.add_account(path, table)
    changes: dict[str, Any] = {key: table.get(key) for key in managed_keys(provider)}
    changes["name"] = table["name"]
    return config_edit.update_account(path, editing, changes)


def _save_with_keyring(path: Path, draft: AccountDraft, editing: str | None) -> Config:
    """The secret into the OS keyring (checked and normalized by the provider), then the
    config; when the config cannot be saved the keyring entry is put back as it was.
    ``ProviderError`` (one line, no secret) when the keyring refuses."""
    cls = provider_class(draft.provider)
    secret = draft.secret_field()
    if cls is None or secret is None:
        raise ConfigError(f"{path}: nothing to keep in the keyring")
    name = draft.name.strip()
    value = cls.check_secret(draft.value(secret.name))
    try:
        before: str | None = keyring_store.get_secret(name)
    except ProviderError:
        before = None
    keyring_store.set_secret(name, value)
    try:
        return _write_table(path, draft.provider, draft.table(), editing)
    except ConfigError:
        with contextlib.suppress(ProviderError):
            if before is None:
                keyring_store.delete_secret(name)
            else:
                keyring_store.set_secret(name, before)
        raise


def remove_saved_account(path: Path, name: str) -> Config:
    """Remove account ``name`` from config.toml (comments kept, atomic); the config as saved.
    Its key file and keyring entry stay: they may be the user's own."""
    return config_edit.remove_account(path, name)


def _put_back(key_path: Path, before: bytes | None) -> None:
    with contextlib.suppress(OSError):
        if before is None:
            key_path.unlink()
        else:
            write_atomic(key_path, before, 0o600)

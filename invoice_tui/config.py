"""The local TOML config store (SPEC §3): where it lives, loading, validation, atomic saves.

The signatures of this module are a contract the UI codes against. Validation
gathers every problem at once, one line each naming the file, the account and
the fix; provider-specific keys are checked by the provider itself
(``validate_options``), so adding a provider never touches this module.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import shlex
import stat
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs
import tomli_w

from .fs import FileTooLarge, NotARegularFile, read_small_file, write_atomic
from .providers import provider_class, provider_names
from .providers.base import FetchOptions, Provider, ProviderError

APP_NAME = "invoice-tui"
CONFIG_ENV = "INVOICE_TUI_CONFIG"
CACHE_ENV = "INVOICE_TUI_CACHE_DIR"

TOP_LEVEL_KEYS = ("settings", "accounts", "keymap")
#: Keys every ``[[accounts]]`` table has; each provider adds its ``option_keys``.
ACCOUNT_KEYS = ("name", "provider")
SETTINGS_KEYS = ("page_size", "concurrency", "timeout", "max_retries", "max_response_mb",
                 "downloads", "theme")
#: ``timeout`` is a whole request's wall-clock deadline: finite and bounded, so every
#: request ends by then whatever the server does.
TIMEOUT_RANGE = (1.0, 600.0)


class ConfigError(Exception):
    """A config problem, as one line naming the file, the line or account, and the fix.

    With several problems the message's first line summarises and each further
    line is one problem; ``problems`` holds those lines.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


class ConfigMissing(ConfigError):
    """There is no config file yet (the TUI shows its welcome screen)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no config at {path}")
        self.path = path


_DEFAULTS = FetchOptions()  # one place for the defaults of every setting
MB = 1024 * 1024
#: A config is a few KB; anything over this is the wrong file, and is not read.
CONFIG_LIMIT = 1 * MB


@dataclass(frozen=True, slots=True)
class Settings:
    """``[settings]``."""

    page_size: int = _DEFAULTS.page_size
    concurrency: int = _DEFAULTS.concurrency
    timeout: float = _DEFAULTS.timeout
    max_retries: int = _DEFAULTS.max_retries
    #: The largest response body read, in MB (decompressed); bigger answers are refused.
    max_response_mb: int = _DEFAULTS.max_response_bytes // MB
    #: Where PDFs go; ``None``: the platform's downloads folder (never the cwd).
    downloads: str | None = None
    #: A Textual theme name; ``None``: Textual's default. Checked against the themes
    #: the app knows by the UI (the set is Textual's), not here.
    theme: str | None = None

    def fetch_options(self) -> FetchOptions:
        """The knobs providers honour."""
        return FetchOptions(page_size=self.page_size, concurrency=self.concurrency,
                            timeout=self.timeout, max_retries=self.max_retries,
                            max_response_bytes=self.max_response_mb * MB)

    def downloads_dir(self) -> Path:
        """The folder PDFs are saved to: ``downloads`` (``~`` expanded) or the platform's."""
        if self.downloads:
            return _expand(self.downloads)
        return platformdirs.user_downloads_path()


#: Option names whose values are secrets (or name where one is kept): masked in reprs.
_SECRET_WORDS = ("token", "secret", "password", "private", "key")


def is_secret_option(key: str) -> bool:
    """Whether an account option's value must never be shown (``token``, ``api_key``, …)."""
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


class AccountOptions(Mapping[str, Any]):
    """An ``[[accounts]]`` table, read-only, whose ``repr`` masks secret values.

    Crash dumps, debuggers and log lines show objects by ``repr``; a token held
    here shows as ``'***'`` there, while ``options["token"]`` still gives it.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] = MappingProxyType({})) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        shown = {key: "***" if is_secret_option(key) else value
                 for key, value in self._items.items()}
        return f"AccountOptions({shown!r})"


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One validated ``[[accounts]]`` table; ``options`` is the whole table as read.

    ``options`` is an :class:`AccountOptions` (any mapping given is copied into
    one), so no repr of an account, or of the config holding it, shows a secret.
    """

    name: str
    provider: str
    options: Mapping[str, Any] = field(default_factory=AccountOptions)

    def __post_init__(self) -> None:
        if not isinstance(self.options, AccountOptions):
            object.__setattr__(self, "options", AccountOptions(self.options))

    def build(self) -> Provider:
        """The provider object for this account (may raise ``ProviderError``)."""
        cls = provider_class(self.provider)
        if cls is None:
            raise ProviderError(f"unknown provider {self.provider!r}",
                                f"known providers: {', '.join(provider_names())}")
        return cls.from_options(self.name, self.options)


@dataclass(frozen=True, slots=True)
class Config:
    """A loaded, validated config."""

    path: Path | None
    settings: Settings = Settings()
    accounts: tuple[AccountConfig, ...] = ()
    #: Problems that do not stop loading (e.g. a token in a file others can read), one
    #: line each naming the file and the fix: the CLI prints them, the TUI toasts them.
    warnings: tuple[str, ...] = ()
    #: ``[keymap]`` as written: binding id (or its short name) → comma list of keys. The
    #: ids and key names are checked by the UI (``invoice_tui.ui.keymap``), which alone
    #: knows the bindings; here only its shape (strings) is.
    keymap: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def account(self, name: str) -> AccountConfig:
        """The account called ``name`` (``KeyError`` if none)."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    @property
    def account_names(self) -> list[str]:
        """Names of every account, in config order."""
        return [account.name for account in self.accounts]

    def to_data(self) -> dict[str, Any]:
        """The TOML document this config was loaded from (``save_config`` writes it back)."""
        default = Settings()
        settings = {key: getattr(self.settings, key) for key in SETTINGS_KEYS
                    if getattr(self.settings, key) != getattr(default, key)}
        data: dict[str, Any] = {}
        if settings:
            data["settings"] = settings
        data["accounts"] = [dict(account.options) for account in self.accounts]
        if self.keymap:
            data["keymap"] = dict(self.keymap)
        return data


# --- locations ----------------------------------------------------------------

def _expand(value: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(value)))


def config_path(cli_value: str | None = None) -> Path:
    """``--config`` if given, else ``$INVOICE_TUI_CONFIG``, else the platformdirs location."""
    value = cli_value or os.environ.get(CONFIG_ENV)
    if value:
        return _expand(value)
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def cache_dir(cli_value: str | None = None) -> Path:
    """``--cache-dir`` if given, else ``$INVOICE_TUI_CACHE_DIR``, else the platformdirs cache."""
    value = cli_value or os.environ.get(CACHE_ENV)
    if value:
        return _expand(value)
    return platformdirs.user_cache_path(APP_NAME)


# --- loading and validation ---------------------------------------------------

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def load_config(path: Path) -> Config:
    """Read and validate; ``ConfigMissing`` if absent, ``ConfigError`` (one line) if bad.

    Only a regular file of at most 1 MB is read (a FIFO, ``/dev/zero`` or a huge
    file is refused at once); a UTF-8 BOM is accepted. Secrets the file holds or
    names that others can read give ``Config.warnings``, not an error.
    """
    try:
        raw, info = read_small_file(path, CONFIG_LIMIT)
    except FileNotFoundError:
        raise ConfigMissing(path) from None
    except NotARegularFile as exc:
        raise ConfigError(f"{path}: not a regular file ({exc.kind}) — point --config at a "
                          "TOML file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: not a regular file (a directory) — point --config at a "
                          "TOML file") from None
    except FileTooLarge:
        raise ConfigError(f"{path}: larger than {CONFIG_LIMIT // MB} MB — this is not an "
                          "invoice-tui config; check --config points at the right file") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read ({exc.strerror or type(exc).__name__}) — check its permissions"
        ) from None
    try:
        # Windows editors save a BOM; TOML does not allow one, we do.
        data = tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}) — save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error_line(path, exc, raw)) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{path}: arrays or tables nested too deeply — this is not an "
                          "invoice-tui config; check --config points at the right file") from None
    config = parse_config(data, path)
    warnings = exposure_warnings(config, path, info.st_mode)
    return dataclasses.replace(config, warnings=warnings) if warnings else config


def exposure_warnings(config: Config, path: Path, mode: int) -> tuple[str, ...]:
    """One line per secret others can read: the config (``mode``) if an account holds a
    ``token``, and each existing key file (a provider's ``path_options``), with the fix.

    Not fatal: the user may share the machine with no one. A key file that is missing
    or unreadable is left alone here; building its account says so.
    """
    found: list[str] = []
    if any("token" in account.options for account in config.accounts):
        problem = _exposure(mode)
        if problem:
            found.append(f"{path} holds a token and is {problem} — run: chmod 600 "
                         f"{shlex.quote(str(path))}")
    seen: set[Path] = set()
    for account in config.accounts:
        cls = provider_class(account.provider)
        for key in cls.path_options if cls is not None else ():
            value = account.options.get(key)
            if not isinstance(value, str) or not value.strip():
                continue
            secret = Path(value).expanduser()  # the file the provider reads
            try:
                problem = _exposure(secret.stat().st_mode) if secret not in seen else None
            except OSError:
                continue
            seen.add(secret)
            if problem:
                found.append(f"{secret} ({key} of account {account.name!r}) is {problem} — "
                             f"run: chmod 600 {shlex.quote(str(secret))}")
    return tuple(found)


def _exposure(mode: int) -> str | None:
    """How a file's mode lets other users at it, or ``None`` (owner only)."""
    if not stat.S_ISREG(mode) or not mode & 0o077:
        return None
    what = "readable by others" if mode & 0o044 else "open to others"
    return f"{what} (mode {stat.S_IMODE(mode):04o})"


def _toml_error_line(path: Path, exc: tomllib.TOMLDecodeError, raw: bytes) -> str:
    message = str(exc)
    match = _TOML_POSITION.search(message)
    if match:
        what = message[: match.start()]
        where = f"{path} line {match.group(1)}, column {match.group(2)}"
    else:
        what = message.replace("(at end of document)", "").strip()
        last_line = len(raw.rstrip(b"\n").split(b"\n"))
        where = f"{path} line {last_line} (end of file)"
    what = " ".join(what.split()) or "invalid TOML"
    return f"{where}: {what} — fix the TOML syntax"


def parse_config(data: Mapping[str, Any], path: Path | None = None) -> Config:
    """Validate a parsed TOML document into a :class:`Config`; ``ConfigError`` lists every problem.

    ``path`` only names the file in messages (and is kept on the result).
    """
    where = str(path) if path is not None else "config"
    problems: list[str] = []

    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"{where}: unknown top-level key {key!r}"
                            f"{did_you_mean(key, TOP_LEVEL_KEYS)}"
                            " — allowed: [settings], [[accounts]] and [keymap]")

    settings = _parse_settings(data.get("settings", {}), where, problems)
    accounts = _parse_accounts(data.get("accounts", []), where, problems, path)
    keymap = _parse_keymap(data.get("keymap", {}), where, problems)

    if problems:
        raise problems_error(where, problems)
    return Config(path=path, settings=settings, accounts=tuple(accounts),
                  keymap=MappingProxyType(keymap))


def problems_error(where: str, problems: list[str]) -> ConfigError:
    """One ``ConfigError`` for every problem found in ``where`` (one line each, a summary
    first when there are several)."""
    if len(problems) == 1:
        return ConfigError(problems[0], problems)
    summary = f"{where}: {len(problems)} problems — fix each of these:"
    return ConfigError("\n".join([summary, *problems]), problems)


def did_you_mean(key: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` with the closest of ``choices``, or ``""`` if none is close."""
    close = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_settings(table: object, where: str, problems: list[str]) -> Settings:
    if not isinstance(table, dict):
        problems.append(f"{where}: settings must be a table — write it as [settings]")
        return Settings()
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in SETTINGS_KEYS:
            problems.append(f"{where}: [settings]: unknown key {key!r}"
                            f"{did_you_mean(key, SETTINGS_KEYS)} — allowed: "
                            f"{', '.join(SETTINGS_KEYS)}")
            continue
        problem = _settings_problem(key, value)
        if problem:
            problems.append(f"{where}: [settings]: {problem}")
        else:
            values[key] = float(value) if key == "timeout" else value
    return Settings(**values)


_INT_RANGES = {"page_size": (1, 1000), "concurrency": (1, 64), "max_retries": (0, 10),
               "max_response_mb": (1, 1024)}


def _settings_problem(key: str, value: object) -> str | None:
    if key == "timeout":
        low, high = TIMEOUT_RANGE
        # "not low <= value <= high" is also true for nan; inf is out of range.
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not low <= value <= high:
            return (f"timeout = {value!r} — use a number of seconds from {low:g} to {high:g}"
                    " (the whole request's deadline), e.g. 30")
        return None
    if key == "downloads":
        if not isinstance(value, str) or not value.strip():
            return (f"downloads = {value!r} — use the folder PDFs are saved to, "
                    'e.g. "~/Downloads"')
        return None
    if key == "theme":
        if not isinstance(value, str) or not value.strip():
            return (f"theme = {value!r} — use a theme's name, e.g. \"nord\" (ctrl+p, "
                    "App: theme lists them)")
        return None
    low, high = _INT_RANGES[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{key} = {value!r} — use a whole number from {low} to {high}"
    return None


def _parse_keymap(table: object, where: str, problems: list[str]) -> dict[str, str]:
    """``[keymap]`` flattened to ``{"id": "keys"}``.

    An unquoted dotted key (``main.filter = "f"``) is a nested table in TOML, as is
    ``[keymap.main]``; both mean the binding id ``main.filter``, as the quoted
    ``"main.filter" = "f"`` does, so one level of nesting is flattened back.
    """
    if not isinstance(table, dict):
        problems.append(f"{where}: keymap must be a table — write it as [keymap]")
        return {}
    keymap: dict[str, str] = {}
    for key, value in table.items():
        items = ([(f"{key}.{sub}", inner) for sub, inner in value.items()]
                 if isinstance(value, dict) else [(key, value)])
        for binding_id, keys in items:
            if not isinstance(keys, str) or not keys.strip():
                problems.append(f"{where}: [keymap]: {binding_id} = {keys!r} — use a comma "
                                'list of keys, e.g. open = "l,enter"')
            else:
                keymap[binding_id] = keys
    return keymap


def _parse_accounts(items: object, where: str, problems: list[str],
                    path: Path | None) -> list[AccountConfig]:
    if not isinstance(items, list):
        problems.append(f"{where}: accounts must be an array of tables"
                        " — write each as [[accounts]]")
        return []
    accounts: list[AccountConfig] = []
    seen: set[str] = set()
    for index, table in enumerate(items, start=1):
        label = f"account #{index}"
        if not isinstance(table, dict):
            problems.append(f"{where}: {label}: not a table — write it as [[accounts]]")
            continue
        name = table.get("name")
        if isinstance(name, str) and name.strip():
            label = f"account {name!r}"
            if name in seen:
                problems.append(f"{where}: {label}: duplicate name — give each account "
                                "its own name")
            seen.add(name)
        else:
            what = "missing name" if name is None else "name must be a non-empty string"
            problems.append(f"{where}: {label}: {what} — add name = \"…\" (unique)")
            name = None
        provider = table.get("provider")
        known = provider_names()
        if not isinstance(provider, str) or not provider:
            problems.append(f"{where}: {label}: missing provider — add provider = \"…\" "
                            f"(one of: {', '.join(known)})")
            continue
        cls = provider_class(provider)
        if cls is None:
            problems.append(f"{where}: {label}: unknown provider {provider!r}"
                            f"{did_you_mean(provider, known)} — use one of: {', '.join(known)}")
            continue
        allowed = (*ACCOUNT_KEYS, *cls.option_keys)
        for key in table:
            if key not in allowed:
                # A typo must not fall back to a default silently (base_ulr → the real
                # host gets the signed token): unknown keys are errors.
                problems.append(f"{where}: {label}: unknown key {key!r}"
                                f"{did_you_mean(key, allowed)} — allowed for {provider}: "
                                f"{', '.join(allowed)}")
        table = _resolve_paths(table, cls.path_options, path)
        before = len(problems)
        for problem in cls.validate_options(table):
            problems.append(f"{where}: {label}: {problem}")
        base_problem = _base_url_problem(table.get("base_url"))
        if base_problem and not any(base_problem in p for p in problems[before:]):
            problems.append(f"{where}: {label}: {base_problem}")
        if name is not None:
            accounts.append(AccountConfig(name=name, provider=provider, options=table))
    return accounts


def _resolve_paths(table: dict[str, Any], keys: tuple[str, ...],
                   path: Path | None) -> dict[str, Any]:
    """Relative file options (e.g. ``credentials``) are relative to the config file, not the cwd."""
    if path is None:
        return table
    resolved = dict(table)
    for key in keys:
        value = table.get(key)
        if isinstance(value, str) and value and not _expand(value).is_absolute():
            resolved[key] = str(path.parent / _expand(value))
    return resolved


def _base_url_problem(value: object) -> str | None:
    """https-unless-loopback for any account's ``base_url`` (providers may check more)."""
    if value is None or not isinstance(value, str):
        return None  # absent (provider default) or wrong type (the provider says so)
    from .providers._http import check_base_url

    return check_base_url(value)


# --- writing ------------------------------------------------------------------

def save_config(path: Path, data: Mapping[str, Any]) -> None:
    """Serialize with tomli_w and ``write_atomic`` it with mode 0600."""
    write_atomic(path, dumps_config(data).encode("utf-8"), 0o600)


def dumps_config(data: Mapping[str, Any]) -> str:
    """TOML text of a config document, each account as its own ``[[accounts]]`` table.

    tomli_w writes short arrays of tables inline (``accounts = [{…}]``), which is
    valid but unreadable as a hand-edited file; flat account tables are written
    block by block instead (anything nested falls back to tomli_w's choice).
    """
    rest = {key: value for key, value in data.items() if key != "accounts"}
    accounts = data.get("accounts")
    if not isinstance(accounts, list) or not all(isinstance(a, Mapping) for a in accounts):
        return tomli_w.dumps(dict(data))
    blocks = [tomli_w.dumps(dict(account)) for account in accounts]
    if any(line.startswith("[") for block in blocks for line in block.splitlines()):
        return tomli_w.dumps(dict(data))
    head = tomli_w.dumps(rest)
    parts = [head] if head else []
    parts += [f"[[accounts]]\n{block}" for block in blocks]
    return "\n".join(parts)


_EXAMPLE_HEADER = """\
# invoice-tui config (TOML): see README.md for every option.
# Every [[accounts]] table is one billing account. Names must be unique.
# This file may hold tokens: invoice-tui writes it with mode 0600.

"""


def example_header() -> str:
    """The comment block an example or a freshly made config starts with."""
    return _EXAMPLE_HEADER


def example_config_text() -> str:
    """A commented example config (made with tomli_w, comments added) for first runs.

    Its accounts are commented out: a first start on it opens on no accounts, not on
    two failing ones (the in-app form adds real ones). It holds placeholders only (a
    key-file path and an env-var name), never a secret.
    """
    settings = {"settings": {"page_size": 100, "concurrency": 8, "timeout": 30.0}}
    voximplant = {"accounts": [{
        "name": "vox-main",
        "provider": "voximplant",
        "credentials": "~/keys/vox-credentials.json",
    }]}
    unleash = {"accounts": [{
        "name": "unleash-prod",
        "provider": "unleash",
        "base_url": "https://us.app.unleash-hosted.com/acme",
        "token_env": "UNLEASH_TOKEN",
    }]}
    return "".join([
        _EXAMPLE_HEADER,
        "# Optional. page_size: Voximplant invoices asked per page (1-1000);\n"
        "# concurrency: requests in flight per account (1-64); timeout: seconds.\n",
        tomli_w.dumps(settings),
        "\n# Examples (remove the leading # to use one, or add accounts in the app: a).\n"
        "\n# Voximplant: the service-account key file from the control panel\n"
        "# (Settings → Service accounts). It needs a role that can read invoices.\n",
        _commented(dumps_config(voximplant)),
        '# base_url = "https://api.voximplant.com/platform_api"   # the default\n',
        "\n# Unleash Enterprise: the instance URL including any path prefix,\n"
        "# and an admin or personal access token.\n",
        _commented(dumps_config(unleash)),
        '# token = "user:…"   # instead of token_env: stored in this 0600 file\n',
    ])


def _commented(toml_text: str) -> str:
    return "".join(f"# {line}\n" for line in toml_text.splitlines())

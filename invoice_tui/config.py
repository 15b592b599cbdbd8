"""The local TOML config store (SPEC §3): where it lives, loading, validation, atomic saves.

CONTRACT (implemented by the core work; signatures are fixed — the UI codes against them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .providers.base import FetchOptions, Provider

APP_NAME = "invoice-tui"
CONFIG_ENV = "INVOICE_TUI_CONFIG"
CACHE_ENV = "INVOICE_TUI_CACHE_DIR"


class ConfigError(Exception):
    """A config problem, as one line naming the file, the line or account, and the fix."""


class ConfigMissing(ConfigError):
    """There is no config file yet (the TUI shows its welcome screen)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """``[settings]``."""

    page_size: int = 100
    concurrency: int = 8
    timeout: float = 30.0

    def fetch_options(self) -> FetchOptions:
        """The knobs providers honour."""
        return FetchOptions(page_size=self.page_size, concurrency=self.concurrency,
                            timeout=self.timeout)


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One validated ``[[accounts]]`` table; ``options`` is the whole table as read."""

    name: str
    provider: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Provider:
        """The provider object for this account (may raise ``ProviderError``)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Config:
    """A loaded, validated config."""

    path: Path | None
    settings: Settings = Settings()
    accounts: tuple[AccountConfig, ...] = ()

    def account(self, name: str) -> AccountConfig:
        """The account called ``name`` (``KeyError`` if none)."""
        raise NotImplementedError


def config_path(cli_value: str | None = None) -> Path:
    """``--config`` if given, else ``$INVOICE_TUI_CONFIG``, else the platformdirs location."""
    raise NotImplementedError


def cache_dir(cli_value: str | None = None) -> Path:
    """``--cache-dir`` if given, else ``$INVOICE_TUI_CACHE_DIR``, else the platformdirs cache."""
    raise NotImplementedError


def load_config(path: Path) -> Config:
    """Read and validate; ``ConfigMissing`` if absent, ``ConfigError`` (one line) if bad."""
    raise NotImplementedError


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via a temp file in the same dir + fsync + rename; the old file survives a failure."""
    raise NotImplementedError


def save_config(path: Path, data: Mapping[str, Any]) -> None:
    """Serialize with tomli_w and ``write_atomic`` it with mode 0600."""
    raise NotImplementedError


def example_config_text() -> str:
    """A commented example config (made with tomli_w, comments added) for first runs."""
    raise NotImplementedError

"""The local invoice cache (SPEC §3): per account, atomic, versioned; corrupt → warning.

One JSON file per account, named after a hash of the account's identity
(name, provider, base URL or key-file path: never a secret). The content is
``{"version", "account", "provider", "synced_at", "summary", "invoices"}`` with
invoices in the export shape of :func:`invoice_tui.model.invoice_to_dict`.
A cache can only ever cost a refetch: a file of another version is ignored
silently, an unreadable one with a warning, and a failed save never raises.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from .config import AccountConfig, Config, write_atomic
from .model import AccountSummary, Invoice, invoice_from_dict, invoice_to_dict

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_CHUNK_INVOICES = 500  # invoices per write when saving


@dataclass(frozen=True, slots=True)
class CachedAccount:
    """What the last successful sync of one account produced."""

    invoices: tuple[Invoice, ...]
    synced_at: dt.datetime  # timezone-aware UTC
    summary: AccountSummary = AccountSummary()


@dataclass
class InvoiceCache:
    """Cache files under ``directory``; ``warnings`` collects one line per ignored corrupt file."""

    directory: Path
    warnings: list[str] = field(default_factory=list)

    def path_for(self, account: AccountConfig) -> Path:
        """The cache file of ``account`` (it may not exist)."""
        return self.directory / cache_file_name(account)

    def load(self, account: AccountConfig) -> CachedAccount | None:
        """The cached sync of ``account``, or ``None`` (missing, other version, or corrupt)."""
        path = self.path_for(account)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self._ignored(account, path, _describe(exc))
            return None
        try:
            data = json.loads(text, parse_float=Decimal)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("version") != CACHE_VERSION:
                return None  # another release's format: refetching is the migration
            if data.get("account") != account.name:
                return None  # not this account's file (renamed account)
            return _cached_from_data(data)
        except (ValueError, KeyError, TypeError, ArithmeticError, RecursionError) as exc:
            self._ignored(account, path, _describe(exc))
            return None

    def save(self, account: AccountConfig, cached: CachedAccount) -> None:
        """Atomically replace the account's cache file. Never raises for I/O: warns instead."""
        path = self.path_for(account)
        try:
            write_atomic(path, _cache_chunks(account, cached), 0o600)
        except OSError as exc:
            self._warn(f"cache: could not save {account.name!r} to {path} ({_describe(exc)})"
                       " — check the cache directory's permissions or free space")

    def load_all(self, config: Config) -> dict[str, CachedAccount]:
        """Every account of ``config`` that has a usable cache entry, by name."""
        found: dict[str, CachedAccount] = {}
        for account in config.accounts:
            cached = self.load(account)
            if cached is not None:
                found[account.name] = cached
        return found

    def _ignored(self, account: AccountConfig, path: Path, why: str) -> None:
        self._warn(f"cache: ignored unreadable cache of {account.name!r} at {path} ({why})"
                   " — it is rewritten on the next sync")

    def _warn(self, line: str) -> None:
        self.warnings.append(line)
        log.warning("%s", line)


def _cache_chunks(account: AccountConfig, cached: CachedAccount) -> Iterator[bytes]:
    """The cache file's JSON, streamed invoice by invoice (100 000 invoices stay cheap)."""
    head = json.dumps({
        "version": CACHE_VERSION,
        "account": account.name,
        "provider": account.provider,
        "synced_at": cached.synced_at.astimezone(dt.UTC).isoformat(),
        "summary": _summary_to_dict(cached.summary),
    }, ensure_ascii=False)
    yield (head[:-1] + ', "invoices": [').encode("utf-8")
    separator = ""  # becomes ", " once the first batch is out
    batch: list[str] = []
    for invoice in cached.invoices:
        batch.append(json.dumps(invoice_to_dict(invoice), ensure_ascii=False))
        if len(batch) == _CHUNK_INVOICES:
            yield (separator + ", ".join(batch)).encode("utf-8")
            separator, batch = ", ", []
    tail = separator + ", ".join(batch) if batch else ""
    yield (tail + "]}").encode("utf-8")


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def cache_file_name(account: AccountConfig) -> str:
    """File name for ``account``: a readable slug plus a hash of its (secret-free) identity."""
    identity = "\0".join([
        account.name,
        account.provider,
        str(account.options.get("base_url") or ""),
        str(account.options.get("credentials") or ""),
    ])
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    slug = _UNSAFE.sub("_", account.name).strip("._")[:40] or "account"
    return f"{slug}-{digest}.json"


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    text = text[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _summary_to_dict(summary: AccountSummary) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in fields(summary):
        value = getattr(summary, item.name)
        out[item.name] = None if value is None else (
            f"{value:f}" if isinstance(value, Decimal) else str(value))
    return out


def _summary_from_dict(data: object) -> AccountSummary:
    if not isinstance(data, dict):
        raise ValueError("summary is not an object")
    values: dict[str, Any] = {}
    for item in fields(AccountSummary):
        value = data.get(item.name)
        if value is None:
            continue
        # Field annotations are strings here (postponed evaluation).
        is_amount = "Decimal" in str(item.type)
        values[item.name] = Decimal(str(value)) if is_amount else str(value)
    return AccountSummary(**values)


def _cached_from_data(data: dict[str, Any]) -> CachedAccount:
    synced_at = dt.datetime.fromisoformat(str(data["synced_at"]))
    if synced_at.tzinfo is None:
        synced_at = synced_at.replace(tzinfo=dt.UTC)
    invoices = data["invoices"]
    if not isinstance(invoices, list):
        raise ValueError("invoices is not a list")
    return CachedAccount(
        invoices=tuple(invoice_from_dict(item) for item in invoices),
        synced_at=synced_at,
        summary=_summary_from_dict(data.get("summary") or {}),
    )

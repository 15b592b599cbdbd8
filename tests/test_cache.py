"""The invoice cache: round trip, versioning, corrupt files, failed saves, secret-free names."""

from __future__ import annotations

import datetime as dt
import json
import logging
import stat
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from invoice_factory import synthetic_invoices

from invoice_tui import config as config_module
from invoice_tui.cache import CACHE_VERSION, CachedAccount, InvoiceCache, cache_file_name
from invoice_tui.config import AccountConfig, Config
from invoice_tui.demo import DemoServer, demo_config
from invoice_tui.model import AccountSummary
from invoice_tui.sync import SyncSucceeded, sync_account


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer() as running:
        yield running


@pytest.fixture
def demo(server: DemoServer, tmp_path: Path) -> Config:
    return demo_config(server, tmp_path / "keys")


def _account(name: str = "acct") -> AccountConfig:
    return AccountConfig(name=name, provider="unleash",
                         options={"name": name, "provider": "unleash",
                                  "base_url": "https://example.com/x", "token": "user:secret-1"})


def _sample(count: int = 40) -> CachedAccount:
    return CachedAccount(
        invoices=tuple(synthetic_invoices(count)),
        synced_at=dt.datetime(2026, 11, 1, 12, 30, tzinfo=dt.UTC),
        summary=AccountSummary(plan_price=Decimal("1875.00"), plan_currency="USD",
                               balance=Decimal("-0.10"), balance_currency="USD"),
    )


@pytest.mark.parametrize("count", [0, 40, 500, 1000, 1001])  # around the write chunk size
def test_round_trip_is_exact(tmp_path: Path, count: int) -> None:
    cache = InvoiceCache(tmp_path / "cache")
    account = _account()
    cached = _sample(count)
    assert cache.load(account) is None  # nothing yet, and no warning for that
    cache.save(account, cached)
    assert cache.load(account) == cached
    assert cache.warnings == []
    path = cache.path_for(account)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == CACHE_VERSION and data["account"] == "acct"
    assert data["synced_at"] == "2026-11-01T12:30:00+00:00"


def test_file_name_has_no_secret_and_differs_per_identity() -> None:
    account = _account()
    name = cache_file_name(account)
    assert "secret" not in name and name.startswith("acct-") and name.endswith(".json")
    moved = AccountConfig(name="acct", provider="unleash",
                          options={**account.options, "base_url": "https://example.com/y"})
    assert cache_file_name(moved) != name
    # The token is not part of the identity: rotating it keeps the cache.
    rotated = AccountConfig(name="acct", provider="unleash",
                            options={**account.options, "token": "user:secret-2"})
    assert cache_file_name(rotated) == name
    odd = AccountConfig(name="../../etc/passwd", provider="unleash", options={})
    assert "/" not in cache_file_name(odd)


def test_other_version_is_ignored_silently(tmp_path: Path) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    cache.save(account, _sample(3))
    path = cache.path_for(account)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["version"] = CACHE_VERSION + 1
    path.write_text(json.dumps(data), encoding="utf-8")
    assert cache.load(account) is None
    assert cache.warnings == []


@pytest.mark.parametrize("content", [
    b"{not json", b"\xff\xfe garbage", b"[]",
    json.dumps({"version": CACHE_VERSION, "account": "acct"}).encode(),
    json.dumps({"version": CACHE_VERSION, "account": "acct", "synced_at": "yesterday",
                "summary": {}, "invoices": []}).encode(),
    json.dumps({"version": CACHE_VERSION, "account": "acct", "synced_at": "2026-01-01T00:00:00",
                "summary": {}, "invoices": [{"account": "acct", "total": "lots"}]}).encode(),
])
def test_corrupt_file_is_a_warning_not_a_crash(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    cache.path_for(account).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="invoice_tui.cache"):
        assert cache.load(account) is None
    (warning,) = cache.warnings
    assert "\n" not in warning and "'acct'" in warning and "ignored" in warning
    assert warning in caplog.text
    # The next save repairs it.
    cache.save(account, _sample(2))
    assert cache.load(account) == _sample(2)


def test_failed_save_warns_and_keeps_old_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    cache.save(account, _sample(2))

    def full_disk(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(config_module.os, "fsync", full_disk)
    cache.save(account, _sample(5))  # must not raise
    monkeypatch.undo()
    (warning,) = cache.warnings
    assert "could not save 'acct'" in warning and "No space left on device" in warning
    assert cache.load(account) == _sample(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.path_for(account).name]


def test_unwritable_directory_warns(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    cache = InvoiceCache(blocker / "cache")
    cache.save(_account(), _sample(1))
    assert len(cache.warnings) == 1


async def test_sync_saves_and_load_all_reads_back(demo: Config, tmp_path: Path) -> None:
    cache = InvoiceCache(tmp_path / "cache")
    outcomes = {}
    for account in demo.accounts:
        outcomes[account.name] = await sync_account(account, demo.settings, cache=cache)
    assert all(isinstance(o, SyncSucceeded) for o in outcomes.values())
    loaded = cache.load_all(demo)
    assert set(loaded) == set(demo.account_names)
    for name, outcome in outcomes.items():
        assert isinstance(outcome, SyncSucceeded)
        assert loaded[name].invoices == outcome.invoices
        assert loaded[name].summary == outcome.summary
        assert loaded[name].synced_at == outcome.synced_at
    # Cache files never hold secrets (demo tokens, keys, JWTs).
    for path in (tmp_path / "cache").iterdir():
        text = path.read_text(encoding="utf-8")
        assert "BEGIN" not in text and "eyJ" not in text
        for account in demo.accounts:
            token = account.options.get("token")
            if token:
                assert str(token) not in text

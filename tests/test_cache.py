"""The invoice cache: round trip, versioning, corrupt files, failed saves, secret-free names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import stat
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from invoice_factory import synthetic_invoices

from invoice_tui import config as config_module
from invoice_tui.cache import CACHE_VERSION, CachedAccount, InvoiceCache, cache_file_name
from invoice_tui.config import AccountConfig, Config
from invoice_tui.model import (
    AccountSummary,
    Invoice,
    Line,
    Tax,
    invoice_from_dict,
    invoice_to_dict,
)
from invoice_tui.sync import SyncSucceeded, sync_account


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
    header, *records = path.read_text(encoding="utf-8").splitlines()
    data = json.loads(header)
    assert data["version"] == CACHE_VERSION and data["account"] == "acct"
    assert data["synced_at"] == "2026-11-01T12:30:00+00:00"
    assert data["count"] == len(records) == count  # JSON Lines: one invoice per line
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


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


def _bump_version(header: dict[str, Any]) -> None:
    header["version"] = CACHE_VERSION + 1


def _grow_the_tax_layout(header: dict[str, Any]) -> None:
    header["layout"]["tax"].append("jurisdiction")  # a model that gained a field


@pytest.mark.parametrize("edit", [_bump_version, _grow_the_tax_layout])
def test_other_version_is_ignored_silently(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None]
) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    cache.save(account, _sample(3))
    path = cache.path_for(account)
    header, rest = path.read_text(encoding="utf-8").split("\n", 1)
    data = json.loads(header)
    edit(data)
    path.write_text(json.dumps(data) + "\n" + rest, encoding="utf-8")
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


def _every_field_case() -> CachedAccount:
    """Invoices that use every field: None, odd Decimals, dates, non-ASCII, lines, taxes."""
    tax = Tax(name="VAT — Zürich", rate=Decimal("0.2"), amount=Decimal("16.00"), level="federal",
              category="telecom", taxable=Decimal("80.00"), currency="USD")
    bare_tax = Tax()
    lines = (
        Line(kind="service", description="Calls 東京", amount=Decimal("80.00"),
             tax=Decimal("16.00"), net=Decimal("64.00"), gross=Decimal("80.00"), currency="USD",
             taxes=(tax, bare_tax)),
        Line(kind="usage", description="Frontend requests \"quoted\" \\ \n\t\x1b[2J",
             quantity=Decimal("1E+6"), unit_price=Decimal("0.000001234500"),
             amount=Decimal("-0"), net=Decimal("-0"), currency="EUR",
             period_start=dt.date(2026, 9, 1),
             period_end=dt.date(2026, 9, 30), consumption=Decimal("123456789012345678901234.5"),
             limit=Decimal("1.5E-7"), lookup_key="frontend-\ud800"),
        Line(kind="main", description=""),
    )
    invoices = (
        Invoice(account="acct", provider="unleash", id="https://x/i/1", currency="EUR",
                status="estimate", label="September 2026", issued=dt.date(2026, 10, 1),
                due=dt.date(2026, 10, 15), period_start=dt.date(2026, 9, 1),
                period_end=dt.date(2026, 9, 30), subtotal=Decimal("100.00"),
                discount=Decimal("0"), tax=Decimal("20.00"), total=Decimal("120.00"),
                amount_due=Decimal("120.00"), tax_rate=Decimal("19"), url="https://x/i/1",
                pdf_url="https://x/i/1.pdf", totals_computed=True, estimate_incomplete=True,
                lines=lines),
        Invoice(account="other-acct", provider="voximplant", id="7", currency="JPY",
                status="new"),  # not the header's account/provider: stored in full
        Invoice(account="acct", provider="unleash", id="8", currency="USD", status="paid",
                total=Decimal("0.00"), tax=Decimal("-1.10"), lines=lines[:1]),
    )
    return CachedAccount(invoices, dt.datetime(2026, 11, 1, 12, 30, tzinfo=dt.UTC))


def test_round_trip_is_exact_for_every_field(tmp_path: Path) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    cached = _every_field_case()
    cache.save(account, cached)
    loaded = cache.load(account)
    assert loaded == cached and cache.warnings == []
    assert loaded is not None
    # Equal Decimals can differ in digits: the exact text must survive too.
    for got, want in zip(loaded.invoices, cached.invoices, strict=True):
        assert invoice_to_dict(got) == invoice_to_dict(want)
        assert repr(got) == repr(want)
    assert cache.path_for(account).read_bytes().isascii()


def test_a_flag_that_is_not_a_json_boolean_makes_the_file_corrupt(tmp_path: Path) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    cache.save(account, _every_field_case())
    path = cache.path_for(account)
    text = path.read_text(encoding="ascii")
    assert text.count('"https://x/i/1.pdf",true,true,[') == 1
    path.write_text(text.replace('"https://x/i/1.pdf",true,true,[',
                                 '"https://x/i/1.pdf",1,true,['), encoding="ascii")
    assert cache.load(account) is None and len(cache.warnings) == 1


async def test_round_trip_of_a_real_sync_is_exact(demo: Config, tmp_path: Path) -> None:
    """Over real HTTP: the emulator's invoices (rows with taxes, usage lines) survive exactly."""
    cache = InvoiceCache(tmp_path)
    for account in demo.accounts:
        outcome = await sync_account(account, demo.settings)
        assert isinstance(outcome, SyncSucceeded) and outcome.invoices
        cached = CachedAccount(outcome.invoices, outcome.synced_at, outcome.summary)
        cache.save(account, cached)
        loaded = cache.load(account)
        assert loaded is not None
        assert [invoice_to_dict(i) for i in loaded.invoices] == \
            [invoice_to_dict(i) for i in cached.invoices]
        assert loaded == cached
    assert cache.warnings == []


def test_a_version_1_file_is_ignored_silently_from_its_first_bytes(tmp_path: Path) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    invoice = invoice_to_dict(_every_field_case().invoices[0])
    old = {"version": 1, "account": "acct", "provider": "unleash",
           "synced_at": "2026-11-01T12:30:00+00:00", "summary": {}, "invoices": [invoice]}
    path = cache.path_for(account)
    path.write_text(json.dumps(old), encoding="utf-8")
    assert cache.load(account) is None
    # Only the beginning is read: a version-1 file is not parsed to learn its version.
    path.write_text('{"version": 1, "account": "acct", "invoices": [' + "{" * 200_000,
                    encoding="utf-8")
    assert cache.load(account) is None
    assert cache.warnings == []


def _records(cache: InvoiceCache, account: AccountConfig) -> list[str]:
    return cache.path_for(account).read_text(encoding="utf-8").split("\n")


def _corrupt_variants(lines: list[str]) -> dict[str, str]:
    """Damaged versions of a saved file (``lines``: header, records, trailing "")."""
    header, first, second = lines[0], lines[1], lines[2]
    record = json.loads(first)
    line_record = record[-1][0]

    def with_record(changed: object) -> str:
        return "\n".join([header, json.dumps(changed), *lines[2:]])

    def field(position: int, value: object) -> str:
        changed = json.loads(first)
        changed[position] = value
        return with_record(changed)

    def in_line(position: int, value: object) -> str:
        changed = json.loads(first)
        changed[-1][0] = [*line_record[:position], value, *line_record[position + 1:]]
        return with_record(changed)

    def in_tax(value: object) -> str:
        changed = json.loads(first)
        changed[-1][0][-1] = [value]
        return with_record(changed)

    text = "\n".join(lines)
    cut = "\n".join(lines[:-2]) + "\n"  # the last invoice line lost, at a line boundary
    return {
        "cut mid-line": text[: len(header) + 1 + len(first) + 1 + len(second) // 2],
        "cut at a line boundary": cut,
        "extra line": text + first + "\n",
        "garbage line": "\n".join([header, "garbage", *lines[2:]]),
        "empty line": "\n".join([header, "", *lines[2:]]),
        "record not a list": with_record({"id": "1"}),
        "record too short": with_record(record[:-1]),
        "record too long": with_record([*record, None]),
        "amount as text": field(INVOICE_FIELDS_ORDER.index("total"), "12.30"),
        "amount as boolean": field(INVOICE_FIELDS_ORDER.index("total"), True),
        "amount NaN": field(INVOICE_FIELDS_ORDER.index("total"), float("nan")),
        "status as number": field(INVOICE_FIELDS_ORDER.index("status"), 3),
        "missing id": field(INVOICE_FIELDS_ORDER.index("id"), None),
        "bad date": field(INVOICE_FIELDS_ORDER.index("issued"), "2026-13-01"),
        "date as number": field(INVOICE_FIELDS_ORDER.index("due"), 20260101),
        "lines not a list": field(len(record) - 1, {"kind": "service"}),
        "line not a list": field(len(record) - 1, ["service"]),
        "line description null": in_line(1, None),
        "line date garbage": in_line(7, "soon"),
        "tax too short": in_tax(["VAT", 0.2]),
        "tax rate as text": in_tax(["VAT", "0.2", None, None, None, None, None]),
        "header count wrong type": "\n".join(
            [header.replace('"count": ', '"count": "'), *lines[1:]]),
    }


INVOICE_FIELDS_ORDER = [f.name for f in dataclasses.fields(Invoice)]
_CORRUPT_CASES = [
    "cut mid-line", "cut at a line boundary", "extra line", "garbage line", "empty line",
    "record not a list", "record too short", "record too long", "amount as text",
    "amount as boolean", "amount NaN", "status as number", "missing id", "bad date",
    "date as number", "lines not a list", "line not a list", "line description null",
    "line date garbage", "tax too short", "tax rate as text", "header count wrong type",
]


@pytest.mark.parametrize("case", _CORRUPT_CASES)
def test_any_bad_record_ignores_the_whole_file_with_one_warning(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    cache.save(account, _every_field_case())
    assert cache.load(account) is not None  # the undamaged file is fine
    variants = _corrupt_variants(_records(cache, account))
    assert sorted(variants) == sorted(_CORRUPT_CASES)
    damaged = variants[case]
    assert damaged != "\n".join(_records(cache, account))
    cache.path_for(account).write_text(damaged, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="invoice_tui.cache"):
        assert cache.load(account) is None  # never half a cache
    (warning,) = cache.warnings
    assert "\n" not in warning and "'acct'" in warning and "ignored" in warning
    assert "secret" not in warning


def test_export_shape_round_trips_through_invoice_from_dict() -> None:
    """The dict decoder (the export shape) stays the exact inverse of invoice_to_dict."""
    for invoice in (*_every_field_case().invoices, *_sample(20).invoices):
        data = invoice_to_dict(invoice)
        decoded = invoice_from_dict(data)
        assert decoded == invoice and invoice_to_dict(decoded) == data
    with pytest.raises(ValueError):
        invoice_from_dict({**invoice_to_dict(_sample(1).invoices[0]), "total": True})
    with pytest.raises(ValueError):
        invoice_from_dict({**invoice_to_dict(_sample(1).invoices[0]), "tax": "NaN"})


def test_values_outside_the_model_never_crash_save_or_load(tmp_path: Path) -> None:
    cache = InvoiceCache(tmp_path)
    account = _account()
    base = _sample(1).invoices[0]
    as_int = dataclasses.replace(base, total=12)  # type: ignore[arg-type]
    cache.save(account, CachedAccount((as_int,), _sample(1).synced_at))
    loaded = cache.load(account)
    assert loaded is not None and loaded.invoices[0].total == Decimal(12)
    for odd in (Decimal("NaN"), Decimal("Infinity"), True, 1.5):
        invoice = dataclasses.replace(base, total=odd)  # type: ignore[arg-type]
        cache.save(account, CachedAccount((invoice,), _sample(1).synced_at))  # never raises
        assert cache.load(account) is None
    assert len(cache.warnings) == 4 and all("ignored" in w for w in cache.warnings)

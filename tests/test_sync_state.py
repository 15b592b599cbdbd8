"""The sync state model (phases, generations, rounds), without a UI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from invoice_tui.config import AccountConfig, Config, Settings
from invoice_tui.model import AccountSummary, Invoice
from invoice_tui.providers import FetchProgress, ProviderError
from invoice_tui.sync import SyncFailed, SyncProgress, SyncStarted, SyncSucceeded
from invoice_tui.sync_state import AccountChanges, SyncState, diff_accounts

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
ERROR = ProviderError("authorization failed", "check the key file")


def _state() -> SyncState:
    return SyncState([("vox", "voximplant"), ("acme", "unleash"), ("eu", "voximplant")])


def _invoices(account: str, count: int) -> tuple[Invoice, ...]:
    return tuple(Invoice(account=account, provider="voximplant", id=str(n), currency="USD",
                         status="paid", total=Decimal(n)) for n in range(count))


def _ok(account: str, count: int = 2, at: dt.datetime = T0,
        summary: AccountSummary | None = None) -> SyncSucceeded:
    return SyncSucceeded(account, _invoices(account, count), summary or AccountSummary(), at)


def test_accounts_start_waiting_in_config_order() -> None:
    state = _state()
    assert list(state.accounts) == ["vox", "acme", "eu"]
    assert {s.phase for s in state.accounts.values()} == {"waiting"}
    assert state.accounts["acme"].provider == "unleash"
    assert state.last_synced is None and not state.any_failed and state.syncing_count == 0
    with pytest.raises(TypeError):
        state.accounts["vox"] = state.accounts["acme"]  # type: ignore[index]


def test_a_sync_goes_syncing_with_progress_then_synced() -> None:
    state = _state()
    state.begin_round(["vox"])
    assert state.accounts["vox"].phase == "syncing" and state.syncing_count == 1
    state.apply(SyncStarted("vox"))
    progress = FetchProgress(invoices=150, pages=3)
    assert state.apply(SyncProgress("vox", progress)) == ()
    assert state.accounts["vox"].progress == progress
    summary = AccountSummary(balance=Decimal("12.50"), balance_currency="USD")
    assert state.apply(_ok("vox", 3, summary=summary)) == ()
    vox = state.accounts["vox"]
    assert (vox.phase, vox.invoice_count, vox.synced_at, vox.progress, vox.summary) == (
        "synced", 3, T0, None, summary)
    assert state.syncing_count == 0 and state.last_synced == T0


def test_a_failure_keeps_the_error_and_a_later_success_clears_it() -> None:
    state = _state()
    state.apply(SyncFailed("eu", ERROR))
    assert state.accounts["eu"].phase == "failed" and state.accounts["eu"].error == ERROR
    assert state.any_failed and [s.name for s in state.failed] == ["eu"]
    state.apply(_ok("eu"))
    assert state.accounts["eu"].error is None and not state.any_failed


def test_the_newest_sync_wins() -> None:
    state = _state()
    assert state.generation("vox") == 0
    state.apply(_ok("vox", 6000))
    first = state.generation("vox")
    assert state.is_current("vox", first)
    state.apply(_ok("vox", 3))
    # Invoices of the first sync, prepared in a thread and landing now, are stale.
    assert not state.is_current("vox", first)
    assert state.is_current("vox", state.generation("vox"))
    assert not state.is_current("acme", 0)  # no sync yet: nothing prepared is current


def test_cached_data_is_shown_until_a_sync_of_this_session_landed() -> None:
    state = _state()
    yesterday = T0 - dt.timedelta(days=1)
    cached_summary = AccountSummary(plan_price=Decimal("99"), plan_currency="USD")
    assert state.cached_arrived("vox", synced_at=yesterday, invoice_count=7,
                                summary=cached_summary)
    vox = state.accounts["vox"]
    assert (vox.phase, vox.synced_at, vox.invoice_count, vox.summary) == (
        "cached", yesterday, 7, cached_summary)

    state.apply(_ok("acme", 2))
    assert not state.cached_arrived("acme", synced_at=yesterday, invoice_count=9, summary=None)
    assert state.accounts["acme"].synced_at == T0  # the fresh sync stays
    assert state.accounts["acme"].invoice_count == 2


def test_cached_data_during_a_sync_keeps_the_sync_phase_and_its_summary() -> None:
    state = _state()
    state.begin_round(["vox"])
    assert state.cached_arrived("vox", synced_at=T0, invoice_count=4,
                                summary=AccountSummary(balance=Decimal(1)))
    assert state.accounts["vox"].phase == "syncing"
    assert state.accounts["vox"].invoice_count == 4


def test_failures_of_a_round_are_reported_once_when_it_is_done() -> None:
    state = _state()
    state.begin_round(["vox", "acme", "eu"])
    assert state.apply(SyncFailed("eu", ERROR)) == ()
    assert state.apply(SyncFailed("vox", ERROR)) == ()
    assert state.apply(SyncProgress("acme", FetchProgress(invoices=1, pages=1))) == ()
    assert state.apply(_ok("acme")) == ("eu", "vox")  # the order they failed in
    # The next round starts clean.
    state.begin_round(["acme"])
    assert state.apply(_ok("acme")) == ()


def test_a_round_without_failures_reports_nothing() -> None:
    state = _state()
    state.begin_round(["vox", "acme"])
    assert state.apply(_ok("vox")) == () and state.apply(_ok("acme")) == ()


def test_a_failure_outside_any_round_is_reported_at_once() -> None:
    # A worker's crash turned into a failure after its round was already done.
    assert _state().apply(SyncFailed("acme", ERROR)) == ("acme",)


def test_restarting_an_account_in_a_round_still_reports_it_once() -> None:
    state = _state()
    state.begin_round(["vox", "acme"])
    state.apply(SyncFailed("vox", ERROR))
    state.begin_round(["vox"])  # r on it again before the round ended
    state.apply(SyncFailed("vox", ERROR))
    assert state.apply(_ok("acme")) == ("vox",)


def test_last_synced_is_the_latest_of_any_account() -> None:
    state = _state()
    state.cached_arrived("vox", synced_at=T0 + dt.timedelta(hours=1), invoice_count=1,
                         summary=None)
    state.apply(_ok("acme", at=T0))
    assert state.last_synced == T0 + dt.timedelta(hours=1)


def test_a_round_in_which_every_account_failed_is_known_as_such() -> None:
    state = _state()
    state.begin_round(["vox", "acme"])
    state.apply(_ok("vox", at=T0))
    state.apply(_ok("acme", at=T0))
    assert not state.last_round_failed and state.last_synced == T0
    # R again, and now every account fails: T0 is still the last good sync, but it is
    # not news — the status line must not say "last sync just now".
    state.begin_round(["vox", "acme"])
    state.apply(SyncFailed("vox", ERROR))
    assert not state.last_round_failed  # acme has not finished yet
    state.apply(SyncFailed("acme", ERROR))
    assert state.last_round_failed and state.last_synced == T0
    # A round in which one account synced is not a failed one.
    state.begin_round(["vox", "acme"])
    state.apply(SyncFailed("vox", ERROR))
    state.apply(_ok("acme", at=T0 + dt.timedelta(minutes=5)))
    assert not state.last_round_failed
    # Nor is a failure of some accounts while others already synced in the same round.
    state.begin_round(["vox"])
    state.begin_round(["acme"])  # joins the round under way
    state.apply(_ok("vox"))
    state.apply(SyncFailed("acme", ERROR))
    assert not state.last_round_failed


def test_names_outside_the_config_are_ignored() -> None:
    state = _state()
    state.begin_round(["gone"])
    assert state.apply(SyncFailed("gone", ERROR)) == ()
    assert not state.cached_arrived("gone", synced_at=T0, invoice_count=1, summary=None)
    assert "gone" not in state.accounts and not state.any_failed


# --- a new config without a restart ---------------------------------------------------


def _config(*accounts: tuple[str, str, str], settings: Settings | None = None) -> Config:
    """``(name, provider, token)`` each."""
    return Config(path=None, settings=settings or Settings(), accounts=tuple(
        AccountConfig(name, provider, {"name": name, "provider": provider, "token": token})
        for name, provider, token in accounts))


def test_diff_accounts_by_name_and_by_what_changed() -> None:
    old = _config(("vox", "voximplant", "a"), ("acme", "unleash", "b"), ("eu", "voximplant", "c"))
    new = _config(("acme", "unleash", "B"), ("eu", "voximplant", "c"), ("new", "unleash", "d"))
    changes = diff_accounts(old, new)
    assert changes == AccountChanges(added=("new",), removed=("vox",), changed=("acme",))
    assert changes.accounts and not changes.empty
    assert changes.summary() == "+1 account, −1 account, 1 changed"
    # Another provider under the same name is a change too.
    moved = _config(("vox", "unleash", "a"), ("acme", "unleash", "b"), ("eu", "voximplant", "c"))
    assert diff_accounts(old, moved).changed == ("vox",)


def test_diff_of_an_equal_config_is_empty_and_settings_alone_resync_nothing() -> None:
    old = _config(("vox", "voximplant", "a"), ("acme", "unleash", "b"))
    same = _config(("vox", "voximplant", "a"), ("acme", "unleash", "b"))
    assert diff_accounts(old, same).empty
    assert diff_accounts(old, same).summary() == "unchanged"
    slower = _config(("vox", "voximplant", "a"), ("acme", "unleash", "b"),
                     settings=Settings(timeout=99.0))
    changes = diff_accounts(old, slower)
    assert changes.settings and not changes.accounts
    assert changes.summary() == "settings changed"
    swapped = _config(("acme", "unleash", "b"), ("vox", "voximplant", "a"))
    assert diff_accounts(old, swapped) == AccountChanges(reordered=True)
    assert diff_accounts(None, old).added == ("vox", "acme")


def test_set_accounts_keeps_unchanged_state_and_restarts_the_rest() -> None:
    state = _state()
    state.begin_round(["vox", "acme", "eu"])
    for name in ("vox", "acme", "eu"):
        state.apply(_ok(name))
    kept = state.accounts["eu"]
    state.set_accounts([("eu", "voximplant"), ("acme", "unleash"), ("new", "unleash")],
                       changed=["acme"])
    assert list(state.accounts) == ["eu", "acme", "new"]  # the new config's order
    assert state.accounts["eu"] is kept  # same rows, same state: nothing to redraw
    assert state.accounts["acme"].phase == "waiting" and state.accounts["acme"].synced_at is None
    assert state.accounts["new"].phase == "waiting"
    assert "vox" not in state.accounts


def test_events_of_a_sync_started_under_an_older_config_are_ignored() -> None:
    state = _state()
    old_epoch = state.epoch("acme")
    state.begin_round(["acme"])
    state.set_accounts([("vox", "voximplant"), ("acme", "unleash"), ("eu", "voximplant")],
                       changed=["acme"])
    assert state.epoch("acme") != old_epoch and not state.accepts("acme", old_epoch)
    assert state.apply(SyncFailed("acme", ERROR), old_epoch) == ()
    assert state.accounts["acme"].phase == "waiting"  # the old token's failure is not news
    state.begin_round(["acme"])
    state.apply(_ok("acme", 3), state.epoch("acme"))
    assert state.accounts["acme"].invoice_count == 3
    # Unchanged accounts' epochs stay: their syncs under way still count.
    assert state.accepts("vox", 0) and state.accepts("vox", None)


def test_a_removed_account_that_comes_back_does_not_take_its_old_events() -> None:
    state = _state()
    epoch = state.epoch("vox")
    state.set_accounts([("acme", "unleash"), ("eu", "voximplant")])
    state.apply(_ok("vox"), epoch)
    assert "vox" not in state.accounts
    state.set_accounts([("vox", "voximplant"), ("acme", "unleash"), ("eu", "voximplant")])
    assert state.apply(_ok("vox"), epoch) == ()
    assert state.accounts["vox"].phase == "waiting"


def test_a_round_waiting_only_for_removed_accounts_ends_and_reports_its_failures() -> None:
    state = _state()
    state.begin_round(["vox", "acme"])
    state.apply(SyncFailed("acme", ERROR))
    assert state.set_accounts([("acme", "unleash"), ("eu", "voximplant")]) == ("acme",)
    # A round of removed accounts only: nothing finished, nothing to say (the last
    # finished round, all failed, is still the last).
    state.begin_round(["eu"])
    assert state.set_accounts([("acme", "unleash")]) == ()
    assert state.last_round_failed


def test_a_failure_of_an_account_removed_meanwhile_is_not_reported() -> None:
    state = _state()
    state.begin_round(["vox", "acme"])
    assert state.apply(SyncFailed("vox", ERROR)) == ()
    assert state.set_accounts([("acme", "unleash")]) == ()  # acme is still syncing
    assert state.apply(_ok("acme")) == ()
    assert not state.last_round_failed

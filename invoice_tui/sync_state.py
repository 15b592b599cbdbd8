"""What the TUI knows about its accounts' syncs, as plain data (no UI here).

The main screen feeds in what happens — a refresh round asked for, each
:mod:`~invoice_tui.sync` event, cached data read from disk — and its widgets
draw what this model answers: each account's phase (waiting, cached, syncing,
synced, failed) with progress, error, last sync time, invoice count and
summary; which result is the newest; which failures to report, and when.

Three rules live here rather than in widgets:

* **The newest sync wins.** Every successful sync gets a generation number;
  invoices prepared in the background for an older generation are stale.
* **Fresh beats cached.** Once an account synced this session, its cache (read
  in a thread, possibly later) is older data and is not shown.
* **One report per refresh round.** A round is the accounts asked for together;
  its failures are reported once, when its last account has finished.
* **A new config wins.** When the account set changes without a restart
  (:meth:`SyncState.set_accounts`), each account whose config changed gets a new
  *epoch*: events of a sync started under an older epoch are ignored, so a sync
  of the old token or URL that was already under way cannot overwrite the new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal, NamedTuple

from . import sync as syncs
from .config import Config
from .model import AccountSummary
from .providers.base import FetchProgress, ProviderError

Phase = Literal["waiting", "cached", "syncing", "synced", "failed"]


@dataclass(frozen=True, slots=True)
class AccountState:
    """What is known about one account's data and its latest sync."""

    name: str
    provider: str
    phase: Phase = "waiting"
    synced_at: dt.datetime | None = None
    invoice_count: int | None = None
    progress: FetchProgress | None = None
    error: ProviderError | None = None
    summary: AccountSummary | None = None


class AccountChanges(NamedTuple):
    """What a new config changes, by account name (see :func:`diff_accounts`)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    #: Same name, another provider or other options (a new token, base_url …): re-synced.
    changed: tuple[str, ...] = ()
    #: ``[settings]`` differ: they apply to the next syncs, nothing is re-synced for them.
    settings: bool = False
    #: Only the order of the accounts differs (the pane follows it).
    reordered: bool = False

    @property
    def accounts(self) -> bool:
        """Whether the account set or order changed (the pane must be rebuilt)."""
        return bool(self.added or self.removed or self.changed or self.reordered)

    @property
    def empty(self) -> bool:
        """Whether nothing the app uses changed."""
        return not (self.accounts or self.settings)

    def summary(self) -> str:
        """One line for a toast: ``"+1 account, 1 changed"``; ``"unchanged"`` when empty."""
        def count(number: int, sign: str) -> str:
            return f"{sign}{number} account{'s' if number != 1 else ''}"

        parts = []
        if self.added:
            parts.append(count(len(self.added), "+"))
        if self.removed:
            parts.append(count(len(self.removed), "−"))
        if self.changed:
            parts.append(f"{len(self.changed)} changed")
        if self.settings:
            parts.append("settings changed")
        if self.reordered and not parts:
            parts.append("accounts reordered")
        return ", ".join(parts) or "unchanged"


def diff_accounts(old: Config | None, new: Config) -> AccountChanges:
    """What ``new`` changes against ``old`` (``None``: every account is added).

    Accounts are matched by name; one whose provider or options (the whole table,
    secrets included) differ is *changed*. Warnings and the file's path are not
    compared: they change nothing that is synced or shown in the table.
    """
    before = {a.name: a for a in old.accounts} if old is not None else {}
    after = {a.name: a for a in new.accounts}
    kept = [name for name in before if name in after]
    return AccountChanges(
        added=tuple(name for name in after if name not in before),
        removed=tuple(name for name in before if name not in after),
        changed=tuple(name for name in kept if before[name] != after[name]),
        settings=old is not None and old.settings != new.settings,
        reordered=kept != [name for name in after if name in before],
    )


class SyncState:
    """Every configured account's :class:`AccountState`, the generations and the rounds.

    Names not in the config are ignored wherever they come in (a late event of an
    account that is gone must not resurrect it).
    """

    def __init__(self, accounts: Iterable[tuple[str, str]]) -> None:
        """``accounts``: ``(name, provider)`` in display order."""
        self._states: dict[str, AccountState] = {
            name: AccountState(name=name, provider=provider) for name, provider in accounts
        }
        self._generation: dict[str, int] = {}
        self._fresh: set[str] = set()
        self._round_pending: set[str] = set()
        self._round_failed: list[str] = []
        self._round_synced = False  # some account of the round under way synced
        self._last_round_failed = False  # every account of the last finished round failed
        self._epochs: dict[str, int] = {}  # bumped when an account's config changes

    # --- what comes in ----------------------------------------------------------------

    def begin_round(self, names: Iterable[str]) -> None:
        """These accounts' syncs (re)start together: they are syncing, with no progress yet."""
        for name in names:
            if name in self._states:
                if not self._round_pending:  # a new round, not more accounts for this one
                    self._round_synced = False
                self._round_pending.add(name)
                self._states[name] = replace(self._states[name], phase="syncing", progress=None)

    def set_accounts(self, accounts: Iterable[tuple[str, str]],
                     changed: Iterable[str] = ()) -> tuple[str, ...]:
        """A new config's accounts, ``(name, provider)`` in display order, without a restart.

        Accounts kept keep their state; new ones and the ``changed`` ones start over
        ("waiting", a new epoch: the events of their syncs under way are ignored);
        the ones gone are forgotten. The result: like :meth:`apply`'s, the failures to
        report of a round that ended because its last pending accounts went away.
        """
        changed = set(changed)
        old = self._states
        self._states = {}
        for name, provider in accounts:
            state = old.get(name)
            if state is None or name in changed or state.provider != provider:
                state = AccountState(name=name, provider=provider)
                self._restart(name)
            self._states[name] = state
        for name in old.keys() - self._states.keys():
            self._restart(name)  # a late event of it is stale, even if it comes back
        # Gone or restarted accounts leave the round under way; it may end here.
        pending = bool(self._round_pending)
        still = {name for name in self._states if name not in changed}
        self._round_pending &= still
        self._round_failed = [name for name in self._round_failed if name in still]
        if not pending or self._round_pending:
            return ()
        if not (self._round_failed or self._round_synced):
            return ()  # nothing of the round finished: no news about the last sync either
        return self._end_round()

    def epoch(self, name: str) -> int:
        """The number of ``name``'s config: a sync started under it posts it with its events."""
        return self._epochs.get(name, 0)

    def accepts(self, name: str, epoch: int | None) -> bool:
        """Whether an event of ``name`` from a sync started under ``epoch`` still counts
        (``None``: not known, it does): the account exists and its config did not change."""
        return name in self._states and (epoch is None or epoch == self.epoch(name))

    def apply(self, event: syncs.SyncEvent, epoch: int | None = None) -> tuple[str, ...]:
        """Take in one sync event; the accounts that failed in a round this event ended.

        The result is empty unless ``event`` finished the last pending account of a
        round in which some failed: then it is those accounts, in the order they
        failed, to be reported once. An event of an account that is gone, or of a
        sync started under an older ``epoch`` (see :meth:`set_accounts`), is ignored.
        """
        name = event.account
        state = self._states.get(name)
        if state is None or not self.accepts(name, epoch):
            return ()
        if isinstance(event, syncs.SyncStarted | syncs.SyncProgress):
            progress = event.progress if isinstance(event, syncs.SyncProgress) else None
            self._states[name] = replace(state, phase="syncing", progress=progress)
            return ()
        if isinstance(event, syncs.SyncStored):  # rows readable in the store: nothing to draw here
            return ()
        if isinstance(event, syncs.SyncSucceeded):
            self._fresh.add(name)
            self._generation[name] = self._generation.get(name, 0) + 1
            self._states[name] = replace(
                state, phase="synced", synced_at=event.synced_at,
                invoice_count=len(event.invoices), summary=event.summary, error=None,
                progress=None)
            return self._finish(name, failed=False)
        self._states[name] = replace(state, phase="failed", error=event.error, progress=None)
        return self._finish(name, failed=True)

    def cached_arrived(self, name: str, *, synced_at: dt.datetime | None, invoice_count: int,
                       summary: AccountSummary | None) -> bool:
        """Cached data of ``name`` was read; whether to show it.

        Not when this session already synced the account (the cache is older). A
        sync under way stays "syncing"; what the sync reported (its summary) wins.
        """
        state = self._states.get(name)
        if state is None or name in self._fresh:
            return False
        self._states[name] = replace(
            state, phase="cached" if state.phase == "waiting" else state.phase,
            synced_at=synced_at, invoice_count=invoice_count, summary=state.summary or summary)
        return True

    # --- what the widgets draw ----------------------------------------------------------

    @property
    def accounts(self) -> Mapping[str, AccountState]:
        """Each account's state by name, in display order (read-only)."""
        return MappingProxyType(self._states)

    def generation(self, name: str) -> int:
        """The number of ``name``'s latest successful sync (0: none this session)."""
        return self._generation.get(name, 0)

    def is_current(self, name: str, generation: int) -> bool:
        """Whether invoices of sync number ``generation`` are still the newest of ``name``."""
        return generation == self._generation.get(name)

    @property
    def failed(self) -> list[AccountState]:
        """The accounts whose latest sync failed, in display order."""
        return [s for s in self._states.values() if s.phase == "failed"]

    @property
    def any_failed(self) -> bool:
        """Whether some account's latest sync failed."""
        return any(s.phase == "failed" for s in self._states.values())

    @property
    def syncing_count(self) -> int:
        """How many accounts are syncing now."""
        return sum(1 for s in self._states.values() if s.phase == "syncing")

    @property
    def last_round_failed(self) -> bool:
        """Whether every account of the latest finished refresh round failed (so no "last
        sync" time is news: :attr:`last_synced` is of an earlier, successful one)."""
        return self._last_round_failed

    @property
    def last_synced(self) -> dt.datetime | None:
        """The most recent successful sync time of any account (cached or this session)."""
        times = [s.synced_at for s in self._states.values() if s.synced_at is not None]
        return max(times) if times else None

    # --- inside -------------------------------------------------------------------------

    def _restart(self, name: str) -> None:
        """Forget what this session knew of ``name``'s data: a new epoch, and its older
        prepared invoices (generation) and freshness no longer count."""
        self._epochs[name] = self._epochs.get(name, 0) + 1
        if name in self._generation:  # never reused: a stale result must not match again
            self._generation[name] += 1
        self._fresh.discard(name)

    def _finish(self, name: str, *, failed: bool) -> tuple[str, ...]:
        self._round_pending.discard(name)
        if failed and name not in self._round_failed:
            self._round_failed.append(name)
        self._round_synced = self._round_synced or not failed
        if self._round_pending:
            return ()
        return self._end_round()

    def _end_round(self) -> tuple[str, ...]:
        self._last_round_failed, self._round_synced = not self._round_synced, False
        if not self._round_failed:
            return ()
        names, self._round_failed = tuple(self._round_failed), []
        return names

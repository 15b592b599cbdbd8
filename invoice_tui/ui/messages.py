"""Messages the sync workers post to the UI (the widgets never await the network), and the
few types the app and its screens share (here, so that no screen imports the app)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from textual.message import Message

from invoice_tui import sync as syncs
from invoice_tui.config import Config
from invoice_tui.index import AccountIndex, Extras
from invoice_tui.store import StoredAccount

#: Syncs one account; :func:`invoice_tui.sync.sync_account` or a test's stand-in.
SyncFunction = Callable[..., Awaitable["syncs.SyncOutcome"]]
#: The current time, timezone-aware (frozen in tests and screenshots).
Clock = Callable[[], dt.datetime]
#: What the user chose on a screen shown instead of the main one (welcome, config error);
#: "keep": back to the last good config from the error screen of a bad edit.
StartChoice = Literal["demo", "quit", "keep"]


class AccountSyncEvent(Message):
    """One event of one account's sync (started, progress, succeeded, failed).

    Consecutive progress events of the same account coalesce (``can_replace``),
    so a fast paginated fetch cannot flood the message queue. ``epoch``: the
    account's config epoch when its sync started (``SyncState.epoch``); events of
    a config replaced meanwhile are ignored.
    """

    def __init__(self, event: syncs.SyncEvent, epoch: int | None = None) -> None:
        super().__init__()
        self.event = event
        self.epoch = epoch

    @property
    def account(self) -> str:
        return self.event.account

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, AccountSyncEvent)
            and isinstance(self.event, syncs.SyncProgress)
            and isinstance(message.event, syncs.SyncProgress)
            and message.account == self.account
            and message.epoch == self.epoch
        )



@dataclass(frozen=True, slots=True)
class AccountRead:
    """One account as read from the store in a thread: its index and what came with it.

    ``sequence`` orders the reads that were asked for (a later one holds newer data);
    ``extras`` (search texts, sort keys) may follow in a second read of the same index.
    """

    index: AccountIndex
    sequence: int
    stored: StoredAccount | None = None
    extras: Extras | None = None


class AccountsRead(Message):
    """Accounts read from the store (all of them at once at startup, so the first rows are
    replaced in one go); ``warnings`` say what could not be read."""

    def __init__(self, reads: list[AccountRead], warnings: list[str] | None = None, *,
                 initial: bool = False) -> None:
        super().__init__()
        self.reads = reads
        self.warnings = warnings or []
        self.initial = initial


class ConfigChanged(Message):
    """A new config was saved (an in-app account form, ``secret set`` …) or read after
    config.toml changed on disk: the app applies it without a restart.

    Posted by whoever saved it; it bubbles to the app, which alone swaps configs.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

"""Messages the sync workers post to the UI (the widgets never await the network), and the
few types the app and its screens share (here, so that no screen imports the app)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Literal

from textual.message import Message

from invoice_tui.store import StoredAccount
from invoice_tui.sync import SyncEvent, SyncOutcome, SyncProgress
from invoice_tui.view import PreparedAccount

#: Syncs one account; :func:`invoice_tui.sync.sync_account` or a test's stand-in.
SyncFunction = Callable[..., Awaitable[SyncOutcome]]
#: The current time, timezone-aware (frozen in tests and screenshots).
Clock = Callable[[], dt.datetime]
#: What the user chose on a screen shown instead of the main one (welcome, config error).
StartChoice = Literal["demo", "quit"]


class AccountSyncEvent(Message):
    """One event of one account's sync (started, progress, succeeded, failed).

    Consecutive progress events of the same account coalesce (``can_replace``),
    so a fast paginated fetch cannot flood the message queue.
    """

    def __init__(self, event: SyncEvent) -> None:
        super().__init__()
        self.event = event

    @property
    def account(self) -> str:
        return self.event.account

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, AccountSyncEvent)
            and isinstance(self.event, SyncProgress)
            and isinstance(message.event, SyncProgress)
            and message.account == self.account
        )



class AccountDataReady(Message):
    """An account's invoices, prepared for the table in a worker thread.

    ``cached`` is set when they come from the store (startup); otherwise they are the
    result of that account's sync number ``generation``; only the latest one counts.
    """

    def __init__(self, prepared: PreparedAccount, *, cached: StoredAccount | None = None,
                 generation: int = 0) -> None:
        super().__init__()
        self.prepared = prepared
        self.cached = cached
        self.generation = generation


class CacheLoaded(Message):
    """Every account's stored invoices were read; ``warnings``: what went wrong meanwhile."""

    def __init__(self, warnings: list[str]) -> None:
        super().__init__()
        self.warnings = warnings

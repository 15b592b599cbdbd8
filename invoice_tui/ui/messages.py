"""Messages the sync workers post to the UI (the widgets never await the network)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from invoice_tui.index import AccountIndex, Extras, StoredAccount
from invoice_tui.sync import SyncEvent, SyncProgress


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

"""Messages the sync workers post to the UI (the widgets never await the network)."""

from __future__ import annotations

from textual.message import Message

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


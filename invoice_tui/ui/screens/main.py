"""The main screen: provider pane, filterable invoice table, status line; owns the sync workers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.lazy import Lazy
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList
from textual.worker import Worker, WorkerState

from invoice_tui import deferred, spend  # spend: deferred, `m` is the first to use it
from invoice_tui import export as exports
from invoice_tui import sync as syncs
from invoice_tui.clip import invoice_reference, invoice_row, shortened
from invoice_tui.config import AccountConfig, Config
from invoice_tui.fs import OutputRefused
from invoice_tui.index import (
    FirstRowsRead,
    StoreReader,
    connect_reader,
    load_account,
    load_extras,
    snapshot,
)
from invoice_tui.providers import ProviderError
from invoice_tui.query import parse_query
from invoice_tui.store import InvoiceStore, StoreError, account_key
from invoice_tui.sync_state import AccountChanges, SyncState, diff_accounts
from invoice_tui.text import sanitize
from invoice_tui.ui.formatting import copy_text
from invoice_tui.ui.messages import (
    AccountRead,
    AccountsRead,
    AccountSyncEvent,
    Clock,
    SyncFunction,
)

# Modules, not names: the screens that keys open are deferred (invoice_tui.deferred).
from invoice_tui.ui.screens import detail as detail_screen
from invoice_tui.ui.screens import error as error_screens
from invoice_tui.ui.screens import export_prompt
from invoice_tui.ui.screens import pdfs as pdf_screen
from invoice_tui.ui.screens import spend as spend_screen
from invoice_tui.ui.widgets.invoice_table import InvoiceTable, TableState
from invoice_tui.ui.widgets.provider_pane import ProviderPane, account_from_option_id
from invoice_tui.ui.widgets.status_line import StatusLine
from invoice_tui.view import STORED_SORT_KEYS, InvoiceView, Period

COMPACT_FOOTER_BELOW = 110  # terminal columns


class FilterInput(Input):
    """The `/` filter: filters as you type, Enter keeps it, Esc clears it."""

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter", id="filter.clear",
                tooltip="Clear the filter and go back to the table"),
    ]

    def __init__(self, on_change: Callable[[str], None], *, placeholder: str,
                 id: str) -> None:  # noqa: A002 - Textual's name
        super().__init__(placeholder=placeholder, id=id)
        self._on_change = on_change

    def watch_value(self, value: str) -> None:
        # Applied in the key's own handler, not on the Changed message it posts (three hops
        # up, often a frame later): the rows a key filters are in the frame that shows it.
        self._on_change(value)

    def action_clear_filter(self) -> None:
        self.value = ""
        self.screen.query_one(InvoiceTable).focus()


class MainScreen(Screen[None]):
    """Accounts on the left, the invoice table in the middle, the status line at the bottom.

    Everything it needs comes in here: the accounts (``config``), the local invoice
    ``store``, the ``sync`` function its workers run, the clock (``now``) and ``today``
    (the anchor of the period filter). What the syncs did is kept in ``sync_state``
    (plain data); the screen feeds it events and redraws the widgets from it.
    """

    FIRST_ROWS = 60  # shown before any index is read: more than a terminal's height
    READ_EVERY = 0.5  # seconds: how often an account's first sync is re-read as pages land
    SETTLE = 0.3  # seconds the UI has to draw the counted invoices before background work

    # Declared, not focus() in on_mount: the screen's own auto-focus runs later and would win.
    AUTO_FOCUS = "#invoices"

    BINDINGS = [
        # Priority: handled as the key arrives, so the keys typed right after it already
        # go to the filter (a normal binding moves focus only after they were routed).
        Binding("slash", "filter", "Filter", key_display="/", id="main.filter", priority=True,
                tooltip="Filter as you type: number, label, status, account, lines"),
        Binding("p", "cycle_period", "Period", id="main.period",
                tooltip="Cycle the period filter: all → year → month"),
        Binding("left_square_bracket", "step_period(-1)", "Prev period", key_display="[",
                show=False, id="main.period_prev", tooltip="Previous year or month"),
        Binding("right_square_bracket", "step_period(1)", "Next period", key_display="]",
                show=False, id="main.period_next", tooltip="Next year or month"),
        Binding("r", "refresh_account", "Refresh", id="main.refresh",
                tooltip="Refresh the selected account"),
        Binding("R", "refresh_all", "Refresh all", id="main.refresh_all",
                tooltip="Refresh every account"),
        Binding("m", "spend", "Spend", id="main.spend",
                tooltip="Billed per account and month, per currency (Enter on a cell: its "
                        "invoices)"),
        # Before Clear filters: after Enter on a cell of the spend screen, Esc goes back to
        # that cell (check_action lets only one of the two be active).
        Binding("escape", "back_to_spend", "Back to spend", id="main.back_to_spend",
                tooltip="Back to the spend screen, on the cell you came from"),
        Binding("escape", "clear_filters", "Clear filters", id="main.clear_filters",
                tooltip="Clear the text, status and account filters (the period stays)"),
        Binding("e", "show_error", "Why it failed", id="main.error",
                tooltip="Show the full reason and hint of a failed account"),
        Binding("left,h", "focus_pane", "Accounts", show=False, id="main.focus_pane",
                tooltip="Move to the accounts pane"),
        Binding("right,l", "focus_table", "Invoices", show=False, id="main.focus_table",
                tooltip="Move to the invoice table"),
        Binding("D", "download_pdfs", "PDFs", show=False, id="main.pdfs",
                tooltip="Download the PDF of every visible invoice to the downloads folder"),
        Binding("ctrl+e", "export", "Export", show=False, id="main.export",
                tooltip="Export the visible invoices to a CSV or JSON file"),
        Binding("y", "yank", "Copy number", show=False, id="main.yank",
                tooltip="Copy the selected invoice's number (its id when it has none)"),
        Binding("Y", "yank_row", "Copy row", show=False, id="main.yank_row",
                tooltip="Copy the selected invoice's row, tab-separated"),
        Binding("a", "app.add_account", "Add account", show=False, id="main.add_account",
                tooltip="Add an account (a form; saved to config.toml)"),
    ]

    def __init__(self, config: Config, store: InvoiceStore,
                 store_warnings: tuple[str, ...] = (), *, sync: SyncFunction, now: Clock,
                 today: dt.date, first_rows: FirstRowsRead | None = None) -> None:
        """``first_rows``: the read of the first rows, begun earlier (see
        :meth:`read_first_rows`); begun here if not."""
        super().__init__()
        self.config = config
        self.store = store
        self._store_warnings = store_warnings  # from opening the store, toasted with the load's
        self.sync = sync
        self.now = now
        self.today = today
        self._accounts = {account.name: account for account in config.accounts}
        self.sync_state = SyncState((a.name, a.provider) for a in config.accounts)
        # The table reads the store through its own read-only connections (a sync writes
        # it). Reads run in threads, numbered in the order their snapshots of the store
        # begin: an account shows the read with the highest number, the newest data.
        self.reader = StoreReader(store.path)
        self._keys = {account.name: account_key(account) for account in config.accounts}
        self._first_read = first_rows or self.read_first_rows(config, store)
        self._read_numbers = itertools.count(1)
        self._read_order = threading.Lock()
        self._shown_read: dict[str, int] = {}
        self._readers: dict[str, Worker[None]] = {}  # the latest read of each account
        self._last_read: dict[str, float] = {}
        self._read_again: set[str] = set()  # a re-read of a first sync is scheduled
        self._stored: set[str] = set()  # accounts with a complete sync in the store
        self.cache_loaded = asyncio.Event()  # set once the store's startup read is shown
        self._initial_shown = threading.Event()  # … and drawn
        self._filtered = False  # a text, status or account filter is on (Esc clears them)
        self._query_hint = ""  # the filter box's hint for a term it cannot use
        self._failed = False  # some account's last sync failed (e explains it)
        # Each account's sums per month, once per index (made at the first `m`).
        self._spend_book: spend.SpendBook | None = None
        # After Enter on a spend cell: the table as it was, and the cell to go back to.
        self._spend_return: tuple[TableState, str, int | None] | None = None
        # Mounted after the first frame (Lazy): its keys are ~20 widgets to style and lay
        # out, which the first rows need not wait for. Kept here to fit it to the width.
        self._footer = Footer()
        # The table's border title, subtitle and hidden sort, as set.
        self._table_titles: tuple[str, str, str | None] = ("", "", None)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield ProviderPane(self.sync_state, self.now, id="providers")
            # The `/` box goes above the table when first needed (filter_input).
            with Vertical(id="table-area"):
                yield InvoiceTable(self._first_rows(), id="invoices")
        yield StatusLine(id="status")
        yield Lazy(self._footer)  # fitted to the width by on_resize, before it mounts

    # --- startup: stored data first, then a background refresh ----------------------

    def on_mount(self) -> None:
        # Every account's compact index from a thread, once the first frame (with the first
        # rows) is drawn: it would slow that frame down (it shares the GIL).
        self.call_after_refresh(threading.Thread(
            target=self._read_store, name="invoice-tui store", daemon=True).start)
        self._update_status()
        self.set_interval(60, self._update_status)
        if self.config.warnings:
            self.notify(" · ".join(sanitize(w) for w in self.config.warnings), title="Config",
                        severity="warning", markup=False, timeout=15)
        # The syncs too: building their clients (TLS context, keys) blocks the event loop
        # for a while. The first frame (with the stored rows) comes first, and when there
        # are stored invoices to index, they are all counted first: the refresh takes the
        # network's time anyway, and its setup would slow the indexing down (the GIL).
        self.call_after_refresh(self.refresh_accounts, self._accounts,
                                after_store=self.table.view.loading)

    @classmethod
    def read_first_rows(cls, config: Config, store: InvoiceStore) -> FirstRowsRead:
        """Begin reading what the first frame shows of the store (in a thread): made before
        the app starts, the read overlaps with Textual's start instead of delaying it."""
        return FirstRowsRead(store.path, [account.name for account in config.accounts],
                             cls.FIRST_ROWS,
                             keys=[account_key(account) for account in config.accounts])

    def _first_rows(self) -> InvoiceView:
        """The table's view, with the newest rows already (one indexed LIMIT query, a few
        milliseconds): they are in the first frame, long before 100 000 are indexed."""
        view = InvoiceView(self.reader)
        try:
            rows, count = self._first_read.result()
        except sqlite3.Error:
            return view  # _read_store says what is wrong with the store
        view.set_preview(rows, count)
        return view

    def _read_store(self) -> None:
        """In a thread (a daemon, not a worker: quitting never waits for it): every account's
        index in one message, then each one's search texts and sort keys, then the store's
        integrity check (left out of opening it, so that it never delays the first frame)."""
        warnings = list(self._store_warnings)
        shown = False
        try:
            states = self.store.account_states(self._accounts.values())
            conn = connect_reader(self.store.path)
            reads: list[AccountRead] = []
            if conn is not None:
                try:
                    with self._numbered(conn) as number:
                        reads = [AccountRead(load_account(conn, name, key), number,
                                             states.get(name))
                                 for name, key in self._keys.items()]
                        self.post_message(AccountsRead(reads, warnings, initial=True))
                        shown, warnings = True, []
                        # The rest waits until they are on screen: this thread would slow
                        # down the frame that counts them (it shares the GIL).
                        self._initial_shown.wait(timeout=2)
                        for read in reads:
                            extras = load_extras(conn, read.index, STORED_SORT_KEYS)
                            self.post_message(AccountsRead([replace(read, extras=extras)]))
                finally:
                    conn.close()
            if not shown:
                self.post_message(AccountsRead(reads, warnings, initial=True))
                shown, warnings = True, []
            warnings.extend(self.store.verify())
        except (sqlite3.Error, StoreError) as error:
            warnings.append(_store_problem(error))
        except Exception as error:  # noqa: BLE001 - a bug: say so (a thread would lose it)
            warnings.append(f"internal error while reading invoices: {type(error).__name__}"
                            " — this is a bug in invoice-tui; please report it")
        if warnings or not shown:
            self.post_message(AccountsRead([], warnings, initial=not shown))

    def _read_account(self, name: str, *, during_sync: bool = False) -> None:
        """Re-read one account's index in a thread (its sync wrote to the store).

        During a first sync at most every ``READ_EVERY`` seconds and one read at a time,
        without sort keys: enough to show the pages as they land.
        """
        if during_sync:
            running = self._readers.get(name)
            wait = self._last_read.get(name, -1e9) + self.READ_EVERY - time.monotonic()
            if (running is not None and not running.is_finished) or wait > 0:
                if name not in self._read_again:
                    self._read_again.add(name)
                    self.set_timer(max(wait, 0.1), lambda: self._read_later(name))
                return
        self._last_read[name] = time.monotonic()

        def read() -> AccountsRead:
            try:
                conn = connect_reader(self.store.path)
                if conn is None:
                    return AccountsRead([])
                try:
                    with self._numbered(conn) as number:
                        index = load_account(conn, name, self._keys[name])
                        extras = load_extras(conn, index, {} if during_sync else STORED_SORT_KEYS)
                finally:
                    conn.close()
            except sqlite3.Error as error:
                return AccountsRead([], [_store_problem(error)])
            return AccountsRead([AccountRead(index, number, extras=extras)])

        async def read_and_show() -> None:
            # Shown by the worker itself, so that when it is done the table is up to date.
            self._on_accounts_read(await asyncio.to_thread(read))

        self._readers[name] = self.run_worker(read_and_show(), name=f"read {name}",
                                              group=f"read:{name}", exit_on_error=False)

    @contextlib.contextmanager
    def _numbered(self, conn: sqlite3.Connection) -> Iterator[int]:
        """A snapshot of the store and its number: a higher one began later, so saw more."""
        with contextlib.ExitStack() as stack:
            with self._read_order:
                stack.enter_context(snapshot(conn))
                number = next(self._read_numbers)
            yield number

    def _read_later(self, name: str) -> None:
        self._read_again.discard(name)
        if self._in_first_sync(name):
            self._read_account(name, during_sync=True)

    def _in_first_sync(self, name: str) -> bool:
        """Syncing with nothing in the store to show yet: its pages are shown as they land.
        (A refresh of stored invoices is read once, when done: re-reading 100 000 every
        half second would slow the sync down.)"""
        state = self.sync_state.accounts.get(name)
        return (self.cache_loaded.is_set() and name not in self._stored
                and state is not None and state.phase == "syncing")

    @on(AccountsRead)
    def _on_accounts_read(self, message: AccountsRead) -> None:
        for read in message.reads:
            name = read.index.account
            if name not in self._accounts:
                continue
            stored = read.stored
            if stored is not None and stored.synced_at is not None and \
                    self.sync_state.cached_arrived(name, synced_at=stored.synced_at,
                                                   invoice_count=stored.invoice_count,
                                                   summary=stored.summary):
                self._stored.add(name)  # else a sync of this session already brought newer
                self.pane.redraw(name)
            if read.sequence < self._shown_read.get(name, 0):
                continue  # a newer read of this account is already shown
            self._shown_read[name] = read.sequence
            shown = self.table.view.index(name)
            if shown is None and not len(read.index):
                # Nothing stored yet (an account just added): showing nothing would cost
                # a merge of every other account's rows (0.3 s CPU at 100 000).
                continue
            if shown is not read.index:
                self.table.set_account_index(read.index)
            if read.extras is not None:
                self.table.view.set_extras(read.index, *read.extras)
        if message.initial:
            self.cache_loaded.set()
            # What waited for the invoices to be counted goes on a moment after: the frame
            # that counts them is written by Textual's writer thread, which needs the GIL
            # too, and the search texts and the refresh's setup would hold it meanwhile.
            self.set_timer(self.SETTLE, self._initial_shown.set)
        if message.warnings:
            self.notify(" · ".join(message.warnings), title="Invoice store", severity="warning",
                        markup=False)
        self._update_status()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Screen's own handler (the subclass first), which restyles every widget
        # when asked to. On the first resume, the one that follows the mount, each widget was
        # styled as it mounted, a moment ago: styling them all again would cost the first
        # frame as much as that did (the table's component classes most). Screen counts
        # its resumes (and suspends) in stack_updates, after this handler: 0 on the first.
        if not self.stack_updates:
            event.refresh_styles = False

    def on_resize(self, event: events.Resize) -> None:
        self._fit_footer(event.size.width)

    def _fit_footer(self, width: int) -> None:
        # On a narrow terminal the footer keys lose their padding and the palette hint goes
        # (? help lists ctrl+p), so that every key still fits.
        footer = self._footer
        compact = width < COMPACT_FOOTER_BELOW
        if compact != footer.compact or compact == footer.show_command_palette:
            footer.compact = compact
            footer.show_command_palette = not compact
            if footer.is_mounted:  # else it is composed so when it mounts
                footer.refresh(recompose=True)  # show_command_palette alone does not redraw

    # --- widgets --------------------------------------------------------------------

    @property
    def table(self) -> InvoiceTable:
        return self.query_one("#invoices", InvoiceTable)

    @property
    def pane(self) -> ProviderPane:
        return self.query_one("#providers", ProviderPane)

    @property
    def filter_input(self) -> FilterInput:
        """The `/` box, mounted above the table the first time it is needed: hidden until
        then, it cost the first frame ~10 ms of CPU (its CSS, mount and styles)."""
        found = self.query("#filter")
        if found:
            return found.first(FilterInput)
        box = FilterInput(self._filter_typed, id="filter",
                          placeholder="filter: number, label, status, account, line text")
        box.border_title = "Filter · Enter keeps it · Esc clears it"
        # In the DOM (and styled) at once: the caller sets its value or focuses it now.
        self.query_one("#table-area").mount(box, before=0)
        return box

    # --- refresh ----------------------------------------------------------------------

    def refresh_accounts(self, names: Iterable[str], *, after_store: bool = False) -> None:
        """Start (or restart) one background sync per account; one group each.

        ``after_store``: each sync waits until the stored invoices are counted first.
        """
        accounts = [self._accounts[name] for name in names]
        self.sync_state.begin_round(account.name for account in accounts)
        for account in accounts:
            name = account.name
            self.pane.redraw(name)
            self.run_worker(
                self._sync(account, after_store), name=f"sync {name}", group=f"sync:{name}",
                exclusive=True, exit_on_error=False,
            )
        self._update_status()

    async def _sync(self, account: AccountConfig, after_store: bool = False) -> syncs.SyncOutcome:
        if after_store:
            await self.cache_loaded.wait()
            await asyncio.sleep(self.SETTLE)
        # What the first frame could do without (the network stack, JWT signing) is
        # imported now, in a thread: the event loop keeps drawing meanwhile.
        if deferred.pending():
            await asyncio.to_thread(deferred.load_all)

        # The account's config epoch now: if a reload replaces its config while this
        # sync runs, what it posts is ignored (the new config's sync wins).
        epoch = self.sync_state.epoch(account.name)

        def forward(event: syncs.SyncEvent) -> None:
            # Only progress flows through the callback; the outcome is posted once below,
            # whether or not the sync also reports it as an event.
            if isinstance(event, syncs.SyncStarted | syncs.SyncProgress):
                self.post_message(AccountSyncEvent(event, epoch))

        # The settings as they are when the sync starts: a reload's apply to the next syncs.
        outcome = await self.sync(account, self.config.settings, store=self.store, on_event=forward)
        self.post_message(AccountSyncEvent(outcome, epoch))
        return outcome

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Every worker here runs with exit_on_error=False: a bug in one must neither end the
        # app nor vanish. Only the type is shown: an exception's text could quote a request
        # (and so a secret).
        worker = event.worker
        group = worker.group or ""
        if event.state != WorkerState.ERROR:
            return
        error = type(worker.error).__name__
        if group.startswith("sync:"):
            # A bug, not a provider problem: shown like any failure of that account.
            self.post_message(AccountSyncEvent(syncs.SyncFailed(
                group.removeprefix("sync:"),
                ProviderError(f"internal error: {error}",
                              "this is a bug in invoice-tui; please report it"))))
            return
        doing = "reading invoices" if group.startswith("read:") else "a background task"
        self.notify(f"internal error while {doing}: {error}"
                    " — this is a bug in invoice-tui; please report it",
                    severity="error", markup=False)

    @on(AccountSyncEvent)
    def _on_sync_event(self, message: AccountSyncEvent) -> None:
        event = message.event
        name = event.account
        if name not in self._accounts or not self.sync_state.accepts(name, message.epoch):
            return  # an account removed, or its config replaced, by a reload
        first_sync = self._in_first_sync(name)  # before the event: syncing, nothing stored
        round_failed = self.sync_state.apply(event, message.epoch)
        if isinstance(event, syncs.SyncProgress) and first_sync:
            self._read_account(name, during_sync=True)  # show the pages as they land
        elif isinstance(event, syncs.SyncSucceeded):
            self._stored.add(name)
            self._read_account(name)  # the sync stored them: read what it left
        elif isinstance(event, syncs.SyncFailed) and first_sync:
            self._read_account(name)  # the pages it stored before failing are real
        self.pane.redraw(name)
        if isinstance(event, syncs.SyncSucceeded) and event.warnings:
            self.notify(" · ".join(sanitize(w) for w in event.warnings), title=sanitize(name),
                        severity="warning", markup=False, timeout=15)
        if round_failed:
            self._report_round_failures(round_failed)
        self._update_status()

    def _report_round_failures(self, names: Sequence[str]) -> None:
        count = len(names)
        self.notify(
            f"{count} account{'s' if count > 1 else ''} failed to sync: "
            f"{sanitize(', '.join(names))}. Press e for the reason and a hint.",
            title="Sync", severity="error", markup=False,
        )

    def _selected_account(self) -> str | None:
        """The pane's account when the pane is focused ("All accounts": ``None``), else the
        highlighted invoice's."""
        if self.pane.has_focus:
            return self.pane.highlighted_account
        invoice = self.table.cursor_invoice
        if invoice is not None:
            return invoice.account
        return self.pane.highlighted_account

    def action_refresh_account(self) -> None:
        if self.pane.has_focus and self.pane.highlighted_accounts is not None:
            self.refresh_accounts(sorted(self.pane.highlighted_accounts))  # one, or a provider's
            return
        name = self._selected_account()
        if name is None:
            self.action_refresh_all()
            return
        self.refresh_accounts([name])

    def action_refresh_all(self) -> None:
        self.refresh_accounts(self._accounts)

    # --- a new config without a restart (issue 10 §2) -------------------------------

    def apply_config(self, config: Config) -> AccountChanges:
        """Take ``config`` in place of the current one; what changed.

        Added accounts appear and sync at once; removed ones leave the pane, the table,
        its totals, chips and the spend screen; changed ones (provider or options) sync
        again; the others keep their rows and state. Settings apply to the next syncs.
        A sync under way of a removed or changed account is cancelled, and what it
        already posted is ignored (``SyncState`` epochs).
        """
        changes = diff_accounts(self.config, config)
        self.config = config  # _sync reads its settings when each sync starts
        if not changes.accounts:
            return changes
        # New dicts, never changed in place: the startup read's thread may iterate the old.
        old_keys = self._keys
        self._accounts = {account.name: account for account in config.accounts}
        self._keys = {account.name: account_key(account) for account in config.accounts}
        round_failed = self.sync_state.set_accounts(
            ((account.name, account.provider) for account in config.accounts), changes.changed)
        for name in (*changes.removed, *changes.changed):
            self.app.workers.cancel_group(self, f"sync:{name}")
            self.app.workers.cancel_group(self, f"read:{name}")
        # A removed account's rows stay in the store (only its view goes): an account
        # removed by mistake and added back shows them again at once, without a full
        # refetch, and an edit of a text file should never destroy billing history.
        # A changed account keeps its rows unless its store identity (account_key:
        # provider, base URL, key file) changed: then they belong to another account.
        moved = [name for name in changes.changed if old_keys[name] != self._keys[name]]
        for name in (*changes.removed, *moved):
            self._forget_shown(name)
        self._drop_account_filter(changes.removed)
        self.pane.rebuild()
        if round_failed:
            self._report_round_failures(round_failed)
        for name in (*changes.added, *moved):
            self._read_account(name)  # what the store already holds for it
        self.refresh_accounts([*changes.added, *changes.changed])
        self._update_status()
        return changes

    def _forget_shown(self, name: str) -> None:
        """Take an account's invoices out of the table and its totals (the spend screen
        is made from the table's accounts). Before the startup read, the first rows
        shown may still hold some of them: that read replaces them, without this one."""
        self.table.remove_account(name)
        self._shown_read.pop(name, None)
        self._stored.discard(name)

    def _drop_account_filter(self, removed: Iterable[str]) -> None:
        """An account filter naming removed accounts keeps the others (none left: all)."""
        accounts = self.table.view.accounts
        if accounts is not None and not accounts.isdisjoint(removed):
            self.table.set_accounts((accounts - set(removed)) or None)

    # --- the account pane -----------------------------------------------------------

    @on(ProviderPane.AccountsHighlighted)
    def _on_accounts_highlighted(self, event: ProviderPane.AccountsHighlighted) -> None:
        self._apply_accounts(event.accounts)

    @on(OptionList.OptionSelected, "#providers")
    def _on_account_selected(self, event: OptionList.OptionSelected) -> None:
        name = account_from_option_id(event.option_id)
        state = self.sync_state.accounts.get(name) if name is not None else None
        if state is not None and state.phase == "failed":
            self.action_show_error(name)
        else:
            self.table.focus()

    def show_account(self, name: str | None) -> None:
        """Filter the table to one account (``None``: all accounts) and move the pane cursor."""
        self._show_accounts(None if name is None else frozenset({name}))

    def _show_accounts(self, accounts: frozenset[str] | None) -> None:
        """Filter the table to these accounts; the pane's cursor goes to the entry that
        stands for them (an account, a provider's heading, all), if one does."""
        self._apply_accounts(accounts)
        self.pane.select_accounts(accounts)

    def _apply_accounts(self, accounts: frozenset[str] | None) -> None:
        if accounts != self.table.view.accounts:  # a refilter of 100 000 is not free
            self.table.set_accounts(accounts)

    def action_focus_pane(self) -> None:
        self.pane.focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_show_error(self, name: str | None = None) -> None:
        failed = [s for s in self.sync_state.failed if s.error]
        name = name or self._selected_account()
        state = self.sync_state.accounts.get(name) if name is not None else None
        if (state is None or state.phase != "failed") and failed:
            # Not on a failed account ("All accounts", or the cursor on another account's
            # invoice): the first one that failed, rather than nothing.
            state = failed[0]
        if state is None or state.error is None or state.phase != "failed":
            self.notify("No sync error on the selected account.", markup=False)
            return
        self.app.push_screen(
            error_screens.AccountErrorScreen(state.name, state.provider, state.error),
            callback=partial(self._after_error_screen, state.name))

    def _after_error_screen(self, name: str, retry: bool | None) -> None:
        if retry:
            self.refresh_accounts([name])

    # --- the table ------------------------------------------------------------------

    @on(InvoiceTable.Selected)
    def _on_invoice_selected(self, event: InvoiceTable.Selected) -> None:
        invoice = event.invoice
        account = self._accounts.get(invoice.account)
        if not invoice.lines and account is not None:
            # Invoices read from the store are headers (lines=()): the detail's lines come
            # from the store now. One indexed lookup, quick enough for the UI thread.
            try:
                invoice = replace(invoice, lines=self.store.lines(account, invoice.id))
            except StoreError as error:
                self.notify(f"line items not shown: {error}", severity="warning", markup=False)
        self.app.push_screen(
            detail_screen.InvoiceDetailScreen(invoice, account, self.config.settings))

    @on(InvoiceTable.ViewChanged)
    def _on_view_changed(self, _: InvoiceTable.ViewChanged) -> None:
        self._update_status()

    # --- filter ---------------------------------------------------------------------

    def action_filter(self) -> None:
        if self.filter_input.has_focus:
            raise SkipAction()  # "/" typed into the filter is text
        self.filter_input.add_class("-visible")
        self.set_focus(self.filter_input)  # now, not after the queued keys (focus() defers)

    def _filter_typed(self, text: str) -> None:
        self.table.set_query(text)
        self._update_status()  # the count in the same frame as the rows

    @on(Input.Submitted, "#filter")
    def _on_filter_submitted(self) -> None:
        self.table.focus()

    @on(Input.Blurred, "#filter")
    def _on_filter_blurred(self) -> None:
        if not self.filter_input.value:
            self.filter_input.remove_class("-visible")

    def set_filter(self, text: str) -> None:
        """Set the filter text as if typed (palette commands, tests)."""
        self.filter_input.value = text
        self.filter_input.set_class(bool(text), "-visible")
        self.table.set_query(text)

    def filter_by(self, field: str, value: str) -> None:
        """Put ``field:value`` in the `/` box (palette filters): a chip like any term, and
        Esc clears it. It replaces a term of the same field; other terms stay."""
        value = " ".join(value.replace('"', "").split())
        term = f'{field}:"{value}"' if " " in value or not value else f"{field}:{value}"
        kept = [t.source for t in parse_query(self.filter_input.value).terms
                if t.field != field or t.negated]
        self.set_filter(" ".join([*kept, term]))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back_to_spend":
            return self._spend_return is not None
        if action == "clear_filters":  # Esc only when there is something to clear
            return self._filtered and self._spend_return is None
        if action == "show_error":  # e only when an account failed
            return self._failed
        return True

    def action_clear_filters(self) -> None:
        self.clear_filters()
        self.table.focus()

    def clear_filters(self) -> None:
        """Clear the text, status and account filters (the period stays)."""
        self.set_filter("")
        self.table.set_statuses(None)
        self.show_account(None)

    # --- period ---------------------------------------------------------------------

    def action_cycle_period(self) -> None:
        # From today, not from the cursor's invoice: after scrolling back to 2024, p
        # still means "this year", then "this month" (the brackets step from there).
        self.table.set_period(self.table.view.period.cycle(self.today))

    def action_step_period(self, delta: int) -> None:
        view = self.table.view
        if view.period.kind == "all":
            self.notify("Press p to pick a year or month first.", markup=False)
            return
        target = view.adjacent_period(delta)
        if not view.has_period(target):
            # Past the newest or oldest invoice: stay, rather than walk into empty periods.
            which = "after" if delta > 0 else "before"
            self.notify(f"No invoices {which} {view.period.label()}.", markup=False)
            return
        self.table.set_period(target)

    def set_period(self, period: Period) -> None:
        """Show one period (palette commands)."""
        self.table.set_period(period)

    # --- spend by month -------------------------------------------------------------

    def action_spend(self) -> None:
        """The spend screen over the table's period and account filters (back to the cell
        it left, after Enter on one)."""
        if self._spend_return is not None:
            self.action_back_to_spend()
        else:
            self._open_spend(None)

    def _open_spend(self, cursor: tuple[str, int | None] | None) -> None:
        view = self.table.view
        indexes = [index for name in view.account_names
                   if (index := view.index(name)) is not None]
        if self._spend_book is None:
            self._spend_book = spend.SpendBook()
        self._spend_book.forget(index.account for index in indexes)
        table = spend.spend_table(map(self._spend_book.spend, indexes), view.period,
                                  self.today, view.accounts)
        self.app.push_screen(spend_screen.SpendScreen(table, cursor), callback=self._after_spend)

    def _after_spend(self, pick: spend_screen.SpendPick | None) -> None:
        if pick is None:
            return
        self._spend_return = (self.table.snapshot_state(), pick.row, pick.month)
        drill = pick.drill
        self.set_filter("")
        self.table.set_statuses(drill.statuses)
        self.table.set_period(drill.period)
        self._show_accounts(drill.accounts)
        self.table.action_cursor_first()
        self.table.focus()
        self.refresh_bindings()

    def action_back_to_spend(self) -> None:
        if self._spend_return is None:
            return
        state, row, month = self._spend_return
        self._spend_return = None
        self.set_filter(state.query)
        self.table.restore_state(state)
        self._show_accounts(state.accounts)
        self.refresh_bindings()
        self._open_spend((row, month))
    # --- PDFs, export, yank ---------------------------------------------------------

    def _downloads_folder(self) -> Path | None:
        folder = self.config.settings.downloads_dir()
        if folder.is_absolute():
            return folder
        self.notify(f"✗ the downloads folder {sanitize(str(folder))} is not an absolute path"
                    ' — set [settings] downloads to a full path, e.g. "~/Downloads"',
                    severity="error", markup=False)
        return None

    def action_download_pdfs(self) -> None:
        # The keys only: reading 100 000 invoices here would freeze the UI for seconds;
        # the download screen reads them from the store in a thread.
        keys = self.table.view.visible_keys()
        folder = self._downloads_folder()
        if not keys:
            self.notify("No invoices shown: nothing to download.", markup=False)
        elif folder is not None:
            load = partial(self.store.invoices_of, self._accounts, keys)
            self.app.push_screen(pdf_screen.PdfDownloadScreen(self.config, load, len(keys), folder),
                                 callback=self._after_pdfs)

    def _after_pdfs(self, run: pdf_screen.PdfRun | None) -> None:
        if run is not None:
            text, severity = pdf_screen.pdf_run_notice(run)
            self.notify(text, title="PDFs", severity=severity, markup=False, timeout=12)

    def action_export(self) -> None:
        count = len(self.table.view.rows)
        folder = self._downloads_folder()
        if not count:
            self.notify("No invoices shown: nothing to export.", markup=False)
        elif folder is not None:
            default = folder / f"invoices-{self.today:%Y-%m-%d}.csv"
            self.app.push_screen(export_prompt.ExportScreen(default, count),
                                 callback=self._export_to)

    def _export_to(self, path: Path | None) -> None:
        if path is not None:
            self._export(path, self.table.view.visible_keys())

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self, path: Path, keys: list[tuple[str, str]]) -> None:
        shown = sanitize(exports.home_relative(path))
        severity: SeverityLevel = "error"
        try:
            fmt = exports.format_for_path(path)
            # JSON carries the line items too; the CSV (a row per invoice) needs none.
            invoices = self.store.invoices_of(self._accounts, keys, lines=fmt == "json")
            exports.export_file(path, invoices, fmt)
        except (OutputRefused, ValueError) as error:
            text = f"✗ {shown} {sanitize(str(error))}"
        except StoreError as error:
            text = f"✗ not exported: {sanitize(str(error))}"
        except OSError as error:
            text = (f"✗ could not write {shown} ({error.strerror or type(error).__name__}) "
                    "— check the path and its permissions")
        else:
            count = len(invoices)
            text = f"Exported {count:,} invoice{'s' if count != 1 else ''} to {shown}"
            severity = "information"
        self.app.call_from_thread(self.notify, text, title="Export", severity=severity,
                                  markup=False)

    def action_yank(self) -> None:
        invoice = self.table.cursor_invoice
        if invoice is None:
            self.notify("No invoice selected: nothing to copy.", markup=False)
            return
        copy_text(self, invoice_reference(invoice))

    def action_yank_row(self) -> None:
        invoice = self.table.cursor_invoice
        if invoice is None:
            self.notify("No invoice selected: nothing to copy.", markup=False)
            return
        copy_text(self, invoice_row(invoice),
                  f"the row of {shortened(invoice_reference(invoice))}")

    # --- status line ----------------------------------------------------------------

    def _show_query_hint(self, problems: Sequence[str]) -> None:
        """The first term the filter cannot use, under the box while typing (gone when
        fixed): a hint, never a toast or an error."""
        hint = sanitize(problems[0]) if problems else ""
        if hint != self._query_hint:  # only on a change: a border repaints the input
            self._query_hint = hint
            self.filter_input.border_subtitle = Content.styled(hint, "$warning")

    def _update_status(self) -> None:
        view = self.table.view
        filtered = bool(view.query or view.statuses is not None or view.accounts is not None)
        failed = self.sync_state.any_failed
        if (filtered, failed) != (self._filtered, self._failed):
            # Esc (clear filters) and e (why it failed) come and go with what they act on.
            # Only on a change: it recomposes the footer, far too slow for every sync
            # progress event — and after the frame that shows the change (the first
            # filter key's rows and count come first, the footer a frame later).
            self._filtered, self._failed = filtered, failed
            self.call_after_refresh(self.refresh_bindings)
        rows = self._visible_count(filtered)
        now = self.now()
        self._show_query_hint(view.parsed_query.problems)
        self.query_one(StatusLine).show(
            visible=rows or 0, total=view.total_count, totals=self.table.totals(),
            period=view.period.label(), chips=filter_chips(view),
            last_sync=self.sync_state.last_synced, now=now,
            syncing=self.sync_state.syncing_count,
            loading=rows is None, sync_failed=self.sync_state.last_round_failed,
        )
        self.table.empty_text = self._empty_text(view.accounts)
        accounts = view.accounts
        scope = "All accounts" if accounts is None else ", ".join(sorted(accounts))
        shown = f"{rows:,}" if rows is not None else "…"
        # A sort by a column hidden at this width has no arrow to show it: named here.
        hidden_sort = self.table.hidden_sort
        titles = (f"Invoices · {shown} · {view.period.label()}", sanitize(scope), hidden_sort)
        if titles != self._table_titles:
            # Only on a change: setting a border title repaints every line of the table.
            self._table_titles = titles
            self.table.border_title = titles[0]
            # Border titles are parsed as markup unless given as Content.
            subtitle = Content(titles[1])
            if hidden_sort:
                subtitle = Content.assemble((hidden_sort, "$accent"), " · ", subtitle)
            self.table.border_subtitle = subtitle

    def _empty_text(self, accounts: frozenset[str] | None) -> str:
        """What the table says while these accounts (``None``: all) have no invoice."""
        states = [state for name, state in self.sync_state.accounts.items()
                  if accounts is None or name in accounts]
        syncing = [state for state in states if state.phase == "syncing"]
        if syncing:
            count = sum(state.progress.invoices for state in syncing if state.progress)
            return f"Syncing… {count:,} invoices so far" if count else "Syncing…"
        failed = [state for state in states if state.phase == "failed" and state.error]
        if failed:
            first = failed[0]
            assert first.error is not None
            who = f"{first.name}: " if len(states) > 1 else ""
            return sanitize(f"✗ {who}{first.error.reason} · e for details")
        if not self.sync_state.accounts:
            return "No accounts yet — a adds one (a form), E edits config.toml"
        return "No invoices yet"

    def _visible_count(self, filtered: bool) -> int | None:
        """How many invoices the table shows; ``None`` while that is not known yet.

        Before the indexes are read the table holds only the first rows, but the store
        counted every invoice with them: when nothing is filtered (no text, status or
        account filter, every period), that count is exactly what the table shows, so
        it is shown at once (the totals follow with the indexes). Filtered, it would be
        the wrong figure: the count waits for the indexes.
        """
        view = self.table.view
        if not view.loading:
            return len(view.rows)
        if filtered or view.period.kind != "all" or (view.total_count and not view.rows):
            return None  # (no rows: sorted otherwise, the first rows are not the first)
        return view.total_count


def filter_chips(view: InvoiceView) -> list[str]:
    """The active filters as the status line's chips: each query term as typed, the status
    filter, the period, the accounts."""
    chips = [term.source for term in view.parsed_query.terms]
    if view.statuses is not None:
        chips.append("status:" + ",".join(sorted(view.statuses)))
    if view.period.kind != "all":
        chips.append(view.period.label())
    if view.accounts is not None:
        chips += [f"account:{name}" for name in sorted(view.accounts)]
    return chips


def _store_problem(error: sqlite3.Error | StoreError) -> str:
    if isinstance(error, StoreError):
        return f"stored invoices not shown: {error}"
    return (f"the invoice store could not be read ({sanitize(error)}) — "
            "it is checked and rebuilt if need be at the next start")

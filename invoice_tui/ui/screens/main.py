"""The main screen: provider pane, filterable invoice table, status line; owns the sync workers."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from functools import partial

from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList
from textual.worker import Worker, WorkerState

from invoice_tui import gc_policy
from invoice_tui.config import AccountConfig, Config
from invoice_tui.model import Invoice
from invoice_tui.providers import ProviderError
from invoice_tui.store import InvoiceStore, StoreError
from invoice_tui.sync import (
    SyncEvent,
    SyncFailed,
    SyncOutcome,
    SyncProgress,
    SyncStarted,
    SyncSucceeded,
)
from invoice_tui.sync_state import SyncState
from invoice_tui.text import sanitize
from invoice_tui.ui.messages import (
    AccountDataReady,
    AccountSyncEvent,
    CacheLoaded,
    Clock,
    SyncFunction,
)
from invoice_tui.ui.screens.detail import InvoiceDetailScreen
from invoice_tui.ui.screens.error import AccountErrorScreen
from invoice_tui.ui.widgets.invoice_table import InvoiceTable
from invoice_tui.ui.widgets.provider_pane import ProviderPane, account_from_option_id
from invoice_tui.ui.widgets.status_line import StatusLine
from invoice_tui.view import Period, prepare_account

COMPACT_FOOTER_BELOW = 110  # terminal columns


class FilterInput(Input):
    """The `/` filter: filters as you type, Enter keeps it, Esc clears it."""

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter", id="filter.clear",
                tooltip="Clear the filter and go back to the table"),
    ]

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

    # From this many invoices on, a sync's result is sorted and indexed in a worker thread.
    PREPARE_IN_THREAD_AT = 5_000

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
        Binding("escape", "clear_filters", "Clear filters", id="main.clear_filters",
                tooltip="Clear the text, status and account filters (the period stays)"),
        Binding("e", "show_error", "Why it failed", id="main.error",
                tooltip="Show the full reason and hint of a failed account"),
    ]

    def __init__(self, config: Config, store: InvoiceStore,
                 store_warnings: tuple[str, ...] = (), *, sync: SyncFunction, now: Clock,
                 today: dt.date) -> None:
        super().__init__()
        self.config = config
        self.store = store
        self._store_warnings = store_warnings  # from opening the store, toasted with the load's
        self.sync = sync
        self.now = now
        self.today = today
        self._accounts = {account.name: account for account in config.accounts}
        self.sync_state = SyncState((a.name, a.provider) for a in config.accounts)
        self.cache_loaded = asyncio.Event()  # set once every account's cache was read
        self._filtered = False  # a text, status or account filter is on (Esc clears them)
        self._failed = False  # some account's last sync failed (e explains it)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield ProviderPane(self.sync_state, self.now, id="providers")
            with Vertical(id="table-area"):
                yield FilterInput(placeholder="filter: number, label, status, account, line text",
                                  id="filter")
                yield InvoiceTable(id="invoices")
        yield StatusLine(id="status")
        yield Footer()

    # --- startup: cached data first, then a background refresh ----------------------

    def on_mount(self) -> None:
        self.filter_input.border_title = "Filter · Enter keeps it · Esc clears it"
        # The store is read in a thread, once the screen is drawn: building 100 000 invoices
        # holds the GIL for a second or more, which must not hold up the first paint. Each
        # account appears as soon as its own invoices are read, the smallest first.
        self.call_after_refresh(self._start_cache_load)
        self._update_status()
        self.set_interval(60, self._update_status)
        if self.config.warnings:
            self.notify(" · ".join(sanitize(w) for w in self.config.warnings), title="Config",
                        severity="warning", markup=False, timeout=15)
        self.refresh_accounts(self._accounts)

    def _start_cache_load(self) -> None:
        # A daemon thread, not a thread worker: workers run in the loop's default executor,
        # which is waited for on exit, so quitting during a 20 s read of a big cache hung.
        threading.Thread(target=self._load_cache, name="invoice-tui cache", daemon=True).start()

    def _load_cache(self) -> None:
        """In a thread: every account's stored invoices (headers: lines load on demand)."""
        warnings = list(self._store_warnings)
        try:
            states = self.store.account_states(self._accounts.values())
            synced = [account for account in self._accounts.values()
                      if states[account.name].synced]
            for account in sorted(synced, key=lambda a: states[a.name].invoice_count):
                # The cyclic GC would walk the ~1M objects of 100k invoices again and again
                # while they are made (1 s UI stalls); pause it, then freeze the result.
                with gc_policy.paused():
                    try:
                        headers = self.store.load_headers(account)
                    except StoreError as error:
                        warnings.append(f"stored invoices of {account.name} not shown: {error}")
                        continue
                    prepared = prepare_account(account.name, headers.invoices, headers.search)
                    gc_policy.freeze()
                self.post_message(AccountDataReady(prepared, cached=states[account.name]))
            warnings.extend(self.store.verify())  # deferred by run_tui: after the rows
        except StoreError as error:
            warnings.append(f"stored invoices not shown: {error}")
        except Exception as error:  # noqa: BLE001 - a bug: say so, keep the app running
            warnings.append(f"cache not shown (internal error: {type(error).__name__})")
        finally:
            self.post_message(CacheLoaded(warnings))

    @on(CacheLoaded)
    def _on_cache_loaded(self, message: CacheLoaded) -> None:
        self.cache_loaded.set()
        if message.warnings:
            self.notify(" · ".join(sanitize(w) for w in message.warnings),
                        title="Cache", severity="warning", markup=False)

    @on(AccountDataReady)
    def _on_account_data_ready(self, message: AccountDataReady) -> None:
        prepared, cached = message.prepared, message.cached
        name = prepared.account
        if name not in self._accounts:
            return
        if len(prepared.entries) >= self.PREPARE_IN_THREAD_AT:
            gc_policy.freeze()  # big and long-lived: out of the GC's scans from now on
        if cached is None:
            if self.sync_state.is_current(name, message.generation):  # else a newer sync won
                self.table.set_prepared_account(prepared)
            return
        if not self.sync_state.cached_arrived(name, synced_at=cached.synced_at,
                                              invoice_count=cached.invoice_count,
                                              summary=cached.summary):
            return  # a sync of this session already brought newer invoices
        self.table.set_prepared_account(prepared)
        self.pane.redraw(name)
        self._update_status()

    def on_resize(self, event: events.Resize) -> None:
        # On a narrow terminal the footer keys lose their padding and the palette hint goes
        # (? help lists ctrl+p), so that every key still fits.
        footer = self.query_one(Footer)
        compact = event.size.width < COMPACT_FOOTER_BELOW
        if compact != footer.compact or compact == footer.show_command_palette:
            footer.compact = compact
            footer.show_command_palette = not compact
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
        return self.query_one("#filter", FilterInput)

    def _set_invoices(self, name: str, invoices: Sequence[Invoice]) -> None:
        """Show a sync's invoices; a big set is prepared in a thread (no stall when it lands)."""
        generation = self.sync_state.generation(name)
        if len(invoices) < self.PREPARE_IN_THREAD_AT:
            self.table.set_account_invoices(name, invoices)
            return

        def prepare() -> None:
            self.post_message(AccountDataReady(prepare_account(name, invoices),
                                               generation=generation))

        self.run_worker(prepare, name=f"prepare {name}", group=f"prepare:{name}",
                        thread=True, exit_on_error=False)

    # --- refresh ----------------------------------------------------------------------

    def refresh_accounts(self, names: Iterable[str]) -> None:
        """Start (or restart) one background sync per account; one group each."""
        accounts = [self._accounts[name] for name in names]
        self.sync_state.begin_round(account.name for account in accounts)
        for account in accounts:
            name = account.name
            self.pane.redraw(name)
            self.run_worker(
                self._sync(account), name=f"sync {name}", group=f"sync:{name}",
                exclusive=True, exit_on_error=False,
            )
        self._update_status()

    async def _sync(self, account: AccountConfig) -> SyncOutcome:
        def forward(event: SyncEvent) -> None:
            # Only progress flows through the callback; the outcome is posted once below,
            # whether or not the sync also reports it as an event.
            if isinstance(event, SyncStarted | SyncProgress):
                self.post_message(AccountSyncEvent(event))

        outcome = await self.sync(account, self.config.settings, store=self.store, on_event=forward)
        self.post_message(AccountSyncEvent(outcome))
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
            self.post_message(AccountSyncEvent(SyncFailed(
                group.removeprefix("sync:"),
                ProviderError(f"internal error: {error}",
                              "this is a bug in invoice-tui; please report it"))))
            return
        doing = "loading invoices" if group.startswith("prepare:") else "a background task"
        self.notify(f"internal error while {doing}: {error}"
                    " — this is a bug in invoice-tui; please report it",
                    severity="error", markup=False)

    @on(AccountSyncEvent)
    def _on_sync_event(self, message: AccountSyncEvent) -> None:
        event = message.event
        name = event.account
        if name not in self._accounts:
            return
        round_failed = self.sync_state.apply(event)
        if isinstance(event, SyncSucceeded):
            self._set_invoices(name, event.invoices)
        self.pane.redraw(name)
        if isinstance(event, SyncSucceeded) and event.warnings:
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
        name = self._selected_account()
        if name is None:
            self.action_refresh_all()
            return
        self.refresh_accounts([name])

    def action_refresh_all(self) -> None:
        self.refresh_accounts(self._accounts)

    # --- the account pane -----------------------------------------------------------

    @on(OptionList.OptionSelected, "#providers")
    def _on_account_selected(self, event: OptionList.OptionSelected) -> None:
        name = account_from_option_id(event.option_id)
        self.show_account(name)
        state = self.sync_state.accounts.get(name) if name is not None else None
        if state is not None and state.phase == "failed":
            self.action_show_error(name)
        else:
            self.table.focus()

    def show_account(self, name: str | None) -> None:
        """Filter the table to one account (``None``: all accounts) and move the pane cursor."""
        self.table.set_accounts(None if name is None else frozenset({name}))
        self.pane.select_account(name)

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
        self.app.push_screen(AccountErrorScreen(state.name, state.provider, state.error),
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
                invoice = dataclasses.replace(invoice, lines=self.store.lines(account,
                                                                              invoice.id))
            except StoreError as error:
                self.notify(f"line items not shown: {error}", severity="warning", markup=False)
        self.app.push_screen(InvoiceDetailScreen(invoice, account, self.config.settings))

    @on(InvoiceTable.ViewChanged)
    def _on_view_changed(self, _: InvoiceTable.ViewChanged) -> None:
        self._update_status()

    # --- filter ---------------------------------------------------------------------

    def action_filter(self) -> None:
        if self.filter_input.has_focus:
            raise SkipAction()  # "/" typed into the filter is text
        self.filter_input.add_class("-visible")
        self.set_focus(self.filter_input)  # now, not after the queued keys (focus() defers)

    @on(Input.Changed, "#filter")
    def _on_filter_changed(self, event: Input.Changed) -> None:
        self.table.set_query(event.value)

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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filters":  # Esc only when there is something to clear
            return self._filtered
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

    def _anchor_date(self) -> dt.date:
        invoice = self.table.cursor_invoice
        if invoice is not None and invoice.issued is not None:
            return invoice.issued
        return self.today

    def action_cycle_period(self) -> None:
        self.table.set_period(self.table.view.period.cycle(self._anchor_date()))

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

    # --- status line ----------------------------------------------------------------

    def _update_status(self) -> None:
        view = self.table.view
        filtered = bool(view.query or view.statuses is not None or view.accounts is not None)
        failed = self.sync_state.any_failed
        if (filtered, failed) != (self._filtered, self._failed):
            # Esc (clear filters) and e (why it failed) come and go with what they act on.
            # Only on a change: it recomposes the footer, far too slow for every sync
            # progress event.
            self._filtered, self._failed = filtered, failed
            self.refresh_bindings()
        rows = len(view.rows)
        now = self.now()
        self.query_one(StatusLine).show(
            visible=rows, total=view.total_count, totals=view.totals(),
            period=view.period.label(), query=view.query,
            last_sync=self.sync_state.last_synced, now=now,
            syncing=self.sync_state.syncing_count,
        )
        syncing = self.sync_state.syncing_count > 0
        self.table.empty_text = "Fetching invoices…" if syncing else "No invoices yet"
        accounts = view.accounts
        scope = "All accounts" if accounts is None else ", ".join(sorted(accounts))
        self.table.border_title = f"Invoices · {rows:,} · {view.period.label()}"
        # Border titles are parsed as markup unless given as Content.
        self.table.border_subtitle = Content(sanitize(scope))

"""The left pane: "All accounts", then one section per provider with its accounts and their
live sync state (waiting, cached, syncing with progress, synced N min ago, failed), drawn
from the screen's :class:`~invoice_tui.sync_state.SyncState`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from invoice_tui.model import AccountSummary
from invoice_tui.providers import FetchProgress, provider_class
from invoice_tui.sync_state import AccountState, SyncState
from invoice_tui.text import sanitize
from invoice_tui.ui.formatting import money_text, relative_time

ALL_ACCOUNTS = "all"
_ACCOUNT_PREFIX = "account:"
_PROVIDER_PREFIX = "provider:"
#: Lines a failure reason may take in its entry (wrapped to the pane; its tooltip and
#: `e` have it all).
REASON_LINES = 6
# Width of the state line before the pane is laid out; then the pane's own width.
STATE_WIDTH = 29


def provider_display_name(provider: str) -> str:
    """The provider's human name from the registry (the config name if it is unknown)."""
    cls = provider_class(provider)
    return cls.display_name if cls is not None else provider


def account_option_id(name: str) -> str:
    """The OptionList id of an account's entry."""
    return _ACCOUNT_PREFIX + name


class ProviderPane(OptionList):
    """Accounts grouped by provider; each entry shows the account's live state.

    The state is ``sync_state``'s, owned by the screen: after changing it, the screen
    calls :meth:`redraw` for the account that changed.
    """

    # OptionList binds the arrows, Home/End and Enter too; they are repeated here with the
    # vi keys so that the help screen (built from BINDINGS) lists them all.
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="pane.up",
                tooltip="Previous account"),
        Binding("down,j", "cursor_down", "Down", show=False, id="pane.down",
                tooltip="Next account"),
        Binding("home,g", "first", "First", show=False, id="pane.first",
                tooltip="All accounts"),
        Binding("end,G", "last", "Last", show=False, id="pane.last", tooltip="Last account"),
        Binding("ctrl+u", "half_page(-1)", "Half page up", show=False, id="pane.half_page_up",
                tooltip="Move half a pane up"),
        Binding("ctrl+d", "half_page(1)", "Half page down", show=False,
                id="pane.half_page_down", tooltip="Move half a pane down"),
        Binding("enter", "select", "Go to invoices", show=False, id="pane.select",
                tooltip="Go to the invoices shown (a failed account: why it failed)"),
    ]

    class AccountsHighlighted(Message):
        """The cursor moved: show these accounts' invoices (``None``: all accounts)."""

        def __init__(self, accounts: frozenset[str] | None) -> None:
            super().__init__()
            self.accounts = accounts

    def __init__(
        self,
        sync_state: SyncState,
        now: Callable[[], dt.datetime],
        *,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
    ) -> None:
        self._sync_state = sync_state
        self._now = now
        self._state_width = STATE_WIDTH
        super().__init__(*self._build_options(), id=id)

    @property
    def states(self) -> Mapping[str, AccountState]:
        """Each account's state, as drawn."""
        return self._sync_state.accounts

    def _build_options(self) -> list[Option]:
        options = [Option(Content.styled("◆ All accounts", "bold"), id=ALL_ACCOUNTS)]
        providers: dict[str, list[str]] = {}
        for state in self.states.values():
            providers.setdefault(state.provider, []).append(state.name)
        for provider, names in providers.items():
            title = f"{provider_display_name(provider)} · {len(names)}"
            # Not disabled: on the heading, the table shows all of the provider's accounts.
            options.append(
                Option(Content.styled(sanitize(title), "bold $accent"),
                       id=_PROVIDER_PREFIX + provider))
            options.extend(Option(self._prompt(self.states[n]), id=account_option_id(n))
                           for n in names)
        return options

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width and width != self._state_width:
            self._state_width = width
            self.refresh_times()

    def on_mount(self) -> None:
        self.highlighted = 0
        self._update_titles()
        # Relative times ("synced 5 min ago") age on their own.
        self.set_interval(60, self.refresh_times)

    # --- state ----------------------------------------------------------------------

    def redraw(self, name: str) -> None:
        """Draw one account's entry (and the counts in the border) from its current state."""
        self.replace_option_prompt(account_option_id(name), self._prompt(self.states[name]))
        self._update_titles()
        if name == self.highlighted_account:
            self._update_tooltip()

    def rebuild(self) -> None:
        """Every entry again, after the account set changed (a config reload): the
        cursor stays on its entry while that exists, else goes to "All accounts"."""
        option = self.highlighted_option
        kept = option.id if option is not None else None
        self.clear_options()
        self.add_options(self._build_options())
        try:
            self.highlighted = self.get_option_index(kept or ALL_ACCOUNTS)
        except OptionDoesNotExist:
            self.highlighted = 0
        self._update_titles()
        self._update_tooltip()

    def refresh_times(self) -> None:
        """Redraw every entry so relative times stay true."""
        for state in self.states.values():
            self.replace_option_prompt(account_option_id(state.name), self._prompt(state))
        self._update_titles()

    @property
    def highlighted_account(self) -> str | None:
        """The account under the cursor (``None`` on "All accounts" or a provider heading)."""
        option = self.highlighted_option
        return account_from_option_id(option.id) if option is not None else None

    @property
    def highlighted_accounts(self) -> frozenset[str] | None:
        """The accounts the cursor stands for: one, a provider's, or ``None`` (all)."""
        option = self.highlighted_option
        option_id = option.id if option is not None else None
        name = account_from_option_id(option_id)
        if name is not None:
            return frozenset({name})
        if option_id and option_id.startswith(_PROVIDER_PREFIX):
            provider = option_id[len(_PROVIDER_PREFIX):]
            return frozenset(s.name for s in self.states.values() if s.provider == provider)
        return None

    def select_account(self, name: str | None) -> None:
        """Move the cursor to an account (``None``: "All accounts")."""
        option_id = ALL_ACCOUNTS if name is None else account_option_id(name)
        self.highlighted = self.get_option_index(option_id)

    def select_accounts(self, accounts: frozenset[str] | None) -> None:
        """Move the cursor to the entry standing for these accounts: one account, all of a
        provider's (its heading), or all (``None``); left where it is when none does."""
        if accounts is None or len(accounts) == 1:
            self.select_account(None if accounts is None else next(iter(accounts)))
            return
        providers = {self.states[name].provider for name in accounts if name in self.states}
        if len(providers) == 1:
            provider = providers.pop()
            if accounts == {s.name for s in self.states.values() if s.provider == provider}:
                self.highlighted = self.get_option_index(_PROVIDER_PREFIX + provider)

    def _on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # As in lazygit: moving the cursor shows that account, no Enter needed.
        event.stop()
        self._update_tooltip()
        self.post_message(self.AccountsHighlighted(self.highlighted_accounts))

    def _update_tooltip(self) -> None:
        # A failed account's whole reason and hint, under the mouse or the cursor.
        name = self.highlighted_account
        state = self.states.get(name) if name is not None else None
        if state is None or state.phase != "failed" or state.error is None:
            self.tooltip = None
            return
        error = state.error
        hint = f" — {sanitize(error.hint)}" if error.hint else ""
        self.tooltip = Content(f"{sanitize(state.name)}: {sanitize(error.reason)}{hint} "
                               "(e: details, r: retry)")

    def action_half_page(self, direction: int) -> None:
        """Move the cursor by about half the pane's height (entries are several lines)."""
        if self.highlighted is None or not self.option_count:
            return
        budget = max(1, self.scrollable_content_region.height // 2)
        index = self.highlighted
        while budget > 0 and 0 <= index + direction < self.option_count:
            index += direction
            budget -= self._option_height(index)
        self.highlighted = index

    def _option_height(self, index: int) -> int:
        prompt = self.get_option_at_index(index).prompt
        return str(prompt).count("\n") + 1

    # --- rendering ------------------------------------------------------------------

    def _update_titles(self) -> None:
        total = len(self.states)
        failed = len(self._sync_state.failed)
        syncing = self._sync_state.syncing_count
        self.border_title = f"Accounts · {total}"
        parts = []
        if syncing:
            parts.append(f"{syncing} syncing")
        if failed:
            parts.append(f"{failed} failed")
        subtitle = " · ".join(parts)
        if len(subtitle) > self._state_width - 4:  # a narrow pane: symbols, as in the entries
            subtitle = " · ".join(part for part in (
                f"⟳ {syncing}" if syncing else "", f"✗ {failed}" if failed else "") if part)
        self.border_subtitle = subtitle

    def _prompt(self, state: AccountState) -> Content:
        lines = [Content.styled(sanitize(state.name), "bold")]
        state_line = Content.assemble(" ", self._state_line(state))
        if state.phase == "failed":
            lines.extend(self._reason_lines(state))
        else:
            if state_line.cell_length > self._state_width:  # a narrow pane: the terse form
                state_line = Content.assemble(" ", self._state_line(state, terse=True))
            lines.append(state_line.truncate(self._state_width, ellipsis=True))
        facts = zip(summary_facts(state.summary), summary_facts(state.summary, terse=True),
                    strict=True)
        for fact, terse in facts:
            line = Content.assemble(" ", (fact, "$text-muted"))
            if line.cell_length > self._state_width:  # a narrow pane: the terse form
                line = Content.assemble(" ", (terse, "$text-muted"))
            lines.append(line.truncate(self._state_width, ellipsis=True))
        return Content("\n").join(lines)

    def _reason_lines(self, state: AccountState) -> list[Content]:
        """A failed account's reason, wrapped under its ✗ (``"✗ Voximplant error 2: HT…"``
        said nothing); past :data:`REASON_LINES` it ends in … and `e` shows it all."""
        width = max(4, self._state_width - 3)  # " ✗ " before the first line, 3 spaces after
        wrapped = self._state_line(state).wrap(width)
        if len(wrapped) > REASON_LINES:
            rest = Content(" ").join(line.rstrip() for line in wrapped[REASON_LINES - 1:])
            wrapped = [*wrapped[:REASON_LINES - 1], rest]
        return [Content.assemble(" " if number == 0 else "   ",
                                 line.rstrip().truncate(width, ellipsis=True))
                for number, line in enumerate(wrapped)]

    def _state_line(self, state: AccountState, *, terse: bool = False) -> Content:
        now = self._now()
        synced, cached = ("", "") if terse else ("synced ", "cached · ")
        count = f" · {state.invoice_count:,}" if state.invoice_count is not None else ""
        if state.phase == "failed" and state.error is not None:
            return Content.styled(f"✗ {sanitize(state.error.reason)}", "$text-error")
        if state.phase == "syncing":
            return Content.styled(f"⟳ {progress_text(state.progress)}", "$text-warning")
        if state.phase == "synced":
            return Content.styled(f"✓ {synced}{relative_time(state.synced_at, now)}{count}",
                                  "$text-success")
        if state.phase == "cached":
            return Content.styled(f"◷ {cached}{relative_time(state.synced_at, now)}{count}",
                                  "$text-muted")
        return Content.styled("· waiting", "$text-muted")


def account_from_option_id(option_id: str | None) -> str | None:
    """The account name behind an option id (``None`` for "All accounts" and headings)."""
    if option_id and option_id.startswith(_ACCOUNT_PREFIX):
        return option_id[len(_ACCOUNT_PREFIX):]
    return None


def summary_facts(summary: AccountSummary | None, *, terse: bool = False) -> list[str]:
    """The account-level facts a provider reported, one pane line each, amounts with codes.

    Unleash: ``"plan 1,875.00 USD"``; Voximplant: ``"balance 1,234.56 USD"`` (the
    prepaid balance from GetAccountInfo; ``"bal. …"`` when ``terse``, for a narrow
    pane: the amount and its code are what must not be cut). A fact the provider did
    not send is left out.
    """
    if summary is None:
        return []
    facts = []
    if summary.plan_price is not None:
        facts.append(f"plan {money_text(summary.plan_price, summary.plan_currency)}")
    if summary.balance is not None:
        label = "bal." if terse else "balance"
        facts.append(f"{label} {money_text(summary.balance, summary.balance_currency)}")
    return facts


def progress_text(progress: FetchProgress | None) -> str:
    """``"1,500/100,000 invoices"`` when the total is known, else ``"3 pg · 150 invoices"``.

    Invoices first: they are what the user waits for, and the line must fit the pane.
    """
    if progress is None:
        return "syncing…"
    if progress.total_invoices is not None:
        return f"{progress.invoices:,}/{progress.total_invoices:,} invoices"
    pages = (f"{progress.pages:,}/{progress.total_pages:,}" if progress.total_pages
             else f"{progress.pages:,}")
    return f"{pages} pg · {progress.invoices:,} invoices"

"""Command palette (ctrl+p) commands, titled "category: action"."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from invoice_tui.text import sanitize
from invoice_tui.ui.screens import account_form  # a module: deferred until first used
from invoice_tui.ui.screens.main import MainScreen
from invoice_tui.view import COLUMNS, Period

Command = tuple[str, Callable[[], object], str]


def main_screen_commands(main: MainScreen) -> list[Command]:
    """Every command the main screen offers right now (accounts and statuses as present)."""
    table = main.table
    today = main.today
    names = [a.name for a in main.config.accounts]
    commands: list[Command] = [
        ("Sync: refresh all", main.action_refresh_all, "Refresh every account in the background"),
    ]
    commands += [(f"Sync: refresh {sanitize(n)}", partial(main.refresh_accounts, [n]),
                  "Refresh this account") for n in names]
    commands.append(("Go: all accounts", partial(main.show_account, None),
                     "Show every account's invoices"))
    commands += [(f"Go: account {sanitize(n)}", partial(main.show_account, n),
                  "Show only this account's invoices") for n in names]
    # Palette filters write the `/` query, so they show as chips and Esc clears them.
    providers = sorted({a.provider for a in main.config.accounts})
    commands += [(f"Filter: status {sanitize(s)}", partial(main.filter_by, "status", s),
                  f"Show only invoices with this status (status:{sanitize(s)})")
                 for s in table.view.status_names()]
    commands += [(f"Filter: provider {sanitize(p)}", partial(main.filter_by, "provider", p),
                  f"Show only this provider's invoices (provider:{sanitize(p)})")
                 for p in providers]
    commands += [(f"Filter: currency {sanitize(c)}", partial(main.filter_by, "currency", c),
                  f"Show only invoices in this currency (currency:{sanitize(c)})")
                 for c in table.view.currency_names()]
    commands += [
        ("Filter: clear", main.clear_filters, "Clear the query, status and account filters"),
        ("Period: all", partial(main.set_period, Period()), "Invoices of all time"),
        ("Period: this year", partial(main.set_period, Period("year", today.year)),
         f"Invoices issued in {today.year}"),
        ("Period: this month",
         partial(main.set_period, Period("month", today.year, today.month)),
         f"Invoices issued in {today:%Y-%m}"),
        ("Period: previous", partial(main.action_step_period, -1), "The previous year or month"),
        ("Period: next", partial(main.action_step_period, 1), "The next year or month"),
    ]
    commands.append(("View: spend by month", main.action_spend,
                     "Billed per account and month, per currency (key: m)"))
    commands += [(f"Sort: by {c.key}", partial(table.sort_by, c.key),
                  "Sort the table (again: reverse)") for c in COLUMNS]
    commands += [
        ("PDF: download the visible invoices' PDFs", main.action_download_pdfs,
         "Every PDF of the invoices shown, into the downloads folder (D)"),
        ("Export: the visible invoices to a file", main.action_export,
         "CSV or JSON, by the file's extension (ctrl+e)"),
        ("Copy: invoice number", main.action_yank,
         "The selected invoice's number, or its id (y)"),
        ("Copy: invoice row", main.action_yank_row,
         "The selected invoice's row, tab-separated (Y)"),
    ]
    return commands + account_commands(main)


def account_commands(main: MainScreen) -> list[Command]:
    """Accounts: add, and edit or remove each account (the highlighted one first)."""
    path = main.config.path
    names = [a.name for a in main.config.accounts]
    highlighted = main.pane.highlighted_account
    if highlighted in names:
        names.remove(highlighted)
        names.insert(0, highlighted)
    commands: list[Command] = [
        ("Accounts: add", partial(account_form.open_account_form, main.app, main.config, path),
         "A form for a new account, saved to config.toml (a on the main screen)")]
    commands += [(f"Accounts: edit {sanitize(n)}",
                  partial(account_form.open_account_form, main.app, main.config, path, n),
                  "Change this account's settings in a form") for n in names]
    commands += [(f"Accounts: remove {sanitize(n)}",
                  partial(account_form.open_remove_account, main.app, path, n),
                  "Remove this account from config.toml (asks first)") for n in names]
    return commands


class InvoiceCommands(Provider):
    """Sync, Go, Filter, Period, Sort, PDF, Export and Copy commands of the main screen."""

    def _commands(self) -> list[Command]:
        if not isinstance(self.screen, MainScreen):
            return []
        return main_screen_commands(self.screen)

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)

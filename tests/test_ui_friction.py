"""Issue 9 §5: friction found driving the app — the table's columns, its sort and empty
text, the status line's last sync. Over real loopback HTTP to the demo emulator."""

from __future__ import annotations

from pathlib import Path

from textual.content import Content
from textual.widget import Widget
from ui_helpers import (
    ACCOUNTS,
    SIZE,
    ScriptedSync,
    main_screen,
    scripted_app,
    settle,
    settled_demo,
    simple_invoice,
    wait_for_cache,
    widget_text,
)

from invoice_tui.providers import ProviderError
from invoice_tui.ui.widgets.status_line import StatusLine


def _subtitle(widget: Widget) -> str:
    # Textual keeps a border subtitle given as Content as markup.
    return Content.from_markup(str(widget.border_subtitle)).plain


async def test_a_sort_by_a_column_hidden_at_this_width_is_named_in_the_border() -> None:
    async with settled_demo(size=(200, 50)) as (app, pilot):
        main = main_screen(app)
        table = main.table
        while table.view.sort_key != "tax":
            await pilot.press("s")
        await pilot.pause()
        # The header shows the arrow: the border says nothing more.
        assert table.hidden_sort is None
        assert "sorted by" not in _subtitle(table)
        await pilot.press("S")
        await pilot.resize_terminal(120, 32)  # the tax gives way to whole invoice numbers
        await pilot.pause()
        assert "Tax" not in widget_text(table).splitlines()[0]  # no arrow to see
        assert _subtitle(table) == "sorted by tax ▲ · All accounts"
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert "sorted by" not in _subtitle(table)


async def test_an_account_without_invoices_says_why_not_that_filters_hide_them(
        tmp_path: Path) -> None:
    # acme's first sync fails, vox-main's is under way; the other account has invoices, so
    # the table said "No invoices match · Esc clears the filters" for either.
    failure = ProviderError("Unleash answered HTTP 503 (service unavailable) \x1b[31mnow",
                            "try again later")
    sync = ScriptedSync({"vox-main": (simple_invoice("vox-main", "V-1"),), "acme": failure},
                        hold={"vox-main"})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        await wait_for_cache(main, pilot)
        await pilot.pause()
        main.show_account("vox-main")
        await pilot.pause()
        assert "Syncing… 150 invoices so far" in widget_text(main.table)
        main.show_account("acme")
        await pilot.pause()
        text = " ".join(widget_text(main.table).split())
        assert "Unleash answered HTTP 503 (service unavailable) now · e for details" in text
        assert "\x1b" not in text and "No invoices match" not in text
        sync.release()
        await settle(app, pilot)
        # The account's rows are in: only a filter can hide them now, and the table says so.
        main.show_account("vox-main")
        await pilot.press("slash", *"no-such-invoice")
        await pilot.pause()
        assert "No invoices match · Esc clears the filters" in widget_text(main.table)
        main.show_account("acme")  # still nothing at all there: the failure, not the filter
        await pilot.pause()
        assert "e for details" in widget_text(main.table)


async def test_a_refresh_that_failed_for_every_account_is_not_called_a_sync_just_now(
        tmp_path: Path) -> None:
    sync = ScriptedSync({"vox-main": (simple_invoice("vox-main", "V-1"),),
                         "acme": (simple_invoice("acme", "A-1"),)})
    app = scripted_app(tmp_path, sync, *ACCOUNTS)
    async with app.run_test(size=(160, 30)) as pilot:
        main = main_screen(app)
        await settle(app, pilot)
        status = main.query_one(StatusLine)
        assert "last sync just now" in widget_text(status)
        sync.results = {name: ProviderError("the server is down", "try later")
                        for name, _ in ACCOUNTS}
        await pilot.press("R")
        await settle(app, pilot)
        text = widget_text(status)
        assert "last sync failed (last ok just now)" in text
        assert "last sync just now" not in text
        # One account back: that round synced something, the time is news again.
        sync.results["acme"] = (simple_invoice("acme", "A-1"),)
        await pilot.press("R")
        await settle(app, pilot)
        assert "last sync just now" in widget_text(status)


async def test_totals_keep_their_currency_order_whatever_the_sort() -> None:
    # Verified, not fixed: money_totals orders currencies by code, fit_totals drops whole
    # ones from the end — neither depends on the rows' order. Both widths: every currency
    # in full, and shortened ("+USD").
    for size in ((200, 50), (80, 24)):
        async with settled_demo(size=size) as (app, pilot):
            main = main_screen(app)
            status = main.query_one(StatusLine)
            before = widget_text(status)
            assert "EUR" in before and "USD" in before
            assert before.index("EUR") < before.index("USD")
            seen = set()
            for _ in range(11):  # every column shown, each way
                for key in ("s", "S"):
                    await pilot.press(key)
                    await pilot.pause()
                    assert widget_text(status) == before, main.table.view.sort_key
                    seen.add(main.table.view.sort_key)
            assert {"total", "currency", "issued"} <= seen

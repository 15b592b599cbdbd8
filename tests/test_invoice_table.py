"""The virtual invoice table, driven by keys and the mouse through Textual's Pilot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from invoice_factory import make_invoice, synthetic_invoices
from store_fill import put, read_index, store_of, stored_accounts, view_of
from textual.app import App, ComposeResult
from textual.message import Message
from textual.widgets import Input

from invoice_tui.index import StoreReader
from invoice_tui.model import Invoice, Line
from invoice_tui.ui.widgets.invoice_table import InvoiceTable
from invoice_tui.view import InvoiceView, Period

SIZE = (120, 30)


class TableApp(App[None]):
    """The table alone, recording every message it posts."""

    def __init__(self, invoices: Sequence[Invoice] = ()) -> None:
        super().__init__()
        self.store = store_of(invoices)
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield InvoiceTable(InvoiceView(StoreReader(self.store.path)), id="invoices")
        yield Input(id="elsewhere")

    def on_mount(self) -> None:
        for account in stored_accounts(self.store.path):
            self.set_account_invoices(account, None)
        self.query_one(InvoiceTable).focus()

    def set_account_invoices(self, account: str, invoices: Sequence[Invoice] | None) -> None:
        """Store the account's invoices (``None``: as they are) and show its new index."""
        if invoices is not None:
            provider = invoices[0].provider if invoices else "voximplant"
            put(self.store, invoices, accounts=[(account, provider)])
        table = self.query_one(InvoiceTable)
        index, extras = read_index(self.store.path, account)
        table.set_account_index(index)
        assert extras is not None
        table.view.set_extras(index, *extras)

    def on_invoice_table_highlighted(self, message: InvoiceTable.Highlighted) -> None:
        self.messages.append(message)

    def on_invoice_table_selected(self, message: InvoiceTable.Selected) -> None:
        self.messages.append(message)

    def on_invoice_table_view_changed(self, message: InvoiceTable.ViewChanged) -> None:
        self.messages.append(message)

    def of_type(self, kind: type[Message]) -> list[Message]:
        return [m for m in self.messages if isinstance(m, kind)]


def monthly(count: int = 40) -> list[Invoice]:
    """``count`` monthly invoices of one account, newest (highest id) issued last."""
    invoices = []
    for index in range(count):
        year, month = divmod(2023 * 12 + index, 12)
        invoices.append(make_invoice(
            "vox", f"{index:03d}", number=f"VOX-{index:03d}", issued=dt.date(year, month + 1, 3),
            total=Decimal(index * 10), status="paid" if index % 2 else "new",
        ))
    return invoices


def line_text(table: InvoiceTable, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))


def screen_text(table: InvoiceTable) -> list[str]:
    return [line_text(table, y) for y in range(table.scrollable_content_region.height)]


def highlighted_ids(app: TableApp) -> list[str | None]:
    return [m.invoice.id if m.invoice else None  # type: ignore[attr-defined]
            for m in app.of_type(InvoiceTable.Highlighted)]


async def test_keys_move_the_cursor_and_post_highlighted() -> None:
    app = TableApp(monthly(40))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.pause()
        assert table.cursor_row == 0 and table.cursor_invoice.id == "039"  # newest first
        assert highlighted_ids(app)[-1] == "039"
        await pilot.press("j", "j", "down")
        await pilot.pause()
        assert table.cursor_row == 3 and table.cursor_invoice.id == "036"
        assert highlighted_ids(app)[-1] == "036"
        await pilot.press("k", "up")
        assert table.cursor_row == 1
        await pilot.press("G")
        await pilot.pause()
        assert table.cursor_row == 39 and table.cursor_invoice.id == "000"
        assert table.scroll_y == table.max_scroll_y > 0  # scrolled so the last row shows
        assert "VOX-000" in screen_text(table)[-1]
        await pilot.press("g")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("pagedown")
        page = table.scrollable_content_region.height - 1  # minus the header line
        assert table.cursor_row == page
        await pilot.press("pageup")
        assert table.cursor_row == 0
        await pilot.press("ctrl+d")
        assert table.cursor_row == page // 2
        await pilot.press("end", "down")  # stays on the last row
        assert table.cursor_row == 39
        await pilot.press("home", "up")
        assert table.cursor_row == 0
        await pilot.pause()
        assert highlighted_ids(app)[-1] == "039"


async def test_enter_and_double_click_select_click_moves() -> None:
    app = TableApp(monthly(10))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.press("j", "j", "enter")
        await pilot.pause()
        selected = app.of_type(InvoiceTable.Selected)
        assert len(selected) == 1 and selected[0].invoice.id == "007"  # type: ignore[attr-defined]
        assert selected[0].control is table  # type: ignore[attr-defined]
        await pilot.click(InvoiceTable, offset=(5, 5))  # line 5 = row 4
        await pilot.pause()
        assert table.cursor_row == 4
        assert len(app.of_type(InvoiceTable.Selected)) == 1  # a single click only moves
        await pilot.double_click(InvoiceTable, offset=(5, 6))
        await pilot.pause()
        assert table.cursor_row == 5
        selected = app.of_type(InvoiceTable.Selected)
        assert len(selected) == 2 and selected[-1].invoice.id == "004"  # type: ignore[attr-defined]


async def test_header_click_sorts_and_again_reverses() -> None:
    app = TableApp(monthly(12))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        header = line_text(table, 0)
        assert "Issued ▼" in header
        x = header.index("Total")
        await pilot.click(InvoiceTable, offset=(x, 0))
        await pilot.pause()
        assert (table.view.sort_key, table.view.sort_reverse) == ("total", True)
        assert "Total ▼" in line_text(table, 0) and "Issued ▼" not in line_text(table, 0)
        assert [inv.id for inv in table.view.rows][:2] == ["011", "010"]
        await pilot.click(InvoiceTable, offset=(x, 0))
        await pilot.pause()
        assert (table.view.sort_key, table.view.sort_reverse) == ("total", False)
        assert "Total ▲" in line_text(table, 0)
        assert "VOX-000" in line_text(table, 1)
        assert app.of_type(InvoiceTable.ViewChanged)


async def test_s_sorts_by_next_column_and_shift_s_reverses() -> None:
    app = TableApp(monthly(5) + [make_invoice("acme", "x", issued=dt.date(2020, 1, 1))])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.press("s")
        assert table.view.sort_key == "account" and table.view.sort_reverse is False
        assert "acme" in line_text(table, 1)
        await pilot.press("S")
        assert table.view.sort_key == "account" and table.view.sort_reverse is True
        assert "vox" in line_text(table, 1)
        await pilot.press("s")
        assert table.view.sort_key == "invoice"


async def test_query_filters_line_descriptions_and_cursor_follows_invoice() -> None:
    invoices = monthly(20)
    invoices[4] = make_invoice("vox", "004", number="VOX-004", issued=dt.date(2023, 5, 3),
                               lines=(Line(kind="service", description="Calls to Zürich"),))
    app = TableApp(invoices)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        target = table.view.index_of("vox", "004")
        assert target == 15
        table.cursor_row = target
        table.set_query("VOX-00")  # keeps 000-009: the cursor's invoice stays visible
        await pilot.pause()
        assert table.cursor_invoice.id == "004" and table.cursor_row == 5
        table.set_query("zürich")
        await pilot.pause()
        assert [inv.id for inv in table.view.rows] == ["004"]
        assert table.cursor_invoice.id == "004" and table.cursor_row == 0
        assert "VOX-004" in line_text(table, 1)
        table.set_query("")
        await pilot.pause()
        assert table.cursor_invoice.id == "004" and table.cursor_row == 15
        table.set_query("no such invoice")
        await pilot.pause()
        assert table.cursor_invoice is None
        assert any("No invoices match" in line for line in screen_text(table))
        assert highlighted_ids(app)[-1] is None


async def test_burst_of_updates_is_one_recomputation() -> None:
    app = TableApp(monthly(20))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.pause()
        app.messages.clear()
        for text in ("v", "vo", "vox", "vox-"):  # the cursor's invoice stays visible
            table.set_query(text)
        await pilot.pause()
        assert len(app.of_type(InvoiceTable.ViewChanged)) == 1
        assert not app.of_type(InvoiceTable.Highlighted)
        app.messages.clear()
        # Several accounts and filters changed in one handler: one sync, one message each.
        app.set_account_invoices("b", [make_invoice("b", "1", issued=dt.date(2030, 1, 1))])
        app.set_account_invoices("c", [make_invoice("c", "1", issued=dt.date(2031, 1, 1))])
        table.set_query("")
        table.sort_by("account")
        assert table.cursor_invoice.id == "019"  # read on demand: already current
        await pilot.pause()
        assert len(app.of_type(InvoiceTable.ViewChanged)) == 1
        assert highlighted_ids(app) == []  # still on the same invoice
        assert table.cursor_row == 2  # accounts b, c sort first; vox 019 is newest
        assert [inv.account for inv in table.view.rows[:3]] == ["b", "c", "vox"]
        # Moving the cursor right after a change (before the sync) is not undone by it.
        table.set_query("vox")
        table.cursor_row = 3
        await pilot.pause()
        assert table.cursor_row == 3 and table.cursor_invoice.id == "016"


async def test_prefilled_view_shows_on_mount() -> None:
    view = view_of(*monthly(3))
    view.set_query("VOX-001")

    class Prefilled(App[None]):
        def compose(self) -> ComposeResult:
            yield InvoiceTable(view)

    async with Prefilled().run_test(size=SIZE) as pilot:
        table = pilot.app.query_one(InvoiceTable)
        await pilot.pause()
        assert table.view is view
        assert "VOX-001" in line_text(table, 1) and line_text(table, 2).strip() == ""


async def test_period_filter_and_stepping_across_year_boundary() -> None:
    app = TableApp(monthly(40))  # 2023-01 … 2026-04
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        table.set_period(Period("month", 2024, 1))
        await pilot.pause()
        assert [inv.issued for inv in table.view.rows] == [dt.date(2024, 1, 3)]
        table.set_period(table.view.adjacent_period(-1))
        assert table.view.period == Period("month", 2023, 12)
        assert [inv.issued for inv in table.view.rows] == [dt.date(2023, 12, 3)]
        table.set_period(table.view.period.step(2))
        assert [inv.issued for inv in table.view.rows] == [dt.date(2024, 2, 3)]
        table.set_period(Period("year", 2025))
        assert len(table.view.rows) == 12
        table.set_period(table.view.period.step(1))
        assert [inv.issued.month for inv in table.view.rows] == [4, 3, 2, 1]
        table.set_period(Period())
        assert len(table.view.rows) == 40


async def test_set_account_invoices_replaces_one_account_keeps_others() -> None:
    first = [make_invoice("a", str(i), issued=dt.date(2026, 1, i + 1)) for i in range(3)]
    second = [make_invoice("b", str(i), issued=dt.date(2025, 1, i + 1)) for i in range(3)]
    app = TableApp(first + second)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.press("j", "j", "j", "j")  # rows: a2 a1 a0 b2 b1 b0
        assert (table.cursor_invoice.account, table.cursor_invoice.id) == ("b", "1")
        app.set_account_invoices("a", [make_invoice("a", "9", issued=dt.date(2026, 5, 1))])
        await pilot.pause()
        assert sorted((inv.account, inv.id) for inv in table.view.rows) == [
            ("a", "9"), ("b", "0"), ("b", "1"), ("b", "2")]
        assert (table.cursor_invoice.account, table.cursor_invoice.id) == ("b", "1")
        app.set_account_invoices("b", [make_invoice("b", "0", issued=dt.date(2025, 1, 1))])
        await pilot.pause()
        assert table.cursor_row == 1  # its invoice is gone: clamped to the nearest row
        table.remove_account("a")
        assert [(inv.account, inv.id) for inv in table.view.rows] == [("b", "0")]


async def test_snapshot_and_restore_state_round_trip() -> None:
    app = TableApp(monthly(40) + [make_invoice("acme", "z", issued=dt.date(2024, 6, 1))])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        table.set_period(Period("year", 2024))
        table.sort_by("total", reverse=False)
        table.set_accounts({"vox"})
        await pilot.press("g", "j", "j", "j")
        state = table.snapshot_state()
        assert state.cursor_key == ("vox", "015") and state.sort_key == "total"
        table.set_query("zzz")
        table.set_period(Period())
        table.set_accounts(None)
        table.sort_by("account")
        await pilot.press("G")
        assert table.snapshot_state() != state
        table.restore_state(state)
        await pilot.pause()
        assert table.snapshot_state() == state
        assert table.cursor_invoice.id == "015"
        # A long list scrolled to the bottom comes back scrolled the same way.
        table.restore_state(state._replace(period=Period(), accounts=None))
        await pilot.press("G")
        bottom = table.snapshot_state()
        assert bottom.scroll_y > 0
        await pilot.press("g")
        assert table.scroll_y == 0
        table.restore_state(bottom)
        await pilot.pause()
        assert table.scroll_y == bottom.scroll_y and table.cursor_row == bottom.cursor_row


UNTRUSTED = "[bold red]x[/] [link=https://e.com]y[/link] \x1b]52;c;ZXZpbA==\x07 \x1b[2Jend"


async def test_untrusted_text_renders_literally_without_escapes() -> None:
    invoice = make_invoice("[b]acct[/b]", "1", number=UNTRUSTED, status="paid\x1b[31m",
                           provider="unleash")
    app = TableApp([invoice])
    async with app.run_test(size=(200, 10)) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.pause()
        strip = table.render_line(1)
        text = "".join(segment.text for segment in strip)
        # Escape sequences removed whole; the spaces around them collapse to one.
        assert "[bold red]x[/] [link=https://e.com]y[/link] end" in text
        assert "[b]acct[/b]" in text
        assert "\x1b" not in text and "\x07" not in text and "52;c" not in text
        assert "paid " in text and "[31m" not in text
        assert all(segment.style is None or not segment.style.link for segment in strip)
        # The whole screen too, as the compositor draws it.
        app.query_one(InvoiceTable).focus()
        svg = app.export_screenshot()
        assert "ZXZpbA" not in svg


async def test_cursor_style_differs_when_blurred() -> None:
    app = TableApp(monthly(5))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.pause()
        focused = table.render_line(1)
        await pilot.press("tab")
        await pilot.pause()
        assert not table.has_focus
        blurred = table.render_line(1)
        assert line_text(table, 1) == "".join(s.text for s in focused)
        assert [s.style for s in focused] != [s.style for s in blurred]
        other = table.render_line(2)
        assert [s.style for s in blurred] != [s.style for s in other]


async def test_estimate_total_is_marked_and_amounts_use_currency_digits() -> None:
    app = TableApp([
        make_invoice("unl", "e", status="estimate", total=Decimal("1234.5"), provider="unleash"),
        make_invoice("jp", "j", currency="JPY", total=Decimal("1500"), issued=dt.date(2025, 1, 1)),
    ])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.pause()
        assert "~1,234.50 USD" in line_text(table, 1)
        assert "1,500 JPY" in line_text(table, 2) and "1,500.00" not in line_text(table, 2)
        assert "$" not in line_text(table, 1)


async def test_empty_table_says_so() -> None:
    app = TableApp([])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.pause()
        assert any("No invoices yet" in line for line in screen_text(table))
        await pilot.press("j", "enter", "G", "s")
        assert table.cursor_invoice is None
        assert not app.of_type(InvoiceTable.Selected)


async def test_narrow_table_drops_low_priority_columns_and_resize_keeps_cursor() -> None:
    app = TableApp(monthly(40))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.press("end")
        assert "Due" in line_text(table, 0)
        await pilot.resize_terminal(70, 10)
        await pilot.pause()
        header = line_text(table, 0)
        assert "Total" in header and "Cur" in header and "Due" not in header
        assert len(line_text(table, 1)) == table.scrollable_content_region.width
        assert "VOX-000" in screen_text(table)[-1]  # the cursor's row is still on screen


async def test_hundred_thousand_invoices_load_scroll_and_filter() -> None:
    invoices = synthetic_invoices(100_000)
    app = TableApp(invoices)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InvoiceTable)
        await pilot.pause()
        assert table.view.total_count == len(table.view.rows) == 100_000
        assert table.virtual_size.height == 100_001
        await pilot.press("G")
        await pilot.pause()
        assert table.cursor_row == 99_999
        last = table.view.rows[-1]
        assert last.title in screen_text(table)[-1]
        await pilot.press("pageup", "k")
        table.set_query("vox-0123")
        await pilot.pause()
        assert {inv.number for inv in table.view.rows} == {
            f"VOX-0123{d}{e}" for d in range(10) for e in range(10)
            if any(inv.number == f"VOX-0123{d}{e}" for inv in invoices)}
        assert all("VOX-0123" in line for line in screen_text(table)[1:1 + len(table.view.rows)])
        table.sort_by("total")
        await pilot.pause()
        totals = [inv.total for inv in table.view.rows if inv.total is not None]
        assert totals == sorted(totals, reverse=True)

"""Issue 9 §5: friction found driving the app — the table's columns, its sort and empty
text, the status line's last sync. Over real loopback HTTP to the demo emulator."""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget
from ui_helpers import main_screen, settled_demo, widget_text


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

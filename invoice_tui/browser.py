"""Opening a link in the user's web browser, from a terminal program.

Python's :mod:`webbrowser` falls back to console browsers (lynx, w3m, …) when there
is no display: run from the TUI, one would take over the very terminal the TUI is
drawing on, and over ssh there is often no browser at all. :func:`open_in_browser`
opens a graphical browser or says it could not, so the caller can offer the link
another way (the TUI copies it to the clipboard).
"""

from __future__ import annotations

import webbrowser

__all__ = ["CONSOLE_BROWSERS", "open_in_browser"]

#: Browsers that run inside the terminal (the names :mod:`webbrowser` registers them by).
CONSOLE_BROWSERS = frozenset({"www-browser", "links", "links2", "elinks", "lynx", "w3m",
                              "browsh", "carbonyl"})


def open_in_browser(url: str) -> bool:
    """Open ``url`` in a graphical web browser; ``False`` when none could be opened.

    Blocking (finding the browser may run ``xdg-settings``): call it from a thread.
    """
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    name = getattr(browser, "name", "") or ""
    if name.rsplit("/", 1)[-1] in CONSOLE_BROWSERS:
        return False
    try:
        return bool(browser.open(url))
    except OSError:  # the browser's program vanished or cannot run
        return False

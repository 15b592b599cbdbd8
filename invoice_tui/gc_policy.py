"""How the TUI runs CPython's cyclic garbage collector around big invoice sets (no UI here).

Why: 100 000 invoices held as objects were millions of long-lived containers, and
with the default thresholds the cyclic GC rescanned all of them on every full
collection (1-2 s UI freezes). The TUI now holds a compact index instead
(:mod:`invoice_tui.index`): lists of strings, ints and Decimals, which the cyclic GC
never tracks, so pausing it during a load or freezing the result is not needed any
more. What stays is rarer young collections (:func:`tuned`) while the app runs: it
still allocates plenty (rows on screen, Textual's own objects).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: Allocations between young collections while the TUI runs (CPython's default: 700).
YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def tuned() -> Iterator[None]:
    """For the app's lifetime: rarer collections. Afterwards the previous thresholds come
    back and whatever was frozen is handed back to the collector."""
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()

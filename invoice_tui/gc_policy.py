"""How the TUI runs CPython's cyclic garbage collector around big invoice sets (no UI here).

Why: 100 000 invoices held as objects were millions of long-lived containers, and
with the default thresholds the cyclic GC rescanned all of them on every full
collection (1-2 s UI freezes). The TUI now holds a compact index instead
(:mod:`invoice_tui.index`): lists of strings, ints and Decimals, which the cyclic GC
never tracks, so pausing it during a load or freezing the result is not needed any
more. What stays is rarer young collections (:func:`tuned`) while the app runs: it
still allocates plenty (rows on screen, Textual's own objects).

The export command is different: a one-shot batch that does hold every fetched
invoice until it is written. There the collector only rescans what is kept and finds
next to nothing (measured: 100 000 invoices fetched with the collector off left ~2,600
objects in cycles, a few per request; with it on, the rescans cost ~10 s of CPU, a
third of the fetch), so it is off for the duration (:func:`paused`).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: Allocations between young collections while the TUI runs (CPython's default: 700).
YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """For a one-shot batch (the export): no cyclic collection while it runs.

    Reference counting still frees everything that is not in a cycle, which is nearly
    everything; the few cycles (exceptions and their frames) wait for the next
    collection after the batch. Nests, and restores whatever state it found.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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

"""How the TUI runs CPython's cyclic garbage collector around big invoice sets (no UI here).

Why: 100 000 invoices are millions of long-lived objects. With the default
thresholds the cyclic GC rescans all of them on every full collection, which
froze the UI for 1-2 s, over and over, during a big sync or a cache load. The
invoice graph is acyclic, so reference counting alone frees it when a refresh
replaces it; the cyclic GC only has to stay out of the way:

* rarer young collections (:func:`tuned`), which make full ones rare too;
* no collections at all while a big set is being built (:func:`paused`);
* once a big set is built and kept, it moves to the permanent generation
  that collections skip (:func:`freeze`).
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


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic collections meanwhile (process-wide; reference counting still frees)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def freeze() -> None:
    """Keep every object alive now out of future collections (they are long-lived and
    acyclic: reference counting still frees them when they are replaced)."""
    gc.freeze()


"""Modules the program loads when first used rather than when first imported.

The network stack (``httpx`` and what it pulls in: ``email``, ``http``, ``urllib``;
``email.utils`` for Retry-After dates), ``jwt`` and ``cryptography``'s key loading, and
Rich's traceback renderer (``pygments``), ``tomli_w`` and ``tomlkit`` (the config is
written only when made or edited) take about 0.17 s of CPU to import, a third of
what drawing Textual's first frame costs (``keyring``, whose import and backend discovery
read every installed plugin, ~0.14 s more) — and none of it is needed to draw the stored
invoices: the first sync starts after that frame. Nor are the screens that keys open
(detail, spend, help, …): the UI imports them as modules too. :func:`install`, called by the
program's entry point (``__main__.main``) before anything imports them, makes a later
``import httpx`` bind a stand-in module; the first attribute read from it
(``httpx.AsyncClient``) imports the real module and answers from it, in whatever thread
reads it (one at a time, under a lock). Code keeps writing plain ``import httpx`` at the
top of its module; only ``from httpx import X`` would load it at once
(``tests/test_architecture.py`` keeps such imports out of the package).

This is the package's one deferral mechanism: :data:`DEFERRED` is its whole list, and
nothing else is imported inside a function to save start time (except the demo's
emulator, which only the demo needs). Library code and tests that never call
:func:`install` get the real modules, imported as usual.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import threading
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import importlib.abc

__all__ = ["DEFERRED", "install", "load_all", "pending"]

#: Every module deferred once :func:`install` ran: top-level names of what the first frame
#: does not need. A module imported elsewhere with ``from … import`` would be loaded at
#: that import, so each is imported as a whole (``import httpx``) in the package.
DEFERRED: tuple[str, ...] = (
    "httpx", "jwt", "cryptography.hazmat.primitives.serialization",
    # Its RSA key type (checked once a key is loaded) brings in the Rust bindings: ~13 ms.
    "cryptography.hazmat.primitives.asymmetric.rsa",
    "email.utils", "rich.traceback", "tomli_w", "tomlkit", "keyring",
    "certifi",  # its CA bundle's path, for the first sync's TLS context (importlib.resources)
    # The standard library's that only a sync, a subcommand, a typed date or a config
    # warning uses: ~6 M instructions of the first frame's ~1,300 M (about 2 ms).
    "json", "calendar", "getpass", "shlex",
    "invoice_tui.spend",  # spend by month (`m`): five dataclasses, ~8 ms
    # What only the `check` and `pdfs` subcommands (and the screens that use them) need.
    "invoice_tui.check", "invoice_tui.pdfs",
    # The syncs, which start after the first frame: five dataclasses and the TLS setup, ~6 ms.
    "invoice_tui.sync",
    # The export (and its csv, and the forked children that half a big one renders in and
    # the store writes a big sync through, with pickle): a key or a subcommand away, ~4 ms.
    "invoice_tui.export", "invoice_tui.forked",
    # The screens that a key or a missing config opens (and what only they use: Textual's
    # DataTable and ProgressBar, webbrowser): ~25 ms that the main screen's first frame skips.
    *(f"invoice_tui.ui.screens.{name}" for name in (
        "detail", "spend", "pdfs", "export_prompt", "help", "error", "welcome",
        "account_form")))

_lock = threading.RLock()
_pending: set[str] = set()  # deferred, and not imported for real yet
_loaded: dict[str, types.ModuleType] = {}  # the real modules of used stand-ins


class _StandIn(types.ModuleType):
    """What ``import`` binds for a deferred module until it is used."""

    def __getattr__(self, attribute: str) -> Any:
        # Only called for what the stand-in lacks: everything but its import metadata. While
        # the import system sets it up (it probes ``__path__``) there is nothing to load yet.
        if "__deferred__" not in self.__dict__:
            raise AttributeError(attribute)
        return getattr(_load(self.__name__), attribute)


class _Finder:
    """Answers the imports of pending deferred modules with a :class:`_StandIn`.

    A meta path finder and loader by its methods, as the import system asks; not by
    ``importlib.abc``'s classes, whose import brings ``importlib.resources`` (~5 ms).
    """

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _pending:
            return None
        # The real module must exist, so that a missing one fails at the import as usual.
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None:
            return None
        # No submodule_search_locations: importing a submodule reads the stand-in's
        # ``__path__``, which loads the real package first.
        loader = cast("importlib.abc.Loader", self)  # a loader by its methods
        return importlib.machinery.ModuleSpec(fullname, loader, origin=real.origin)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _StandIn(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        # Nothing to run: the real module runs when the stand-in is first used.
        module.__dict__["__deferred__"] = True


_finder = _Finder()


def install() -> None:
    """Defer the :data:`DEFERRED` modules not imported yet (the program's entry calls this
    before importing the rest of the package)."""
    with _lock:
        _pending.update(name for name in DEFERRED if name not in sys.modules)
        if _pending and _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)


def _load(name: str) -> types.ModuleType:
    """The real module ``name``, imported now if it has not been yet."""
    module = _loaded.get(name)
    if module is not None:
        return module
    with _lock:  # one thread imports it; the others wait until it is complete
        module = _loaded.get(name)
        if module is None:
            _pending.discard(name)
            if isinstance(sys.modules.get(name), _StandIn):
                del sys.modules[name]  # the real import replaces it (and the parent's attribute)
            # (Not sys.modules' entry: during the import it is there, but incomplete.)
            module = _loaded[name] = importlib.import_module(name)
        return module


def load_all(prefix: str = "") -> None:
    """Import every deferred module (whose name starts with ``prefix``) now — from a
    thread, so the event loop never waits, or where everything must be defined (the
    keymap check walks every screen class)."""
    # Until none is left: loading one may import another as a stand-in.
    while names := [name for name in pending() if name.startswith(prefix)]:
        for name in names:
            _load(name)


def pending() -> list[str]:
    """The deferred modules not imported for real yet (only stand-ins so far)."""
    return sorted(name for name in DEFERRED if isinstance(sys.modules.get(name), _StandIn))

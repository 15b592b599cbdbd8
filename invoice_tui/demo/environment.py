"""Wiring the emulator into the app: a demo config, a throwaway demo environment, the CLI server."""

from __future__ import annotations

import datetime as dt
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..config import AccountConfig, Config, Settings, save_config
from ..fs import write_atomic
from ..store import InvoiceStore, open_store
from .data import DEMO_ACCOUNTS
from .faults import Fault, parse_fault
from .keys import credentials
from .server import DemoServer
from .wire import json_bytes


def demo_config(server: DemoServer, directory: Path, *, file_prefix: str = "") -> Config:
    """A :class:`Config` (``path=None``) with every demo account, pointed at ``server``.

    Writes each demo Voximplant account's ``credentials.json`` (mode 0600) into
    ``directory`` as ``<file_prefix><account>-credentials.json``. The keys only
    exist in this process, so the files are only good while it runs. One file
    uses the older ``{"result": {…}}`` wrapping that real key files may have.
    """
    directory.mkdir(parents=True, exist_ok=True)
    accounts = []
    for account in DEMO_ACCOUNTS:
        options: dict[str, Any] = {"name": account.name, "provider": account.provider}
        if account.provider == "voximplant":
            path = directory / f"{file_prefix}{account.name}-credentials.json"
            content: dict[str, Any] = credentials(account)
            if account.currency == "EUR":
                content = {"result": content}
            write_atomic(path, json_bytes(content), 0o600)
            options["credentials"] = str(path)
            options["base_url"] = server.voximplant_base_url
        else:
            options["base_url"] = server.unleash_base_url(account.name)
            options["token"] = account.token
        accounts.append(AccountConfig(name=account.name, provider=account.provider,
                                      options=options))
    return Config(path=None, settings=Settings(), accounts=tuple(accounts))


@dataclass(frozen=True, slots=True)
class DemoEnvironment:
    """A running emulator, a config pointing at it, a throwaway cache dir and its store."""

    server: DemoServer
    config: Config
    cache_dir: Path
    store: InvoiceStore


@contextmanager
def demo_environment(
    *,
    latency_ms: int = 0,
    invoice_count: int | None = None,
    count_cap: int | None = 50,
    faults: Iterable[Fault] = (),
    today: dt.date | None = None,
) -> Iterator[DemoEnvironment]:
    """Start the emulator with demo credentials and a store in a temp dir; clean everything up.

    Used by ``invoice-tui --demo`` and ``export --demo``: nothing is written to
    the user's config or cache.
    """
    with tempfile.TemporaryDirectory(prefix="invoice-tui-demo-") as temp:
        root = Path(temp)
        cache = root / "cache"
        with open_store(cache).store as store, \
                DemoServer(latency_ms=latency_ms, invoice_count=invoice_count,
                           count_cap=count_cap, today=today) as server:
            for fault in faults:
                server.add_fault(fault)
            yield DemoEnvironment(server, demo_config(server, root / "credentials"), cache,
                                  store)


def _config_table(config: Config) -> dict[str, Any]:
    settings = config.settings
    return {
        "settings": {"page_size": settings.page_size, "concurrency": settings.concurrency},
        "accounts": [dict(account.options) for account in config.accounts],
    }


def write_demo_config(server: DemoServer, path: Path) -> Config:
    """Write a TOML config (0600) for ``server`` at ``path``, credentials files beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    config = demo_config(server, path.parent, file_prefix=f"{path.stem}.")
    table = _config_table(config)
    save_config(path, table)
    return Config(path=path, settings=config.settings, accounts=config.accounts)


def run_demo_server(
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: int = 0,
    invoice_count: int | None = None,
    count_cap: int | None = 50,
    faults: Iterable[Fault | str] = (),
    write_config: Path | None = None,
    out: TextIO = sys.stdout,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Run the emulator in the foreground until Ctrl-C (or ``stop`` is set); the exit code.

    Prints the URLs; with ``write_config`` also writes a config file (and the
    credentials next to it) that ``invoice-tui --config`` can use while this runs.
    ``faults`` may be :class:`Fault` objects or text specs (:func:`parse_fault`).
    """
    try:
        parsed = [parse_fault(f) if isinstance(f, str) else f for f in faults]
    except ValueError as error:
        print(f"invoice-tui demo-server: {error}", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        print(f"  {line}", file=out, flush=True)

    server = DemoServer(host=host, port=port, latency_ms=latency_ms,
                        invoice_count=invoice_count, count_cap=count_cap, log=log)
    try:
        server.start()
    except OSError as error:
        print(f"invoice-tui demo-server: cannot listen on {host}:{port}: {error.strerror}"
              " — pick another --port or --host", file=sys.stderr)
        return 1
    try:
        for fault in parsed:
            server.add_fault(fault)
        print(f"invoice-tui demo emulator listening on {server.url}", file=out)
        print(f"  Voximplant: {server.voximplant_base_url}", file=out)
        for account in DEMO_ACCOUNTS:
            if account.provider == "voximplant":  # --invoice-count sizes each of these
                count = server.voximplant_invoice_count(account.name)
                print(f"    {account.name}: {count:,} invoices", file=out)
        for account in DEMO_ACCOUNTS:
            if account.provider == "unleash":
                print(f"  Unleash {account.name}: {server.unleash_base_url(account.name)}",
                      file=out)
        if write_config is not None:
            written = write_demo_config(server, write_config)
            print(f"Wrote {written.path} — run: invoice-tui --config {written.path}"
                  " (valid while this server runs)", file=out)
        stopped = stop or threading.Event()
        with _stop_on_sigterm(stopped):  # before "Press Ctrl-C": then a SIGTERM is never lost
            print("Press Ctrl-C to stop.", file=out, flush=True)
            with suppress(KeyboardInterrupt):
                stopped.wait()
        print("Stopped.", file=out)
        return 0
    finally:
        server.stop()


@contextmanager
def _stop_on_sigterm(stopped: threading.Event) -> Iterator[None]:
    """SIGTERM (``kill``, process managers) sets ``stopped``: a clean stop, like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install signal handlers
        return
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stopped.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

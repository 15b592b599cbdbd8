"""Benchmark: what noticing and applying a config change costs (issue 10 §2).

    .venv/bin/python benchmarks/bench_reload.py [--count 100000] [--polls 20000]

Prints numbers; asserts nothing. All in process CPU time (``time.process_time``),
so that the other processes on the machine do not count:

* **the poll tick** — what the app does every 2 s while it runs: a ``stat`` of
  config.toml, against reading and parsing it each time (what the stat saves;
  it is only read, in a thread, when the stat changed);
* **a reload over a big store** — the real app (headless, syncs held off) on a
  store of ``--count`` invoices of one account: the CPU of applying a config that
  adds one account (``InvoiceApp.apply_config``: the diff, the pane, the new
  account's sync and store read started), and whether the big account's index
  is still the very same object (kept, not read again) — against reading that
  account from the store again, which is what a restart (or a naive reload that
  rebuilt everything) pays.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench_tui import (  # noqa: E402
    ACCOUNT,
    COLUMNS,
    ROWS,
    _private_copy,
    as_configured,
    bench_config,
    build_store,
)

from invoice_tui.config import load_config, save_config  # noqa: E402
from invoice_tui.demo.server import DemoServer  # noqa: E402
from invoice_tui.index import connect_reader, load_account, load_extras  # noqa: E402
from invoice_tui.store import account_key, open_store  # noqa: E402
from invoice_tui.view import STORED_SORT_KEYS  # noqa: E402


def poll_costs(config: Path, polls: int) -> tuple[float, float]:
    """CPU µs of one stat of ``config``, and of one read + parse of it."""
    stamps = set()
    started = time.process_time()
    for _ in range(polls):
        st = config.stat()
        stamps.add((st.st_mtime_ns, st.st_size, st.st_ino))  # as InvoiceApp._stat_config
    stat_us = (time.process_time() - started) / polls * 1e6
    reads = max(polls // 20, 50)
    started = time.process_time()
    for _ in range(reads):
        load_config(config)
    parse_us = (time.process_time() - started) / reads * 1e6
    return stat_us, parse_us


async def reload_over(store_dir: Path, config_path: Path) -> dict[str, Any]:
    """Apply a config adding one account to the app on a big store; what it cost."""
    from invoice_tui.ui.app import InvoiceApp
    from invoice_tui.ui.screens.main import MainScreen

    started_syncs: list[str] = []

    async def never(account: Any, *args: object, **kwargs: object) -> Any:
        started_syncs.append(account.name)
        await asyncio.Event().wait()  # held off: only the app's own work is measured

    full = load_config(config_path)
    with open_store(store_dir, quick_check=False).store as store:
        app = InvoiceApp(full, store, sync=never, config_path=config_path)
        async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            while (index := main.table.view.index(ACCOUNT)) is None or index.search is None:
                await asyncio.sleep(0.02)
            await pilot.pause(0.5)
            rows = len(main.table.view.rows)
            before = list(started_syncs)
            bigger = load_config(config_path.with_name("bigger.toml"))
            cpu = time.process_time()
            changes = app.apply_config(bigger)
            applied = time.process_time() - cpu
            # Then the new account's store read (nothing stored yet) is done.
            while not main._readers["unleash-acme"].is_finished:
                await asyncio.sleep(0.01)
            await pilot.pause()
            landed = time.process_time() - cpu
            kept = main.table.view.index(ACCOUNT) is index
            app.exit()
    return {"rows": rows, "applied": applied, "landed": landed, "kept": kept,
            "changes": changes,
            "syncs": started_syncs[len(before):]}


def reread_cost(store_dir: Path, name: str, key: str) -> float:
    """CPU s of reading one account's index and extras from the store again."""
    conn = connect_reader(store_dir / "invoices.sqlite3")
    assert conn is not None
    try:
        started = time.process_time()
        index = load_account(conn, name, key)
        load_extras(conn, index, STORED_SORT_KEYS)
        return time.process_time() - started
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--polls", type=int, default=20_000)
    args = parser.parse_args()
    built = build_store(args.count)
    with tempfile.TemporaryDirectory() as tmp, DemoServer() as server:
        root = Path(tmp)
        config = bench_config(server, root)
        store_dir = _private_copy(built, root / "store")
        as_configured(store_dir, config)
        stat_us, parse_us = poll_costs(config, args.polls)
        print(f"poll tick (CPU per call): stat {stat_us:.1f} µs · read + parse "
              f"{parse_us:.0f} µs ({parse_us / stat_us:.0f}× the stat)")
        # The same account plus one more (the emulator's Unleash acme, held off too).
        from invoice_tui.demo.environment import demo_config

        demo = demo_config(server, root / "keys")
        table = load_config(config).to_data()
        table["accounts"].append(dict(demo.account("unleash-acme").options))
        save_config(root / "bigger.toml", table)
        result = asyncio.run(reload_over(store_dir, config))
        account = load_config(config).account(ACCOUNT)
        reread = reread_cost(store_dir, ACCOUNT, account_key(account))
        print(f"reload adding 1 account over {result['rows']:,} stored invoices: "
              f"apply_config {result['applied'] * 1000:.1f} ms CPU, until the new "
              f"account's store read is done {result['landed'] * 1000:.0f} ms "
              f"({result['changes'].summary()}; syncs started: {result['syncs']}); "
              f"{ACCOUNT}'s index kept as is: {result['kept']}")
        print(f"re-reading {ACCOUNT}'s {result['rows']:,} invoices from the store instead "
              f"(what a restart pays): {reread * 1000:.0f} ms CPU "
              f"({reread / max(result['landed'], 1e-9):.1f}× the whole reload)")


if __name__ == "__main__":
    main()

"""Work in forked children (``forked.py``) and what uses it: the store's forked writes, the
offloaded sync and the export rendered in halves, each checked against the in-process path."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import gc
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from invoice_factory import synthetic_invoices
from store_helpers import new_store

from invoice_tui import cli, export, forked
from invoice_tui import store as store_module
from invoice_tui import sync as sync_module
from invoice_tui.config import AccountConfig, Config, save_config
from invoice_tui.demo import DemoServer
from invoice_tui.model import AccountSummary, Invoice, Line, Tax
from invoice_tui.store import DB_NAME, InvoiceStore, StoreError
from invoice_tui.sync import SyncSucceeded, sync_account

WHEN = dt.datetime(2026, 11, 1, 12, 30, tzinfo=dt.UTC)
REPO = Path(cli.__file__).parent.parent


@pytest.fixture(autouse=True)
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[forked.Child[object]]]:
    """Forking on (whatever the environment says), the children a test starts, and none of
    them left behind."""
    monkeypatch.delenv(forked.DISABLE_ENV, raising=False)
    assert forked.available()
    started: list[forked.Child[object]] = []
    real_start = forked.start

    def start(*args: object, **kwargs: object) -> object:
        child = real_start(*args, **kwargs)  # type: ignore[arg-type]
        if child is not None:
            started.append(child)
        return child

    monkeypatch.setattr(forked, "start", start)
    yield started
    for child in started:  # every child was waited for, and its pipe closed
        assert child._status is not None and child._reader is None, child.pid


def _account(name: str = "vox-main") -> AccountConfig:
    return AccountConfig(name=name, provider="voximplant",
                         options={"name": name, "provider": "voximplant",
                                  "base_url": "https://example.com/x", "credentials": "k.json"})


def _hostile(count: int) -> list[Invoice]:
    """Invoices of one account whose text is multi-byte, escaped or odd, with lines and taxes."""
    texts = ("Calls 東京", "SMS \x7f del", "bidi \u202e evil", "zero\u200bwidth", "emoji 😀",
             "quote \" back \\ slash", "=SUM(A1)", "line\nbreak", "c1 \x9b csi", "")
    invoices = []
    for index, base in enumerate(synthetic_invoices(count)):
        text = texts[index % len(texts)]
        tax = Tax(name=f"VAT {text}", rate=Decimal("0.19"), amount=Decimal(index).scaleb(-2),
                  currency="EUR")
        line = Line(kind="service", description=text * (index % 3 + 1), amount=Decimal("1.5"),
                    currency="EUR", taxes=(tax,) * (index % 3))
        invoices.append(dataclasses.replace(
            base, account="vox-main", provider="voximplant", id=f"id-{index}",
            number=text or None, lines=(line,) * (index % 4)))
    return invoices


def _table(path: Path, table: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def _data(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """The stored invoices, lines and taxes, by invoice id: pks and sync ids depend on the
    order pages arrive in, which concurrent requests do not fix."""
    data: dict[str, list[tuple[object, ...]]] = {}
    with contextlib.closing(sqlite3.connect(path)) as connection:
        for table in ("invoices", "lines", "taxes"):
            key = "pk" if table == "invoices" else "invoice_pk"
            cursor = connection.execute(
                f"SELECT owner.id, {table}.* FROM {table} JOIN invoices AS owner ON owner.pk = "
                f"{table}.{key}")
            names = [column[0] for column in cursor.description]
            keep = [index for index, name in enumerate(names)
                    if name not in ("pk", "invoice_pk", "sync_id")]
            data[table] = sorted((tuple(row[index] for index in keep) for row in cursor),
                                 key=repr)
    return data


# --- forked.start ------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def no_connection_open() -> None:
    """Each test begins with no SQLite connection open: another test's (a UI reader
    thread still ending, a dropped one in a cycle) would keep a store's work from forking,
    or be closed by the collector in the middle of a count."""
    deadline = time.monotonic() + 30
    while True:
        gc.collect()
        if forked.CountedConnection._open == 0:
            return
        assert time.monotonic() < deadline, "a connection of another test stayed open"
        time.sleep(0.05)


def test_a_child_sends_back_its_result_or_its_exception() -> None:
    child = forked.start(lambda: {"answer": 6 * 7, "pid": os.getpid()})
    assert child is not None
    result = child.result()
    assert result["answer"] == 42 and result["pid"] != os.getpid()

    def fail() -> None:
        raise StoreError("the disk is full", "free some space")

    child = forked.start(fail)
    assert child is not None
    with pytest.raises(StoreError) as raised:
        child.result()
    assert (raised.value.reason, raised.value.hint) == ("the disk is full", "free some space")


def test_an_exception_that_cannot_travel_is_named() -> None:
    class Local(Exception):  # a local class: pickle cannot find it by name
        pass

    def fail() -> None:
        raise Local("details")

    child = forked.start(fail)
    assert child is not None
    with pytest.raises(forked.ChildFailed, match="Local could not be sent back"):
        child.result()


def test_a_killed_child_fails_and_is_reaped() -> None:
    child = forked.start(lambda: time.sleep(60))
    assert child is not None
    child.kill()
    with pytest.raises(forked.ChildFailed, match="signal 9"):
        child.result()
    child.kill()  # once reaped, a no-op


def test_ctrl_c_is_the_parents_to_handle() -> None:
    child = forked.start(lambda: time.sleep(0.3) or "finished")
    assert child is not None
    os.kill(child.pid, signal.SIGINT)  # at once: signals are blocked over the fork
    assert child.result() == "finished"


def test_the_child_runs_none_of_the_programs_handlers_and_the_parent_keeps_its_state(
        tmp_path: Path) -> None:
    marker = tmp_path / "handler-ran"
    previous = signal.signal(signal.SIGUSR1, lambda *_args: marker.touch())
    try:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        for collecting in (True, False):
            (gc.enable if collecting else gc.disable)()
            child = forked.start(lambda: (signal.getsignal(signal.SIGUSR1),
                                          signal.getsignal(signal.SIGINT), gc.isenabled()))
            assert child is not None
            assert child.result() == (signal.SIG_DFL, signal.SIG_IGN, False)
            assert gc.isenabled() is collecting  # the parent's collector as it was
            assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask  # and its mask
            assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGUSR1)  # the parent's own handler still runs
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists()
    finally:
        gc.enable()
        signal.signal(signal.SIGUSR1, previous)


def test_a_child_dies_with_its_parent(tmp_path: Path) -> None:
    # A parent killed -9 mid-export takes its writer with it (no orphan writing on).
    script = (
        "import os, sys, time\n"
        "from invoice_tui import forked\n"
        "child = forked.start(lambda: time.sleep(60))\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    assert process.stdout is not None
    pid = int(process.stdout.readline())
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:  # a zombie (dead, its parent gone, not reaped yet by init) counts as dead
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_failed_fork_is_work_done_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    opened = set(os.listdir("/proc/self/fd"))
    assert forked.start(lambda: 1) is None
    assert set(os.listdir("/proc/self/fd")) == opened  # the pipe is closed again
    invoices = _hostile(9)
    monkeypatch.setattr(export, "PARALLEL_MIN", 2)
    assert b"".join(export.iter_encoded(invoices, "csv")) == \
        "".join(export.iter_render(invoices, "csv")).encode("utf-8")


def test_sqlite_work_forks_only_while_no_connection_is_open(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "x.db", factory=forked.CountedConnection)
    assert forked.start(lambda: 1, uses_sqlite=True) is None
    other = forked.start(lambda: 2)  # a child that leaves SQLite alone may still fork
    assert other is not None and other.result() == 2
    connection.close()
    child = forked.start(lambda: 3, uses_sqlite=True)
    assert child is not None and child.result() == 3

    store = new_store(tmp_path)  # the store's own reader connection counts too
    assert forked.start(lambda: 4, uses_sqlite=True) is None
    store.close_readers()
    child = forked.start(lambda: 5, uses_sqlite=True)
    assert child is not None and child.result() == 5
    store.close()


def test_a_dropped_connection_closed_by_the_collector_while_another_opens(
        tmp_path: Path) -> None:
    # Opening a connection (under the count's lock) can run the cyclic GC, which closes
    # a dropped connection in a cycle, and so takes the lock again in the same thread.
    dropped = sqlite3.connect(tmp_path / "x.db", factory=forked.CountedConnection)
    dropped.cycle = dropped  # type: ignore[attr-defined]
    before = forked.CountedConnection._open
    del dropped
    done = threading.Event()

    def open_while_collecting() -> None:
        with forked.CountedConnection._lock:  # as __init__ holds it while opening
            gc.collect()
        done.set()

    thread = threading.Thread(target=open_while_collecting, daemon=True)
    thread.start()
    assert done.wait(timeout=30), "the collector's close deadlocked on the count's lock"
    assert forked.CountedConnection._open == before - 1


def test_the_environment_switch_keeps_everything_in_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(forked.DISABLE_ENV, "1")
    assert not forked.available()
    assert forked.start(lambda: 1) is None


# --- the store's forked writes -------------------------------------------------------------

def test_forked_writes_store_exactly_what_add_stores(tmp_path: Path) -> None:
    invoices = _hostile(230)
    batches = [invoices[:100], invoices[90:170], invoices[170:], invoices[:5]]  # repeats
    account = _account()

    with new_store(tmp_path / "a") as plain:
        writer = plain.begin_sync(account)
        for batch in batches:
            writer.add(batch)
        writer.finish(AccountSummary(), WHEN)
        expected = (writer.written, writer.duplicates)

    with new_store(tmp_path / "b") as offloaded:
        offloaded.close_readers()
        writer = offloaded.begin_sync(account, detached=True)
        children = 0
        for batch in batches:
            wait = writer.add_forked(batch, per_transaction=30)
            assert wait is not None
            children += len(writer._children)
            wait()
        assert children == 3  # the last batch holds nothing new: no child for it
        writer.finish(AccountSummary(), WHEN)
        assert (writer.written, writer.duplicates) == expected == (230, 15)

    assert _data(tmp_path / "a" / "cache" / DB_NAME) == _data(tmp_path / "b" / "cache" / DB_NAME)


def test_a_forked_write_falls_back_while_a_connection_is_open(tmp_path: Path) -> None:
    invoices = _hostile(20)
    with new_store(tmp_path) as store:  # its reader connection is open
        writer = store.begin_sync(_account(), detached=True)
        assert writer.add_forked(invoices + invoices[:3], per_transaction=10) is None
        assert writer.duplicates == 0  # the caller's add() counts them
        assert writer.add(invoices + invoices[:3]) == 20 and writer.duplicates == 3
        writer.finish(AccountSummary(), WHEN)
        assert len(store.load_headers(_account()).invoices) == 20


def test_abandon_stops_a_writing_child_and_keeps_only_whole_transactions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    invoices = _hostile(40)
    real_write = store_module._BatchRows.write
    first_done = tmp_path / "first-done"

    def write(rows: store_module._BatchRows, connection: sqlite3.Connection, key: str,
              sync_id: int) -> None:
        if first_done.exists():
            time.sleep(60)  # the second transaction hangs until the child is killed
        real_write(rows, connection, key, sync_id)

    monkeypatch.setattr(store_module._BatchRows, "write", write)
    store = new_store(tmp_path)
    store.close_readers()
    writer = store.begin_sync(_account(), detached=True)
    real_transaction = store_module._write_transaction

    @contextlib.contextmanager
    def transaction(*args: object) -> Iterator[sqlite3.Connection]:
        with real_transaction(*args) as connection:  # type: ignore[arg-type]
            yield connection
        first_done.touch()  # committed

    monkeypatch.setattr(store_module, "_write_transaction", transaction)
    wait = writer.add_forked(invoices, per_transaction=25)
    assert wait is not None
    deadline = time.monotonic() + 30
    while not first_done.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.abandon()
    with pytest.raises(StoreError, match="stopped|killed"):
        wait()
    path = tmp_path / "cache" / DB_NAME
    assert len(_table(path, "invoices")) == 25  # the first transaction, whole
    assert _table(path, "syncs") == [] and _table(path, "sync_seen") == []
    store.close()


def test_a_write_for_a_swept_sync_is_refused_in_the_child_too(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    store.close_readers()
    writer = store.begin_sync(_account(), detached=True)
    path = tmp_path / "cache" / DB_NAME
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("DELETE FROM syncs")  # what another instance's sweep does
    wait = writer.add_forked(_hostile(5), per_transaction=10)
    assert wait is not None
    with pytest.raises(StoreError) as raised:
        wait()
    assert raised.value.hint == "sync again"
    with pytest.raises(StoreError, match="removed by another invoice-tui"):
        writer.add(_hostile(5))
    assert _table(path, "invoices") == [] and _table(path, "sync_seen") == []
    store.close()


# --- the offloaded sync over HTTP ----------------------------------------------------------

@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches the demo's few hundred invoices fill several times."""
    monkeypatch.setattr(sync_module, "STORE_BATCH_MAX", 20)
    monkeypatch.setattr(sync_module, "FORKED_BATCH_MAX", 80)
    monkeypatch.setattr(sync_module, "FORKED_BATCH_MIN", 30)


def _sync(demo: Config, store: InvoiceStore, offload: bool) -> SyncSucceeded:
    outcome = asyncio.run(sync_account(
        demo.account("vox-main"), demo.settings, store=store, offload=offload))
    assert isinstance(outcome, SyncSucceeded), outcome
    return outcome


@pytest.mark.demo_server(invoice_count=300, count_cap=25)
def test_an_offloaded_sync_stores_what_a_threaded_one_stores(
        server: DemoServer, demo: Config, tmp_path: Path, small_batches: None,
        started: list[forked.Child[object]]) -> None:
    with new_store(tmp_path / "a") as threaded:
        outcome = _sync(demo, threaded, offload=False)
    with new_store(tmp_path / "b") as offloaded:
        offloaded.close_readers()
        again = _sync(demo, offloaded, offload=True)
        assert len(started) >= 3
        assert again.invoices == outcome.invoices and again.warnings == ()
        stored = offloaded.load_headers(demo.account("vox-main")).invoices
        assert len(stored) == len(outcome.invoices) > 80
    first, second = (_data(tmp_path / side / "cache" / DB_NAME) for side in "ab")
    assert first == second


@pytest.mark.demo_server(invoice_count=300, count_cap=25)
def test_an_offloaded_sync_whose_store_fails_keeps_the_old_rows(
        server: DemoServer, demo: Config, tmp_path: Path, small_batches: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with new_store(tmp_path) as store:
        before = _sync(demo, store, offload=False)

        def broken(*_args: object) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(store_module._BatchRows, "write", broken)
        store.close_readers()
        outcome = _sync(demo, store, offload=True)
        assert len(outcome.warnings) == 1
        assert outcome.warnings[0].startswith("not saved for offline use: could not write the "
                                              "invoice store (OperationalError: disk I/O error)")
        headers = store.load_headers(demo.account("vox-main")).invoices
        assert len(headers) == len(before.invoices)
        assert store.account_states([demo.account("vox-main")])["vox-main"].synced


# --- the export rendered in halves --------------------------------------------------------

@pytest.fixture
def halves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small lists are rendered in halves too, and read back in tiny chunks."""
    monkeypatch.setattr(export, "PARALLEL_MIN", 2)
    monkeypatch.setattr(export, "_COPY_CHUNK", 7)


@pytest.mark.parametrize(("fmt", "lines"), [("json", False), ("csv", False), ("csv", True)])
@pytest.mark.parametrize("count", [0, 1, 2, 3, 57])
def test_halves_make_the_same_bytes(fmt: str, lines: bool, count: int, halves: None,
                                    started: list[forked.Child[object]]) -> None:
    invoices = _hostile(count)
    expected = "".join(export.iter_render(invoices, fmt, lines)).encode("utf-8")
    chunks = list(export.iter_encoded(invoices, fmt, lines))
    assert b"".join(chunks) == expected
    assert len(started) == (1 if count >= 2 else 0)
    for chunk in chunks:
        chunk.decode("utf-8")  # every chunk ends at a character's end


def test_a_failed_half_is_rendered_here(halves: None, monkeypatch: pytest.MonkeyPatch) -> None:
    invoices = _hostile(31)
    expected = "".join(export.iter_render(invoices, "json")).encode("utf-8")
    parent = os.getpid()
    real_part = export._render_part

    def part(*args: object, **kwargs: object) -> Iterator[str]:
        if os.getpid() != parent:
            raise OSError("No space left on device")
        return real_part(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(export, "_render_part", part)
    assert b"".join(export.iter_encoded(invoices, "json")) == expected


@pytest.mark.demo_server(invoice_count=300, count_cap=25)
def test_the_export_command_forks_and_writes_what_the_store_then_exports(
        server: DemoServer, demo: Config, tmp_path: Path, small_batches: None, halves: None,
        started: list[forked.Child[object]]) -> None:
    config = tmp_path / "config.toml"
    save_config(config, demo.to_data())
    common = ["--config", str(config), "--cache-dir", str(tmp_path / "cache"),
              "--account", "vox-main"]
    assert cli.main(["export", *common, "--output", str(tmp_path / "online.json")]) == 0
    assert len(started) >= 4  # store writes and a rendered half
    assert cli.main(["export", *common, "--offline",
                     "--output", str(tmp_path / "offline.json")]) == 0
    online = (tmp_path / "online.json").read_bytes()
    assert online == (tmp_path / "offline.json").read_bytes()
    assert online.count(b'\n    "account": ') > 80


def test_an_export_stopped_half_way_leaves_no_child(halves: None) -> None:
    chunks = export.iter_encoded(_hostile(40), "json")
    next(chunks)  # the child renders its half meanwhile
    chunks.close()  # the reader gave up (a full disk, a closed pipe)

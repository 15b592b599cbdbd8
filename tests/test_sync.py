"""Sync orchestration over real HTTP to the emulator: isolation, events, cancellation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from invoice_tui.config import AccountConfig, Config, Settings
from invoice_tui.demo import DemoServer, Fault
from invoice_tui.providers import provider_class
from invoice_tui.store import open_store
from invoice_tui.sync import (
    USER_AGENT,
    SyncEvent,
    SyncFailed,
    SyncProgress,
    SyncStarted,
    SyncSucceeded,
    make_client,
    sync_account,
    sync_all,
)

# Small pages so a Voximplant account takes several requests.
pytestmark = pytest.mark.demo_server(count_cap=5)


async def test_one_failing_account_never_affects_the_others(
    server: DemoServer, demo: Config, tmp_path: Path
) -> None:
    server.add_fault(Fault("vox_error", account="vox-eu", code=104, times=-1))
    store = open_store(tmp_path / "cache").store
    outcomes = await sync_all(demo, store=store)
    assert list(outcomes) == demo.account_names
    failed = outcomes["vox-eu"]
    assert isinstance(failed, SyncFailed)
    assert "104" in failed.error.reason and failed.error.hint
    for name, outcome in outcomes.items():
        if name != "vox-eu":
            assert isinstance(outcome, SyncSucceeded), (name, outcome)
            assert outcome.invoices and all(i.account == name for i in outcome.invoices)
            assert outcome.synced_at.tzinfo is not None
    # Only the successes are stored as complete syncs.
    states = store.account_states(demo.accounts)
    assert {name for name, state in states.items() if state.synced} == \
        set(demo.account_names) - {"vox-eu"}
    store.close()


async def test_named_subset_in_given_order_and_unknown_name(demo: Config) -> None:
    names = [demo.account_names[-1], demo.account_names[0]]
    outcomes = await sync_all(demo, names)
    assert list(outcomes) == names
    with pytest.raises(KeyError):
        await sync_all(demo, ["no-such-account"])


async def test_progress_events_sequence(demo: Config) -> None:
    events: list[SyncEvent] = []
    account = demo.account("vox-main")
    outcome = await sync_account(account, Settings(page_size=5, concurrency=2),
                                 on_event=events.append)
    assert isinstance(outcome, SyncSucceeded)
    assert events[0] == SyncStarted("vox-main")
    assert events[-1] is outcome
    progress = [e for e in events[1:-1] if isinstance(e, SyncProgress)]
    assert len(progress) == len(events) - 2  # nothing else in between
    pages = [e.progress.pages for e in progress]
    counts = [e.progress.invoices for e in progress]
    assert pages == list(range(1, len(pages) + 1))
    assert counts == sorted(counts)
    assert len(pages) >= len(outcome.invoices) // 5
    assert counts[-1] == len(outcome.invoices)
    assert progress[-1].progress.total_invoices == len(outcome.invoices)
    # Each step carries the invoices it added: together, every invoice once.
    added = [invoice for event in progress for invoice in event.progress.page]
    assert [len(e.progress.page) for e in progress] == \
        [after - before for before, after in zip([0, *counts], counts, strict=False)]
    assert sorted(added, key=lambda i: i.id) == sorted(outcome.invoices, key=lambda i: i.id)


async def test_failure_events_and_build_errors(demo: Config, tmp_path: Path) -> None:
    events: list[SyncEvent] = []
    broken = AccountConfig(name="vox-broken", provider="voximplant",
                           options={"name": "vox-broken", "provider": "voximplant",
                                    "credentials": str(tmp_path / "missing.json")})
    outcome = await sync_account(broken, demo.settings, on_event=events.append)
    assert isinstance(outcome, SyncFailed)
    assert outcome.error.reason.startswith("credentials:")
    assert events == [SyncStarted("vox-broken"), outcome]


async def test_unexpected_exception_becomes_internal_error(
    demo: Config, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cls = provider_class("unleash")
    assert cls is not None

    async def explode(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("secret-looking detail user:abc")

    monkeypatch.setattr(cls, "fetch", explode)
    outcome = await sync_account(demo.account("unleash-acme"), demo.settings)
    assert isinstance(outcome, SyncFailed)
    assert outcome.error.reason == "internal error: ZeroDivisionError"
    assert outcome.error.hint == "please report this bug"
    assert "secret-looking" not in str(outcome.error)


async def test_cancellation_propagates(server: DemoServer, demo: Config) -> None:
    server.add_fault(Fault("slow", account="unleash-acme", seconds=3, times=1))
    started = asyncio.Event()
    events: list[SyncEvent] = []

    def on_event(event: SyncEvent) -> None:
        events.append(event)
        if event == SyncStarted("unleash-acme"):
            started.set()

    task = asyncio.create_task(sync_all(demo, ["unleash-acme"], on_event=on_event))
    await started.wait()
    await asyncio.sleep(0.2)  # let the request reach the (slow) server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(isinstance(e, SyncSucceeded | SyncFailed) for e in events)


def test_client_settings() -> None:
    client = make_client(Settings(timeout=7.5, concurrency=3))
    try:
        assert client.headers["User-Agent"] == USER_AGENT
        assert USER_AGENT.startswith("invoice-tui/")
        assert client.timeout.read == 7.5
        assert client.follow_redirects is False
    finally:
        asyncio.run(client.aclose())


async def test_bad_ssl_cert_file_is_a_clear_failure(
    demo: Config, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    outcome = await sync_account(demo.account("vox-main"), demo.settings)
    assert isinstance(outcome, SyncFailed)
    assert "SSL_CERT_FILE" in outcome.error.reason

"""The export command runs as a batch with the cyclic GC paused (gc_policy.paused)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from invoice_tui import cli, gc_policy
from invoice_tui.config import Config, save_config
from invoice_tui.demo import DemoServer
from invoice_tui.sync import SyncEvent


def test_paused_turns_the_collector_off_and_restores_what_it_found() -> None:
    assert gc.isenabled()
    with gc_policy.paused():
        assert not gc.isenabled()
        with gc_policy.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one found it off: it stays off
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), gc_policy.paused():
        1 / 0  # noqa: B018 - an error inside still restores the collector
    assert gc.isenabled()


def test_export_fetches_and_renders_with_the_collector_off_and_turns_it_back_on(
        server: DemoServer, demo: Config, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, list[bool]] = {"fetch": [], "render": []}
    real_sync_all, real_iter_encoded = cli.syncs.sync_all, cli.exports.iter_encoded

    async def sync_all(*args: object, **kwargs: object) -> object:
        def on_event(event: SyncEvent) -> None:
            seen["fetch"].append(gc.isenabled())
        return await real_sync_all(*args, on_event=on_event, **kwargs)  # type: ignore[arg-type]

    def iter_encoded(invoices: Iterable[object], *args: object) -> Iterator[bytes]:
        for chunk in real_iter_encoded(invoices, *args):  # type: ignore[arg-type]
            seen["render"].append(gc.isenabled())
            yield chunk

    monkeypatch.setattr(cli.syncs, "sync_all", sync_all)
    monkeypatch.setattr(cli.exports, "iter_encoded", iter_encoded)
    config = tmp_path / "config.toml"
    save_config(config, demo.to_data())
    output = tmp_path / "out.json"
    assert cli.main(["export", "--config", str(config), "--cache-dir", str(tmp_path / "cache"),
                     "--account", "vox-main", "--output", str(output)]) == 0
    assert seen["fetch"] and not any(seen["fetch"])
    assert seen["render"] and not any(seen["render"])
    assert gc.isenabled()
    assert output.read_bytes().startswith(b"[\n  {")

"""Shared test fixtures.

Every test runs with the user's real config and cache out of reach (env vars and
XDG dirs point into a temp dir) and with sockets limited to loopback, so no test
can touch the internet or the user's files.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile import HostileServer
from textual.widgets import Input

from invoice_tui.config import Config
from invoice_tui.demo import DemoServer, demo_config

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
    _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point config, cache and XDG dirs at a fresh temp dir; drop provider tokens from env."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("INVOICE_TUI_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("INVOICE_TUI_CACHE_DIR", str(home / "cache"))
    for name in ("UNLEASH_TOKEN", "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY",
                 "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    # No test reaches the user's OS keyring: tests that need one choose the JSON-file
    # backend of tests/keyring_backend.py.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    yield home


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "demo_server(**options): DemoServer options for the `server` fixture "
        "(today, invoice_count, count_cap, latency_ms); on a module (pytestmark) or a test, "
        "the test's options added to the module's")


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[DemoServer]:
    """The emulator on loopback, fresh for each test (it starts in ~20 ms).

    Its options come from ``@pytest.mark.demo_server(...)`` marks, e.g.
    ``pytestmark = pytest.mark.demo_server(count_cap=5)`` for a module and
    ``@pytest.mark.demo_server(invoice_count=300)`` on one test of it.
    """
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("demo_server"))):
        options.update(marker.kwargs)  # the closest (the test's own) last, so it wins
    with DemoServer(**options) as running:
        yield running


@pytest.fixture
def demo(server: DemoServer, tmp_path: Path) -> Config:
    """A config of every demo account on ``server`` (key files under ``tmp_path/keys``)."""
    return demo_config(server, tmp_path / "keys")


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    # A blinking cursor makes what an app test sees depend on when it looks: every Input
    # (the filter, the palette's) keeps its cursor drawn while focused instead.
    monkeypatch.setattr(Input, "_toggle_cursor", _cursor_stays_visible)


def _cursor_stays_visible(self: Input) -> None:
    self._cursor_visible = True


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A scriptable hostile HTTP server on loopback (see ``tests/hostile.py``)."""
    with HostileServer() as server:
        yield server

"""The built-in emulator of both provider APIs, over real HTTP on loopback (SPEC §5).

    from invoice_tui.demo import DemoServer, Fault, demo_config, demo_environment

    with DemoServer(latency_ms=0, invoice_count=None, count_cap=50) as server:
        server.url                      # "http://127.0.0.1:PORT"
        server.voximplant_base_url      # f"{url}/platform_api"
        server.unleash_base_url(name)   # f"{url}<path prefix of that demo instance>"
        server.add_fault(Fault("http_status", status=429, retry_after=1))
        config = demo_config(server, directory)   # credentials files + a Config

    with demo_environment() as env:     # server + config + cache dir, all temporary
        ...

Module map: ``data`` (deterministic accounts and invoices), ``server`` (the HTTP
emulator), ``faults`` (injected faults), ``keys`` (per-process demo RSA keys),
``wire`` (exact-decimal JSON, PDFs), ``environment`` (config, demo env, CLI runner).
"""

from __future__ import annotations

from .data import DEMO_ACCOUNTS, UNLICENSED_INSTANCE, UNTRUSTED_TEXT, DemoAccount, demo_account
from .environment import (
    DemoEnvironment,
    demo_config,
    demo_environment,
    run_demo_server,
    write_demo_config,
)
from .faults import FAULT_KINDS, Fault, parse_fault
from .server import DemoServer

__all__ = [
    "DEMO_ACCOUNTS", "FAULT_KINDS", "UNLICENSED_INSTANCE", "UNTRUSTED_TEXT", "DemoAccount",
    "DemoEnvironment", "DemoServer", "Fault", "demo_account", "demo_config", "demo_environment",
    "parse_fault", "run_demo_server", "write_demo_config",
]

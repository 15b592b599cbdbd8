"""The built-in emulator of both provider APIs, over real HTTP on loopback (SPEC §5).

CONTRACT (implemented by the emulator work; names are fixed — tests, CLI and UI code against them):

    from invoice_tui.demo import DemoServer, Fault, demo_config

    with DemoServer(latency_ms=0, invoice_count=None, count_cap=50) as server:
        server.url                      # "http://127.0.0.1:PORT"
        server.voximplant_base_url      # f"{url}/platform_api"
        server.unleash_base_url(name)   # f"{url}/<prefix of that demo instance>"
        server.add_fault(Fault(...))    # injected faults, see server.py
        config = demo_config(server, directory)   # writes demo credentials.json files into
                                                  # `directory` and returns a Config
                                                  # (path=None) with every demo account
"""

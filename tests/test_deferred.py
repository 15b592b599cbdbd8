"""invoice_tui.deferred: stand-ins that import the real module when first used.

Each test runs in a fresh interpreter (``sys.modules`` is the state under test), with
``DEFERRED`` pointed at stdlib modules this test suite's process never needs to import.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from invoice_tui import deferred


def _run(body: str, deferred_names: tuple[str, ...]) -> dict[str, object]:
    script = textwrap.dedent(f"""
        import json, sys, threading, time
        from invoice_tui import deferred
        deferred.DEFERRED = {deferred_names!r}
        deferred.install()
        result = {{}}
    """) + textwrap.dedent(body) + "\nprint(json.dumps(result))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_an_import_binds_a_stand_in_and_the_first_use_imports_the_module() -> None:
    result = _run("""
        import wave
        import wave as again  # a second import is the same stand-in, still not run
        result["stand_in"] = type(wave).__name__
        result["same"] = again is wave
        result["pending"] = deferred.pending()
        result["nchannels"] = wave.Wave_read.getnchannels.__name__  # the first use
        result["after"] = deferred.pending()
        result["real"] = type(sys.modules["wave"]).__name__
        result["still_answers"] = wave.Error.__module__  # the old reference keeps working
    """, ("wave",))
    assert result == {"stand_in": "_StandIn", "same": True, "pending": ["wave"],
                      "nchannels": "getnchannels", "after": [], "real": "module",
                      "still_answers": "wave"}


def test_a_deferred_submodule_and_a_from_import_of_its_package() -> None:
    result = _run("""
        from xml.dom import minidom  # binds the stand-in: the package attribute is it
        result["pending"] = deferred.pending()
        result["parsed"] = minidom.parseString("<a>b</a>").documentElement.tagName
        result["after"] = deferred.pending()
        import xml.dom
        result["parent_has_real"] = type(xml.dom.minidom).__name__
    """, ("xml.dom.minidom",))
    assert result == {"pending": ["xml.dom.minidom"], "parsed": "a", "after": [],
                      "parent_has_real": "module"}


def test_importing_a_submodule_of_a_deferred_package_loads_the_package() -> None:
    result = _run("""
        import email
        result["pending"] = deferred.pending()
        import email.mime.text  # needs the real package's __path__
        result["after"] = deferred.pending()
        result["text"] = email.mime.text.MIMEText("x").get_content_type()
    """, ("email",))
    assert result == {"pending": ["email"], "after": [], "text": "text/plain"}


def test_a_missing_module_fails_at_its_import_as_usual() -> None:
    result = _run("""
        try:
            import no_such_module_here
        except ImportError as error:
            result["error"] = type(error).__name__
    """, ("no_such_module_here",))
    assert result == {"error": "ModuleNotFoundError"}


def test_threads_using_a_stand_in_while_it_loads_wait_for_the_whole_module(
        tmp_path: Path) -> None:
    # The module takes a while to run: threads that use it meanwhile must not see it half
    # done (a first sync of each account builds its client in a thread, at once).
    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(0.3)\nVALUE = 42\n")
    result = _run(f"""
        sys.path.insert(0, {str(tmp_path)!r})
        import slow_to_import
        got, errors = [], []

        def use():
            try:
                got.append(slow_to_import.VALUE)
            except Exception as error:
                errors.append(repr(error))

        threads = [threading.Thread(target=use) for _ in range(8)]
        for thread in threads:
            thread.start()
            time.sleep(0.02)  # the others arrive while the first one imports it
        for thread in threads:
            thread.join()
        result["got"], result["errors"] = got, errors
    """, ("slow_to_import",))
    assert result == {"got": [42] * 8, "errors": []}


def test_load_all_imports_every_stand_in_and_leaves_the_rest_alone() -> None:
    result = _run("""
        import wave
        deferred.load_all()
        result["pending"] = deferred.pending()
        result["real"] = type(sys.modules["wave"]).__name__
        result["never_imported"] = "sndhdr" in sys.modules
    """, ("wave", "sndhdr"))
    assert result == {"pending": [], "real": "module", "never_imported": False}


def test_without_install_nothing_is_deferred() -> None:
    # Library use and the test suite import the real modules.
    assert deferred.pending() == []
    assert not any(isinstance(module, deferred._StandIn) for module in sys.modules.values())


@pytest.mark.parametrize("name", deferred.DEFERRED)
def test_every_deferred_module_exists(name: str) -> None:
    assert importlib.import_module(name).__name__ == name  # a typo would defer nothing

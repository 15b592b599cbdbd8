"""The house rules of STYLE.md, checked by walking the package's imports."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import invoice_tui
from invoice_tui.deferred import DEFERRED
from invoice_tui.demo.environment import write_demo_config
from invoice_tui.demo.server import DemoServer

PACKAGE = Path(invoice_tui.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (functions, ``TYPE_CHECKING`` blocks);
    relative imports resolved, and ``from pkg import mod`` counted as ``pkg.mod`` too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _non_ui_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "ui" not in p.relative_to(PACKAGE).parts[:1]]


def test_walk_sees_the_package() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in _non_ui_modules()}
    assert {"model.py", "providers/base.py", "config.py", "sync.py"} <= names
    assert not any(n.startswith("ui/") for n in names)


def test_nothing_outside_ui_imports_textual() -> None:
    offenders = {
        p.relative_to(PACKAGE).as_posix(): sorted(m for m in _imports(p)
                                                  if m == "textual" or m.startswith("textual."))
        for p in _non_ui_modules()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_providers_do_not_import_each_other_or_the_ui() -> None:
    providers = PACKAGE / "providers"
    modules = [p for p in providers.glob("*.py") if p.stem != "base" and not p.stem.startswith("_")]
    assert modules, "no provider modules found"
    for path in modules:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module:
                top = node.module.split(".")[0]
                siblings = {m.stem for m in modules} - {path.stem}
                assert top not in siblings, f"{path.name} imports provider {top}"
                assert top != "ui", f"{path.name} imports the UI"


def test_every_provider_module_registers() -> None:
    from invoice_tui.providers import provider_names

    assert {"voximplant", "unleash"} <= set(provider_names())


def test_no_screen_or_widget_imports_the_app() -> None:
    # Screens get what they need through their constructors and hand results back
    # (dismiss + a callback): the app knows its screens, never the other way round.
    ui = PACKAGE / "ui"
    modules = [p for p in ui.rglob("*.py") if p != ui / "app.py"]
    assert ui / "screens" / "main.py" in modules and ui / "widgets" / "provider_pane.py" in modules
    offenders = {p.relative_to(PACKAGE).as_posix() for p in modules
                 if "invoice_tui.ui.app" in _imports(p)}
    assert offenders == set()


def test_the_ui_imports_at_the_top() -> None:
    # A function-local import is how an import cycle hides; the one exception is the
    # emulator, which only the demo needs and which would slow every start.
    lazy: dict[str, list[str]] = {}
    for path in (PACKAGE / "ui").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = lazy.setdefault(path.relative_to(PACKAGE).as_posix(), [])
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.module != "invoice_tui.demo":
                    found.append(node.module or "")
                elif isinstance(node, ast.Import):
                    found.extend(alias.name for alias in node.names)
    assert {name: modules for name, modules in lazy.items() if modules} == {}


# --- the one deferral mechanism (invoice_tui/deferred.py) -----------------------------------


def test_deferred_modules_are_imported_whole() -> None:
    # ``from httpx import X`` reads X at the import, which loads the real module before the
    # first frame: a deferred module is imported as a module (``import httpx``, or
    # ``from package import deferred_submodule``) and read when used.
    # The package's own deferred modules (its screens) count too, imported relatively or not;
    # a deferred module itself may take names from another: it runs only once it is used.
    deferred = DEFERRED
    offenders: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if _module_name(path) in deferred:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = _module_name(path).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or node.level):
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                if any(module == name or module.startswith(f"{name}.") for name in deferred):
                    offenders.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(
                        module)
            elif isinstance(node, ast.Import):
                # ``import httpx._models`` would load httpx (its package) too.
                offenders.setdefault(path.relative_to(PACKAGE).as_posix(), []).extend(
                    alias.name for alias in node.names
                    if any(alias.name.startswith(f"{name}.") for name in deferred))
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_entry_point_defers_before_importing_the_package() -> None:
    # The program (python -m invoice_tui, the invoice-tui script) installs the deferral and
    # only then imports the command line, which imports everything else.
    tree = ast.parse((PACKAGE / "__main__.py").read_text(encoding="utf-8"))
    top_level = {alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
                 for alias in node.names if node.module == "invoice_tui"}
    assert top_level <= {"deferred"}
    main = next(node for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name == "main")
    install = [node.lineno for node in ast.walk(main)
               if isinstance(node, ast.Call) and ast.unparse(node) == "deferred.install()"]
    imports = [node.lineno for node in ast.walk(main)
               if isinstance(node, ast.ImportFrom) and node.module == "invoice_tui.cli"]
    assert len(install) == 1 and imports and install[0] < min(imports)
    scripts = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["invoice-tui"] == "invoice_tui.__main__:main"


_FIRST_FRAME = '''
# Not json: deferred too, it is imported (as a stand-in) after install(), as in the program.
import asyncio, sys, time
from pathlib import Path

from invoice_tui import deferred

deferred.install()  # as the program's entry point does, then what it imports
import invoice_tui.cli  # noqa: E402,F401
from invoice_tui.config import load_config  # noqa: E402
from invoice_tui.store import open_store  # noqa: E402
from invoice_tui.ui.app import InvoiceApp  # noqa: E402
from invoice_tui.ui.screens.main import MainScreen  # noqa: E402

seen = {}
mount = MainScreen.on_mount


def loaded():
    """The deferred modules imported for real (one a stand-in imports, like certifi for
    the deferred sync module, is not imported at all until then)."""
    pending = deferred.pending()
    return sorted(n for n in deferred.DEFERRED if n in sys.modules and n not in pending)


def on_mount(self):
    mount(self)
    seen["before"] = loaded()
    self.call_after_refresh(lambda: seen.setdefault("first_frame", loaded()))


MainScreen.on_mount = on_mount


async def main():
    config = load_config(Path(sys.argv[1]))
    with open_store(Path(sys.argv[2])).store as store:
        app = InvoiceApp(config, store)
        async with app.run_test(size=(120, 35)) as pilot:
            screen = app.screen
            deadline = time.monotonic() + 60
            while screen.sync_state.syncing_count or screen.sync_state.last_synced is None:
                assert time.monotonic() < deadline, "the sync never ended"
                await pilot.pause(0.05)
            phases = {s.name: s.phase for s in screen.sync_state.accounts.values()}
            import json  # here: see the top

            print(json.dumps({**seen, "after_sync": deferred.pending(), "phases": phases,
                              "rows": len(screen.table.view.rows)}))
            app.exit()

asyncio.run(main())
'''


def test_the_first_frame_imports_none_of_the_deferred_modules(
        server: DemoServer, tmp_path: Path) -> None:
    # In a fresh interpreter, as the program starts: the deferred modules are stand-ins
    # (or not imported at all) until the main screen's first frame is drawn, and the first
    # sync (real HTTP to the emulator, JWT-signed for Voximplant) loads them and works
    # through them.
    config = tmp_path / "config.toml"
    write_demo_config(server, config)
    done = subprocess.run([sys.executable, "-c", _FIRST_FRAME, str(config), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == seen["first_frame"] == []
    assert seen["after_sync"] == []
    assert "synced" in seen["phases"].values() and seen["rows"] > 0


def test_the_entry_point_collects_again_after_the_imports() -> None:
    # The garbage collector is off while the app is imported (nothing to free, ~35 ms of
    # scanning) and on again, with the imported objects frozen, before the command runs.
    script = ("import gc, sys; sys.argv = ['invoice-tui', '--version']\n"
              "from invoice_tui.__main__ import main\n"
              "assert main() == 0\n"
              "print(gc.isenabled(), gc.get_freeze_count() > 10_000)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["True", "True"]

"""The house rules of STYLE.md, checked by walking the package's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import invoice_tui

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

"""The house rules of STYLE.md, checked by walking the package's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import invoice_tui

PACKAGE = Path(invoice_tui.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
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

"""``[keymap]``: binding ids checked against the app's own BINDINGS, keys against Textual's.

The config loader keeps ``[keymap]`` as written (strings); only the UI knows which
bindings exist, so the ids are checked here, before the app starts, and an unknown
id or key is a config error like any other (with "did you mean").

A keymap entry names a binding by its **full id** (``"invoice_table.open"``, as the
``?`` help shows it) or by its **short name**, the part after the last dot
(``open``), when exactly one binding has that short name. A short name several
bindings share (``select``, ``back`` …) is an error that lists their full ids.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import Keys, _character_to_key, _normalize_key_list

from invoice_tui.config import Config, did_you_mean, problems_error

#: What Textual puts before a key in a key event, in its (alphabetical) order: a key
#: event is "ctrl+shift+up", never "shift+ctrl+up", so only that spelling ever matches.
MODIFIERS = ("alt", "ctrl", "hyper", "meta", "shift", "super")
HINT = "press ? in invoice-tui for every binding id and its keys"


def app_bindings() -> dict[str, Binding]:
    """Every binding with an id, by id, of every screen and widget class of invoice-tui.

    Found by walking the subclasses of Textual's ``DOMNode`` defined in this package, so
    a binding added anywhere is known at once (no list to keep). ``ui/app.py`` imports
    every screen and widget module, so by the time it runs they are all defined.
    """
    found: dict[str, Binding] = {}
    for cls in _our_node_classes(DOMNode):
        for binding in Binding.make_bindings(cls.__dict__.get("BINDINGS", ())):
            if binding.id is not None:
                found.setdefault(binding.id, binding)
    return found


def keymap_losses(keymap: Mapping[str, str]) -> list[str]:
    """One line per binding that ``keymap`` (full ids → keys) leaves without a key it had.

    Textual applies a keymap per screen or widget: a key given to a binding is taken
    from any other binding of that screen or widget, and so is every key the rebound
    binding had (two bindings sharing ``escape`` both lose it when one is rebound).
    Not an error — taking a key may be the point — but never silent.
    """
    lost: dict[tuple[str, str], str] = {}  # (binding id, key) → the rebound id
    for cls in _our_node_classes(DOMNode):
        bindings = [b for b in _class_bindings(cls) if b.id is not None]
        for taker in {str(b.id) for b in bindings if b.id in keymap}:
            old = {b.key for b in bindings if b.id == taker}
            taken = old | set(keymap[taker].split(","))
            for binding in bindings:
                if binding.id not in keymap and binding.key in taken:
                    lost.setdefault((str(binding.id), binding.key), taker)
    return [f"[keymap] rebinds {taker}: {binding_id} loses its key {key} on that screen — "
            f"give {binding_id} its keys in [keymap] too"
            for (binding_id, key), taker in sorted(lost.items())]


def _class_bindings(cls: type[DOMNode]) -> list[Binding]:
    """The bindings of ``cls`` and the classes it inherits them from, keys normalized."""
    found: list[Binding] = []
    for base in cls.__mro__:
        found += Binding.make_bindings(base.__dict__.get("BINDINGS", ()))
    return found


def _our_node_classes(base: type[DOMNode]) -> Iterator[type[DOMNode]]:
    for cls in base.__subclasses__():
        if cls.__module__.startswith("invoice_tui."):
            yield cls
        yield from _our_node_classes(cls)


def config_keymap(config: Config | None) -> Mapping[str, str]:
    """The keymap ``config`` asks for, as Textual's ``App.set_keymap`` takes it (full ids,
    normalized keys); ``ConfigError`` naming each unknown id or key."""
    if config is None or not config.keymap:
        return MappingProxyType({})
    return resolve_keymap(config.keymap, str(config.path or "config"))


def resolve_keymap(raw: Mapping[str, str], where: str) -> Mapping[str, str]:
    """``raw`` (``[keymap]`` as written) with every name made a full id and every key list
    normalized; ``ConfigError`` listing every problem."""
    bindings = app_bindings()
    owners: dict[str, list[str]] = {}
    for full_id in bindings:
        owners.setdefault(full_id.rpartition(".")[2], []).append(full_id)
    problems: list[str] = []
    keymap: dict[str, str] = {}
    for name, keys in raw.items():
        binding_id, problem = _binding_id(name, bindings, owners)
        if binding_id is not None and binding_id in keymap:
            binding_id, problem = None, (f"{name!r} names {binding_id}, which an earlier "
                                         "entry rebinds — keep one")
        key_problems = [f"{name} = {keys!r}: {p}" for p in _keys_problems(keys)]
        if problem is not None:
            problems.append(f"{where}: [keymap]: {problem}")
        problems += [f"{where}: [keymap]: {p}" for p in key_problems]
        if binding_id is not None and not key_problems:
            keymap[binding_id] = _normalize_key_list(keys)
    if problems:
        raise problems_error(where, problems)
    return MappingProxyType(keymap)


def _binding_id(name: str, bindings: Mapping[str, Binding],
                owners: Mapping[str, list[str]]) -> tuple[str | None, str | None]:
    """(the full id ``name`` means, the problem with it)."""
    if name in bindings:
        return name, None
    named = owners.get(name, []) if "." not in name else []
    if len(named) == 1:
        return named[0], None
    if named:
        return None, (f"{name!r} names {len(named)} bindings — write one full id: "
                      f"{', '.join(sorted(named))}")
    unique = [short for short, ids in owners.items() if len(ids) == 1]
    return None, (f"unknown binding id {name!r}{did_you_mean(name, [*bindings, *unique])}"
                  f" — {HINT}")


def _keys_problems(keys: str) -> list[str]:
    """One line per key of the comma list ``keys`` that Textual would never send."""
    problems: list[str] = []
    for key in keys.split(","):
        key = key.strip()
        if not key:
            problems.append("an empty key (a comma too many?) — e.g. \"l,enter\"")
            continue
        fixed = _fixed_key(key)
        if fixed != key:
            hint = f" (did you mean {fixed!r}?)" if fixed else ""
            problems.append(f"unknown key {key!r}{hint} — use names like l, enter, "
                            "ctrl+x, f5, question_mark (a comma: comma)")
    return problems


def _fixed_key(key: str) -> str | None:
    """``key`` itself if Textual knows it, else the closest key it knows (``None``: none)."""
    if len(key) == 1:
        return key  # a printable character: Textual names it (? → question_mark)
    *modifiers, base = key.split("+")
    fixed = [m if m in MODIFIERS else _closest(m.lower(), MODIFIERS) for m in modifiers]
    if None not in fixed:
        fixed.sort(key=lambda m: MODIFIERS.index(m or ""))
    fixed.append(base if len(base) == 1 or base in key_names()
                 else _closest(base.lower(), key_names()))
    if any(part is None for part in fixed):
        return None
    return "+".join(part for part in fixed if part is not None)


@functools.cache
def key_names() -> frozenset[str]:
    """Key names of more than one character Textual sends (after any modifiers): its Keys,
    the names it gives printable characters (? → question_mark), f1-f24. Made on first
    use (~3 ms): a start without a [keymap] never needs them."""
    return frozenset(
        {key.value.rpartition("+")[2] for key in Keys if not key.value.startswith("<")}
        | {_character_to_key(chr(code)) for code in range(33, 127)}
        | {f"f{number}" for number in range(1, 25)}
        | {"enter", "tab", "space", "escape", "backspace", "delete", "insert", "newline"}
    )


def _closest(word: str, choices: Iterable[str]) -> str | None:
    """``word`` if it is one of ``choices`` (``CTRL`` → ``ctrl``), else the closest one."""
    choices = sorted(choices)
    if word in choices:
        return word
    close = difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None

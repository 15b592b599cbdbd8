"""The user's editor for config.toml: ``$VISUAL``, else ``$EDITOR``, else ``vi``."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

FALLBACK_EDITOR = "vi"


def editor_command(path: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    """The command that opens ``path`` in the user's editor, as an argument list.

    ``$VISUAL`` wins over ``$EDITOR`` (as for git and crontab); each may hold
    arguments (``"code --wait"``), split as a shell would, never run through a
    shell. ``ValueError`` (one line, naming the variable) when the value cannot
    be split, e.g. an unclosed quote.
    """
    env = os.environ if environ is None else environ
    for variable in ("VISUAL", "EDITOR"):
        value = env.get(variable, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError as error:
                raise ValueError(f"${variable} cannot be read as a command ({error})"
                                 f" — fix ${variable}, e.g. export {variable}=vi") from None
            if words:
                return [*words, str(path)]
    return [FALLBACK_EDITOR, str(path)]

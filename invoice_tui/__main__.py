"""The program: ``python -m invoice_tui`` and the ``invoice-tui`` command.

Modules the first frame does not need are deferred (:mod:`invoice_tui.deferred`) before
the command line, and with it the rest of the package, is imported.
"""

from __future__ import annotations

import gc
import sys

from invoice_tui import deferred


def main() -> int:
    """Run the command line with the deferred imports in place; the exit code."""
    deferred.install()
    # Importing the app allocates enough for ~80 young collections (~35 ms of CPU before
    # the first frame), which find next to nothing to free: modules and classes live as
    # long as the program. So none run during the imports, and what they made is frozen
    # (never scanned again, by any later collection either).
    gc.disable()
    try:
        # Imported here, after install(): its imports are what install() defers.
        from invoice_tui.cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())

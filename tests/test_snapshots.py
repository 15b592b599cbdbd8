"""SVG snapshots of the screens (pytest-textual-snapshot), from the demo emulator.

The scenarios are the ones scripts/screenshots.py renders for the README, so the
pictures shown there are the pictures tested here. Deterministic: fixed demo
``today``, frozen clock, fixed size, workers awaited, no cursor blink.
Update with ``pytest tests/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from typing import Any

import pytest
from ui_helpers import SIZE, TODAY, screenshots

from invoice_tui.demo import demo_environment


@pytest.mark.parametrize("scenario", screenshots.SCENARIOS, ids=lambda s: s.name)
def test_screen(snap_compare: Any, scenario: Any) -> None:
    with demo_environment(today=TODAY, faults=scenario.faults) as env:
        assert snap_compare(screenshots.demo_app(env), terminal_size=scenario.size,
                            run_before=scenario.run_before)


def test_welcome_screen(snap_compare: Any) -> None:
    assert snap_compare(screenshots.welcome_app(), terminal_size=SIZE)

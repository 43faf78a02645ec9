"""One exception for everything wrong with a chart, carrying a specific code and facts."""

from __future__ import annotations

from typing import Any


class ChartError(Exception):
    """A chart (or index) was refused. ``code`` is stable and machine-readable."""

    def __init__(self, code: str, detail: str, **facts: Any) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.facts = facts

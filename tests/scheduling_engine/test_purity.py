"""The engine is a pure core: standard library only (the simulator may also read YAML), and no
clock reads — time is always a parameter (STYLE §2)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ENGINE = Path(__file__).parents[2] / "scheduling" / "engine"


def test_engine_imports_only_the_standard_library():
    for path in sorted(ENGINE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                allowed = top in sys.stdlib_module_names or (path.name == "simulate.py" and top == "yaml")
                assert allowed, f"{path.name} imports {name}"


def test_engine_never_reads_the_clock_or_randomness():
    for path in sorted(ENGINE.glob("*.py")):
        text = path.read_text()
        for banned in ("time.time(", "datetime.now(", "perf_counter(", "import random", "monotonic("):
            assert banned not in text, f"{path.name} uses {banned}"

"""Every scenario file of the specification, replayed through the simulator contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scheduling.engine.simulate import run

from .scenario_check import check

HERE = Path(__file__).parent / "scenarios"
FILES = sorted(HERE.glob("*.yaml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario_through_simulator(path):
    doc = load(path)
    if doc.get("xfail"):
        pytest.xfail(doc["xfail"])
    check(run(doc), doc["expect"])


def test_simulator_command_line_prints_the_contract_json():
    path = HERE / "t02_seed_reclaim.yaml"
    proc = subprocess.run([sys.executable, "-m", "scheduling.engine.simulate", str(path), "--explain"],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    out = json.loads(proc.stdout)
    assert set(out) == {"decisions", "final"}
    assert set(out["final"]) == {"requests", "usage", "evictions"}
    assert all(d["message"] for d in out["decisions"])
    check(out, load(path)["expect"])

"""An engine SHRINK decision (elastic shrink, P4) reaching the portal: recorded, not enacted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scheduling.cycle import _record
from scheduling.engine import decide, submit, switch_config
from scheduling.engine.simulate import build_config, build_request, expand, initial_state
from scheduling.models import EngineSnapshot, SchedulingDecision

pytestmark = pytest.mark.django_db
T31 = Path(__file__).parents[1] / "scheduling_engine" / "scenarios" / "t31_elastic_shrink.yaml"


def test_a_shrink_is_recorded_and_says_the_pods_were_not_resized(cluster):
    doc = yaml.safe_load(T31.read_text())
    config, _ = switch_config(None, build_config(doc, 1, 0), 0)
    state = initial_state(config, [])
    for ev in doc["events"]:
        state = submit(state, [build_request(d, ev["t"]) for d in expand(ev["submit"])])
        plan = decide(config, state, ev["t"])
        state = plan.state
    assert [d.action for d in plan.decisions].count("SHRINK") == 4

    _record(cluster, EngineSnapshot.objects.create(cluster=cluster), config, plan.state, plan.decisions, {}, 10,
            state_hash=plan.state_hash)

    first = SchedulingDecision.objects.get(action="SHRINK", preemptor="a5")
    assert first.request == "g" and first.reason == "EVICT_RECLAIM_OWNED"
    assert first.facts["to"] == {"u": 11}
    assert first.message.startswith("Shrinking g from {'u': 12} to {'u': 11}")
    assert first.message.endswith("Recorded only: the portal does not resize running pods, so they keep their size.")
    assert SchedulingDecision.objects.filter(action="ADMIT", request="a8").exists()

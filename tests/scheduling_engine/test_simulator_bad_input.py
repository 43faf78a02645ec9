"""The simulator refuses a malformed scenario file: ``FILE:LINE: where: what`` on stderr, exit 2
(as its usage error), nothing on stdout. What a config version is judged on stays the engine's:
an invalid version still plays out as REJECT_INVALID_CONFIG (T29)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scheduling.engine.simulate import main

BASE = """\
resources: [u]
capacity: {u: 16}
tree:
  - {id: root}
  - {id: T1, parent: root, owned: {u: 8}}
  - {id: T2, parent: root, owned: {u: 8}, borrow_limit: {u: 4}}
running:
  - {id: r1, leaf: T1, demand: {u: 1}, count: 2, admitted_at: -5}
events:
  - t: 0
    submit:
      - {id: a1, leaf: T1, demand: {u: 1}}
      - {id: b1, leaf: T2, demand: {u: 1}, count: 3}
  - {t: 5, finish: [a1]}
until: 6
"""
A1 = "{id: a1, leaf: T1, demand: {u: 1}}"
T1 = "{id: T1, parent: root, owned: {u: 8}}"
FINISH = "{t: 5, finish: [a1]}"
NODE_HAS = "(a node has: borrow_limit, borrow_preempt, fairshare_delay, fence, id, lend_limit, lendout_grace, max, "

CASES = [
    # (case, text replaced, by, line, the error after "FILE:LINE: ")
    ("unknown node field, once dropped", T1, "{id: T1, parent: root, ownd: {u: 8}}", 5,
     f"tree[1].ownd: unknown field 'ownd' {NODE_HAS}"),
    ("unknown leaf, once REJECT_NEVER_FITS", A1, "{id: a1, leaf: T3, demand: {u: 1}}", 12,
     "events[0].submit[0].leaf: 'T3' is not a node of the tree (leaves: T1, T2)"),
    ("an inner node as the leaf", A1, "{id: a1, leaf: root, demand: {u: 1}}", 12,
     "events[0].submit[0].leaf: 'root' is not a leaf: it has children (leaves: T1, T2)"),
    ("running on an unknown leaf, once a KeyError", "leaf: T1, demand: {u: 1}, count: 2",
     "leaf: T9, demand: {u: 1}, count: 2", 8, "running[0].leaf: 'T9' is not a node of the tree"),
    ("misspelt request field", A1, "{id: a1, leaf: T1, demnad: {u: 1}}", 12,
     "events[0].submit[0].demnad: unknown field 'demnad' (a request has: count, created_at, demand,"),
    ("request without demand", A1, "{id: a1, leaf: T1}", 12,
     "events[0].submit[0]: a request needs the field 'demand'"),
    ("unknown top-level field", "until: 6", "untill: 6", 15, "untill: unknown field 'untill' (a scenario has:"),
    ("unknown event kind", FINISH, "{t: 5, finsh: [a1]}", 14, "events[1].finsh: unknown field 'finsh' (an event has:"),
    ("event without a time", FINISH, "{finish: [a1]}", 14, "events[1]: an event needs the field 't'"),
    ("time not whole", FINISH, "{t: 5.5, finish: [a1]}", 14, "events[1].t: expected a whole number, not 5.5"),
    ("quantity as a string", A1, "{id: a1, leaf: T1, demand: {u: '1'}}", 12,
     "events[0].submit[0].demand.u: expected a whole number ≥ 0, not '1'"),
    ("negative demand", A1, "{id: a1, leaf: T1, demand: {u: -1}}", 12,
     "events[0].submit[0].demand.u: expected a whole number ≥ 0, not -1"),
    ("demand not a mapping", A1, "{id: a1, leaf: T1, demand: 1}", 12,
     "events[0].submit[0].demand: expected a mapping of resource to quantity, not 1"),
    ("count zero", "count: 3", "count: 0", 13, "events[0].submit[1].count: expected a whole number ≥ 1, not 0"),
    ("count on an id without a number", "{id: b1,", "{id: bx,", 13,
     "events[0].submit[1].id: with count, the id must end in a number: 'bx'"),
    ("preemptible not a boolean", A1, "{id: a1, leaf: T1, demand: {u: 1}, preemptible: 'no'}", 12,
     "events[0].submit[0].preemptible: expected true or false, not 'no'"),
    ("finish of an id never submitted", FINISH, "{t: 5, finish: [a9]}", 14,
     "events[1].finish[0]: 'a9' names no request of the scenario"),
    ("release list not a list", FINISH, "{t: 5, release: b3}", 14,
     "events[1].release: expected a list of names, not 'b3'"),
    ("a running id twice", "admitted_at: -5}", "admitted_at: -5}\n  - {id: r2, leaf: T2, demand: {u: 1}}", 9,
     "running[1].id: 'r2' runs twice (also running[0])"),
    ("an id submitted while still known, once a ValueError", FINISH, "{t: 3, submit: [" + A1 + "]}", 14,
     "events[1].submit: 'a1' is submitted at t=3 while a request of that id is still known"),
    ("capacity of an unknown resource, once ignored", FINISH, "{t: 5, capacity: {gpu: 4}}", 14,
     "events[1].capacity.gpu: 'gpu' is not a resource of the scenario (resources: u)"),
    ("pass_interval zero, once a range() error", "until: 6", "until: 6\npass_interval: 0", 16,
     "pass_interval: expected a whole number ≥ 1, not 0"),
    ("unknown setting, once a TypeError", "until: 6", "until: 6\nsettings: {fair_share_preemtion: true}", 16,
     "settings.fair_share_preemtion: unknown field 'fair_share_preemtion' (settings has:"),
    ("setting of the wrong type", "until: 6", "until: 6\nsettings: {fair_share_preemption: 'yes'}", 16,
     "settings.fair_share_preemption: expected true or false, not 'yes'"),
    ("weight not a ratio", T1, "{id: T1, parent: root, owned: {u: 8}, weight: abc}", 5,
     "tree[1].weight: expected a number or a ratio such as 3/2, not 'abc'"),
    ("unknown borrow_preempt field", T1, "{id: T1, parent: root, owned: {u: 8}, borrow_preempt: {polcy: Never}}", 5,
     "tree[1].borrow_preempt.polcy: unknown field 'polcy' (borrow_preempt has: max_priority_threshold, policy)"),
    ("node without an id", T1, "{parent: root, owned: {u: 8}}", 5, "tree[1]: a node needs the field 'id'"),
    ("node id not a name", T1, "{id: 7, parent: root, owned: {u: 8}}", 5, "tree[1].id: expected a name, not 7"),
    ("owned not a mapping", T1, "{id: T1, parent: root, owned: 8}", 5,
     "tree[1].owned: expected a mapping of resource to quantity, not 8"),
    ("unknown field in a config event", FINISH, "{t: 5, config: {tre: []}}", 14,
     "events[1].config.tre: unknown field 'tre' (a config has:"),
    ("a key twice, once the last one kept", T1, "{id: T1, parent: root, owned: {u: 8}, owned: {u: 4}}", 5,
     "the key 'owned' appears twice in one mapping"),
    ("not YAML", T1, "{id: T1, parent: root, owned: {u: 8}", 6, "not valid YAML: expected ',' or '}'"),
]


def simulate(tmp_path: Path, text: str, capsys, name: str = "scenario.yaml") -> tuple[int, str, str, str]:
    path = tmp_path / name
    path.write_text(text)
    code = main([str(path)])
    out, err = capsys.readouterr()
    return code, out, err, str(path)


@pytest.mark.parametrize(("case", "old", "new", "line", "error"), CASES, ids=[c[0] for c in CASES])
def test_a_malformed_scenario_is_refused_naming_the_line_and_the_field(tmp_path, capsys, case, old, new, line, error):
    assert old in BASE
    code, out, err, path = simulate(tmp_path, BASE.replace(old, new, 1), capsys)
    assert (code, out) == (2, ""), err
    assert err.startswith(f"{path}:{line}: {error}"), err


@pytest.mark.parametrize(("case", "text", "error"), [
    ("empty", "", ": the file is empty"),
    ("not a mapping", "- {id: root}\n", ": expected a scenario, not [{'id': 'root'}]"),
    ("no tree", "resources: [u]\n", ": a scenario needs the field 'tree'"),
])
def test_a_file_that_is_no_scenario_is_refused(tmp_path, capsys, case, text, error):
    code, out, err, path = simulate(tmp_path, text, capsys)
    assert (code, out) == (2, "") and err.startswith(path + error), err


def test_json_is_checked_alike(tmp_path, capsys):
    doc = {"resources": ["u"], "capacity": {"u": 4}, "tree": [{"id": "root"}, {"id": "T1", "parent": "root"}]}
    good = json.dumps(doc, indent=1)
    assert simulate(tmp_path, good, capsys, "s.json")[0] == 0
    code, out, err, path = simulate(tmp_path, good.replace('"parent"', '"parnet"'), capsys, "s.json")
    assert (code, out) == (2, "") and err.startswith(f"{path}:14: tree[1].parnet: unknown field 'parnet'"), err
    code, _, err, path = simulate(tmp_path, good.replace('"root"\n  }', '"root"\n  ,}'), capsys, "s.json")
    assert code == 2 and err.startswith(f"{path}:11: not valid JSON: Expecting property name"), err
    code, _, err, _ = simulate(tmp_path, '{"tree": [], "tree": [{"id": "root"}]}', capsys, "s.json")
    assert code == 2 and "the key 'tree' appears twice in one object" in err


def test_a_missing_file_is_refused(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere.yaml")]) == 2
    assert "nowhere.yaml: cannot read the file: No such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize(("case", "old", "new", "decision"), [
    ("owned negative (V3)", T1, "{id: T1, parent: root, owned: {u: -8}}", "REJECT_INVALID_CONFIG"),
    ("unknown parent (V1)", T1, "{id: T1, parent: nobody, owned: {u: 8}}", "REJECT_INVALID_CONFIG"),
    ("unknown queueing (V4)", T1, "{id: T1, parent: root, owned: {u: 8}, queueing: Random}", "REJECT_INVALID_CONFIG"),
    ("unknown resource in a demand", A1, "{id: a1, leaf: T1, demand: {gpu: 1}}", "REJECT_UNKNOWN_RESOURCE"),
    ("demand beyond what the leaf could get (V5)", A1, "{id: a1, leaf: T1, demand: {u: 99}}", "REJECT_NEVER_FITS"),
])
def test_what_the_engine_judges_still_runs(tmp_path, capsys, case, old, new, decision):
    code, out, err, _ = simulate(tmp_path, BASE.replace(old, new, 1), capsys)
    assert code == 0, err
    assert decision in {d["reason"] for d in json.loads(out)["decisions"]}


def test_the_command_exits_2_and_prints_nothing_on_stdout(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(BASE.replace(T1, "{id: T1, parent: root, ownd: {u: 8}}"))
    proc = subprocess.run([sys.executable, "-m", "scheduling.engine.simulate", str(path)], capture_output=True,
                          text=True, cwd=Path(__file__).parents[2])
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"{path}:5: tree[1].ownd: unknown field 'ownd' {NODE_HAS}min_runtime_fairshare, owned, " \
                          "parent, queueing, quota_preemption_delay, reclaim_delay, reclaim_policy, share_tier, " \
                          "weight, within_policy)\n"

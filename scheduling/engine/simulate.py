"""Scenario simulator: ``python -m scheduling.engine.simulate FILE [--explain]``.

Replays a scenario (YAML or JSON, format in docs: scheduling-scenarios.md) on a virtual clock:
a pass runs at every event time and every ``pass_interval``; all events of one instant are
applied before that instant's pass, so their order in the file does not matter (T28).  Victims
without an explicit ``release`` event are released at their deadline (the simulator plays
Kubernetes).  Output is JSON on stdout; an elastic shrink (P4) reads
``{"t", "request", "action": "SHRINK", "reason": <victim rule>, "preemptor", "to": {new demand}}``.
Beyond that format: ``{t, clear_gates: [ids]}`` passes the external admission checks of those
requests (A4c), and a node may set ``quota_preemption_delay`` (D2).
Imports: standard library, plus PyYAML for YAML files.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from fractions import Fraction
from typing import Any

from .accounting import Ledger
from .engine import clear_gates, decide, finish, release, set_capacity, submit, switch_config
from .model import Allocation, BorrowPreempt, Config, Node, Request, Settings, State, Status, id_key
from .tree import compile_tree

_TAIL = re.compile(r"^(.*?)(\d+)$")

NODE_FIELDS = {"owned", "borrow_limit", "lend_limit", "max", "share_tier", "reclaim_policy", "within_policy",
               "fence", "lendout_grace", "reclaim_delay", "fairshare_delay", "min_runtime_fairshare", "queueing",
               "quota_preemption_delay"}


def expand(items: list[dict]) -> list[dict]:
    out = []
    for it in items or []:
        n = it.get("count", 1)
        if n == 1:
            out.append({k: v for k, v in it.items() if k != "count"})
            continue
        m = _TAIL.match(it["id"])
        if not m:
            raise ValueError(f"count needs an id ending in a number: {it['id']}")
        stem, first = m.group(1), int(m.group(2))
        for i in range(n):
            out.append({**{k: v for k, v in it.items() if k != "count"}, "id": f"{stem}{first + i}"})
    return out


def _rational(v) -> Fraction:
    return Fraction(str(v)) if isinstance(v, float) else Fraction(v)


def build_node(d: dict) -> Node:
    kw: dict[str, Any] = {k: v for k, v in d.items() if k in NODE_FIELDS}
    if "weight" in d:
        kw["weight"] = _rational(d["weight"])
    if "borrow_preempt" in d:
        kw["borrow_preempt"] = BorrowPreempt(**d["borrow_preempt"])
    return Node(id=d["id"], parent=d.get("parent"), **kw)


def build_settings(d: dict | None, base: Settings | None = None) -> Settings:
    s = base or Settings()
    d = dict(d or {})
    for k in ("fs_epsilon", "fs_budget"):
        if d.get(k) is not None:
            d[k] = _rational(d[k])
    if "fs_strategies" in d:
        d["fs_strategies"] = tuple(d["fs_strategies"])
    return replace(s, **d)


def build_config(doc: dict, version: int, effective_from: int, base: Config | None = None) -> Config:
    settings = build_settings(doc.get("settings"), base.settings if base else None)
    extra = {k: doc[k] for k in ("pass_interval", "release_slack") if k in doc}
    if extra:
        settings = replace(settings, **extra)
    return Config(
        version=version,
        resources=tuple(doc.get("resources") or (base.resources if base else ())),
        capacity=dict(doc.get("capacity") or (base.capacity if base else {})),
        nodes=tuple(build_node(n) for n in doc["tree"]) if "tree" in doc else base.nodes,
        settings=settings,
        effective_from=effective_from,
    )


def build_request(d: dict, now: int) -> Request:
    return Request(
        id=d["id"], leaf=d["leaf"], demand=dict(d.get("demand", {})), priority=d.get("priority", 0),
        created_at=d.get("created_at", now), preemptible=d.get("preemptible", True),
        reclaim_grace=d.get("reclaim_grace", 30), elastic_min=d.get("elastic_min"), gates=tuple(d.get("gates", ())),
    )


def initial_state(config: Config, running: list[dict]) -> State:
    """Preloaded allocations, admitted in (admitted_at, id) order so their reason is truthful."""
    tree = compile_tree(config)
    led = Ledger(tree)
    reqs, status, allocs = {}, {}, {}
    items = sorted(expand(running), key=lambda d: (d.get("admitted_at", 0), id_key(d["id"])))
    for d in items:
        at = d.get("admitted_at", 0)
        q = build_request({**d, "created_at": d.get("created_at", at)}, at)
        leaf = tree.index[q.leaf]
        vec = tree.vec(q.demand)
        probe = led.probe(leaf, vec)
        within = all(probe[i][r] >= 0 for i, x in enumerate(tree.path[leaf]) if x != tree.root
                     for r in range(tree.R) if vec[r])
        led.add(leaf, vec)
        reqs[q.id] = q
        status[q.id] = Status("Admitted", "ADMITTED_WITHIN_OWNED" if within else "ADMITTED_BORROWING", pending_since=at)
        allocs[q.id] = Allocation(q.id, q.leaf, dict(q.demand), admitted_at=at)
    return State(requests=reqs, status=status, allocations=allocs)


X2_BINDING = ("node", "resource", "available", "needed", "via")


def compact(d, explain: bool) -> dict:
    out: dict[str, Any] = {"t": d.time}
    if d.action == "EVICT":
        out.update(victim=d.victim, action="EVICT", reason=d.reason, preemptor=d.preemptor)
    elif d.action == "SHRINK":  # P4: the request keeps running at the smaller size "to"
        out.update(request=d.request, action="SHRINK", reason=d.reason, preemptor=d.preemptor, to=d.facts["to"])
    else:
        if d.request is not None:
            out["request"] = d.request
        out.update(action=d.action, reason=d.reason)
        f = d.facts
        for k in ("lender_scope", "borrowed", "victims", "binding", "until", "by", "fenced", "potential", "rules",
                  "gates"):
            if f.get(k) not in (None, {}, []):
                out[k] = f[k]
        if "binding" in out:  # X2's binding as scheduling-scenarios.md prints it; the node's numbers are in --explain
            out["binding"] = {k: v for k, v in out["binding"].items() if k in X2_BINDING}
    if d.facts.get("note"):
        out["note"] = d.facts["note"]
    if d.modifiers:
        out["modifiers"] = list(d.modifiers)
    if explain:
        out["message"] = d.message
    return out


def run(doc: dict, explain: bool = False) -> dict:
    version = 1
    config = build_config(doc, version, 0)
    config, rejected = switch_config(None, config, 0)
    decisions: list[dict] = [compact(d, explain) for d in rejected]
    if config is None:
        return {"decisions": decisions, "final": {"requests": {}, "usage": {}, "evictions": 0}}
    state = initial_state(config, doc.get("running", []))
    events: dict[int, list[dict]] = {}
    for ev in doc.get("events", []):
        events.setdefault(ev["t"], []).append(ev)
    interval = config.settings.pass_interval
    start = min([0, *events])
    until = doc.get("until", max([0, *events]))
    times = sorted(set(range(start, until + 1, interval)) | set(events))
    finished: set[str] = set()
    for t in times:
        for ev in events.get(t, []):
            if "config" in ev:
                version += 1
                cand = build_config(ev["config"], version, t, base=config)
                config, rej = switch_config(config, cand, t)
                decisions += [compact(d, explain) for d in rej]
            if "capacity" in ev:
                state = set_capacity(state, ev["capacity"])
        for ev in events.get(t, []):
            if "finish" in ev:
                finished |= {x for x in ev["finish"] if x in state.requests}
                state = finish(state, ev["finish"])
            if "release" in ev:
                state = release(state, ev["release"], t)
            if "clear_gates" in ev:
                state = clear_gates(state, ev["clear_gates"])
        due = sorted((a.request for a in state.allocations.values()
                      if a.terminating and a.deadline is not None and a.deadline <= t), key=id_key)
        if due:
            state = release(state, due, t)
        for ev in events.get(t, []):
            if "submit" in ev:
                state = submit(state, [build_request(d, t) for d in expand(ev["submit"])])
        plan = decide(config, state, t, with_hash=False)
        state = plan.state
        decisions += [compact(d, explain) for d in plan.decisions]
    return {"decisions": decisions, "final": final_view(config, state, finished, decisions)}


def final_view(config: Config, state: State, finished: set[str], decisions: list[dict]) -> dict:
    tree = compile_tree(config, state.capacity)
    led = Ledger(tree)
    for a in state.allocations.values():
        led.add(tree.index[a.leaf], tree.vec(a.demand))
    reqs: dict[str, dict] = {}
    for rid in sorted(state.status, key=id_key):
        st = state.status[rid]
        a = state.allocations.get(rid)
        entry: dict[str, Any] = {"state": "Terminating" if a is not None and a.terminating else st.state,
                                 "reason": st.reason}
        if st.binding is not None and st.state == "Pending":
            entry["binding"] = {"node": st.binding.node, "resource": st.binding.resource}
        if st.victims:
            entry["victims"] = list(st.victims)
        reqs[rid] = entry
    for rid in sorted(finished, key=id_key):
        reqs.setdefault(rid, {"state": "Finished", "reason": "FINISHED"})
    usage = {tree.ids[x]: dict(zip(config.resources, led.used[x], strict=True)) for x in range(len(tree.ids))}
    return {"requests": reqs, "usage": usage, "evictions": sum(1 for d in decisions if d["action"] == "EVICT")}


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if path.endswith(".json"):
        return json.loads(text)
    import yaml  # the one allowed non-stdlib import, only for YAML input

    return yaml.safe_load(text)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    explain = "--explain" in args
    files = [a for a in args if a != "--explain"]
    if len(files) != 1:
        print("usage: python -m scheduling.engine.simulate SCENARIO.yaml [--explain]", file=sys.stderr)
        return 2
    json.dump(run(load(files[0]), explain=explain), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

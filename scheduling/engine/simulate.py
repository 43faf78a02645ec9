"""Scenario simulator: ``python -m scheduling.engine.simulate FILE [--explain]``.

Replays a scenario (YAML or JSON, format in docs: scheduling-scenarios.md) on a virtual clock:
a pass runs at every event time and every ``pass_interval``; all events of one instant are
applied before that instant's pass, so their order in the file does not matter (T28).  Victims
without an explicit ``release`` event are released at their deadline (the simulator plays
Kubernetes).  Output is JSON on stdout; an elastic shrink (P4) reads
``{"t", "request", "action": "SHRINK", "reason": <victim rule>, "preemptor", "to": {new demand}}``.
Beyond that format: ``{t, clear_gates: [ids]}`` passes the external admission checks of those
requests (A4c), a node may set ``quota_preemption_delay`` (D2), and an eviction that takes back
a request that had reclaimed from the preemptor's side (the owner's last resort) says
``"reclaimed_back": true``.
Imports: standard library, plus PyYAML for YAML files.

A malformed file is refused before anything runs (``check_scenario``): the command prints
``FILE:LINE: where: what`` on stderr and exits 2, as for a usage error. The check covers the
file's shape (its fields, their types, the ids it refers to); the values a config version is
judged on (V1–V4: the tree's soundness, quantities, policies) stay the engine's, so that an
invalid version still plays out as ``REJECT_INVALID_CONFIG``, as in the specification's T29.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import fields, replace
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
USAGE = 2  # exit code of a usage error and of a malformed scenario


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
    if d.facts.get("reclaimed_back"):  # P7 gave way to P4 (victims.Candidates._taken_back)
        out["reclaimed_back"] = True
    if d.modifiers:
        out["modifiers"] = list(d.modifiers)
    if explain:
        out["message"] = d.message
    return out


# --- Checking a scenario file -----------------------------------------------------------------
# Each table lists a part's fields with a check of its value; a field outside it is an error,
# never dropped. None: checked apart (lists of requests and events), or the engine's to judge
# (validate.py: a REJECT decision).

class ScenarioError(ValueError):
    """A malformed scenario; ``where`` is the path to the offending value (keys and indexes), and
    ``line`` its line in the file when the parser said so."""

    def __init__(self, where: tuple, what: str, *, line: int | None = None) -> None:
        super().__init__(f"{dotted(where)}: {what}" if where else what)
        self.where, self.what, self.line = where, what, line


def dotted(where: tuple) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where).lstrip(".")


def _integer(minimum: int | None = None):
    def check(v, where):
        if not isinstance(v, int) or isinstance(v, bool) or (minimum is not None and v < minimum):
            at_least = f" ≥ {minimum}" if minimum is not None else ""
            raise ScenarioError(where, f"expected a whole number{at_least}, not {v!r}")
    return check


def _boolean(v, where):
    if not isinstance(v, bool):
        raise ScenarioError(where, f"expected true or false, not {v!r}")


def _name(v, where):
    if not isinstance(v, str) or not v:
        raise ScenarioError(where, f"expected a name, not {v!r}")


def _ratio(v, where):
    try:
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise TypeError
        _rational(v)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ScenarioError(where, f"expected a number or a ratio such as 3/2, not {v!r}") from None


def _nullable(check):
    return lambda v, where: v is None or check(v, where)


def _a(kind: type, what: str):
    def check(v, where):
        if not isinstance(v, kind):
            raise ScenarioError(where, f"expected {what}, not {v!r}"[:200])
        return v
    return check


def _names(v, where):
    for i, name in enumerate(_a(list, "a list of names")(v, where)):
        _name(name, (*where, i))


def _quantities(v, where):
    """Resource → whole number ≥ 0 (N1); an unknown resource is the engine's to judge (REJECT_UNKNOWN_RESOURCE)."""
    for r, q in _a(dict, "a mapping of resource to quantity")(v, where).items():
        _integer(0)(q, (*where, r))


def _fields(d, where, table: dict, part: str, required: tuple = ()) -> dict:
    _a(dict, part)(d, where)
    for name in d:  # before a missing field: a misspelt one is both, and its name says more
        if name not in table:
            raise ScenarioError((*where, name), f"unknown field {name!r} ({part} has: {', '.join(sorted(table))})")
    for name in required:
        if name not in d:
            raise ScenarioError(where, f"{part} needs the field {name!r}")
    for name, value in d.items():
        if table[name] is not None:
            table[name](value, (*where, name))
    return d


def _part(table: dict, part: str, required: tuple = ()):
    return lambda v, where: _fields(v, where, table, part, required)


def _each(check, what: str):
    return lambda v, where: [check(item, (*where, i)) for i, item in enumerate(_a(list, what)(v, where))]


ENGINE_QUANTITIES = _a(dict, "a mapping of resource to quantity")  # values judged by the engine (V3)
SETTINGS_CHECKS = {f.name: None for f in fields(Settings)} | {
    "fair_share_preemption": _boolean, "fs_strategies": _names, "fs_epsilon": _ratio, "fs_budget": _nullable(_ratio),
    "fs_budget_window": _integer(1), "pass_interval": _integer(1), "release_slack": _integer(0),
    "preempted_priority_boost": _integer(0)}
NODE_CHECKS = {name: None for name in NODE_FIELDS} | {
    "id": _name, "parent": _nullable(_name), "weight": _ratio, "owned": ENGINE_QUANTITIES,
    "borrow_limit": ENGINE_QUANTITIES, "lend_limit": ENGINE_QUANTITIES, "max": ENGINE_QUANTITIES, "fence": _boolean,
    "lendout_grace": _nullable(_integer(0)), "min_runtime_fairshare": _nullable(_integer(0)),
    "borrow_preempt": _part({"policy": None, "max_priority_threshold": _nullable(_integer())}, "borrow_preempt")}
CONFIG_CHECKS = {"resources": _names, "capacity": ENGINE_QUANTITIES, "pass_interval": _integer(1),
                 "release_slack": _integer(0), "settings": _part(SETTINGS_CHECKS, "settings"),
                 "tree": _each(_part(NODE_CHECKS, "a node", ("id",)), "a list of nodes")}
REQUEST_CHECKS = {
    "id": _name, "leaf": _name, "demand": _quantities, "priority": _integer(), "created_at": _integer(),
    "preemptible": _boolean, "reclaim_grace": _integer(0), "elastic_min": _nullable(_quantities), "gates": _names,
    "count": _integer(1)}
RUNNING_CHECKS = REQUEST_CHECKS | {"admitted_at": _integer()}
EVENT_CHECKS = {"t": _integer(), "submit": None, "release": _names, "finish": _names, "clear_gates": _names,
                "capacity": _quantities, "config": _part(CONFIG_CHECKS, "a config")}
SCENARIO_CHECKS = CONFIG_CHECKS | {"running": None, "events": None, "until": _integer(),
                                   # beside the scenario, for the test suite (tests/scheduling_engine)
                                   "expect": None, "xfail": None}


def _requests(items, where, table: dict, part: str) -> list[tuple[tuple, dict]]:
    out = []
    for i, item in enumerate(_a(list, f"a list of {part}s")(items, where)):
        _fields(item, (*where, i), table, f"a {part}", required=("id", "leaf", "demand"))
        if item.get("count", 1) > 1 and not _TAIL.match(item["id"]):
            raise ScenarioError((*where, i, "id"), f"with count, the id must end in a number: {item['id']!r}")
        out.append(((*where, i), item))
    return out


def _nodes_and_leaves(tree: list[dict]) -> tuple[set[str], set[str]]:
    ids = {n["id"] for n in tree}
    return ids, ids - {n.get("parent") for n in tree}


def _check_leaf(where: tuple, leaf: str, trees: list[tuple[set[str], set[str]]]) -> None:
    """A request's leaf must be a leaf of a tree of the file: of the first one for what runs at t=0,
    of any for a submission (a later config version may add it; the engine rejects a request whose
    leaf is not in the version in force, REJECT_NEVER_FITS)."""
    if any(leaf in leaves for _, leaves in trees):
        return
    known = ", ".join(sorted(set().union(*(leaves for _, leaves in trees)), key=id_key))
    if any(leaf in nodes for nodes, _ in trees):
        raise ScenarioError(where, f"{leaf!r} is not a leaf: it has children (leaves: {known})")
    raise ScenarioError(where, f"{leaf!r} is not a node of the tree (leaves: {known})")


def check_scenario(doc) -> None:
    """Refuse a malformed scenario with ScenarioError (see the module's docstring)."""
    if doc is None:
        raise ScenarioError((), "the file is empty")
    _fields(doc, (), SCENARIO_CHECKS, "a scenario", required=("tree",))
    events = _each(_part(EVENT_CHECKS, "an event", ("t",)), "a list of events")(doc.get("events", []), ("events",))
    running = _requests(doc.get("running", []), ("running",), RUNNING_CHECKS, "running request")
    submitted = [pair for i, ev in enumerate(events) if "submit" in ev
                 for pair in _requests(ev["submit"], ("events", i, "submit"), REQUEST_CHECKS, "request")]
    trees = [_nodes_and_leaves(tree) for tree in
             [doc["tree"], *(ev["config"]["tree"] for ev in events if "tree" in ev.get("config", {}))]]
    for where, item in running:
        _check_leaf((*where, "leaf"), item["leaf"], trees[:1])
    for where, item in submitted:
        _check_leaf((*where, "leaf"), item["leaf"], trees)
    started: dict[str, tuple] = {}
    for where, item in running:
        for expanded in expand([item]):
            rid = expanded["id"]
            if rid in started:
                raise ScenarioError((*where, "id"), f"{rid!r} runs twice (also {dotted(started[rid])})")
            started[rid] = where
    ids = set(started) | {expanded["id"] for _, item in submitted for expanded in expand([item])}
    resources = set(doc.get("resources") or ()).union(*(ev["config"].get("resources") or () for ev in events
                                                        if "config" in ev))
    for i, ev in enumerate(events):
        for r in ev.get("capacity", {}):
            if r not in resources:  # the engine would ignore it
                raise ScenarioError(("events", i, "capacity", r), f"{r!r} is not a resource of the scenario "
                                                                  f"(resources: {', '.join(sorted(resources))})")
        for kind in ("release", "finish", "clear_gates"):
            for j, rid in enumerate(ev.get(kind, ())):
                if rid not in ids:
                    raise ScenarioError(("events", i, kind, j), f"{rid!r} names no request of the scenario")


def run(doc: dict, explain: bool = False) -> dict:
    check_scenario(doc)
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
                items = expand(ev["submit"])
                _refuse_known_ids(doc, ev, items, state, t)
                state = submit(state, [build_request(d, t) for d in items])
        plan = decide(config, state, t, with_hash=False)
        state = plan.state
        decisions += [compact(d, explain) for d in plan.decisions]
    return {"decisions": decisions, "final": final_view(config, state, finished, decisions)}


def _refuse_known_ids(doc: dict, ev: dict, items: list[dict], state: State, t: int) -> None:
    """An id is submitted again only once the request of that id finished: known only while
    running, so refused here rather than by the engine's bare ValueError."""
    batch: set[str] = set()
    for d in items:
        if d["id"] in state.requests or d["id"] in batch:
            index = next(i for i, e in enumerate(doc["events"]) if e is ev)
            raise ScenarioError(("events", index, "submit"),
                                f"{d['id']!r} is submitted at t={t} while a request of that id is still known")
        batch.add(d["id"])


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
    """The scenario in ``path``; ScenarioError for a file that cannot be read or parsed, or
    that repeats a key (a parser would keep one of the two values without a word)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise ScenarioError((), f"cannot read the file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError((), "cannot read the file: not UTF-8 text") from None
    if path.endswith(".json"):
        try:
            return json.loads(text, object_pairs_hook=_json_object)
        except json.JSONDecodeError as e:
            raise ScenarioError((), f"not valid JSON: {e.msg}", line=e.lineno) from None
    import yaml  # the one allowed non-stdlib import, only for YAML input

    try:
        return yaml.load(text, Loader=_yaml_loader(yaml))  # noqa: S506 (a SafeLoader, below)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ScenarioError((), f"not valid YAML: {getattr(e, 'problem', None) or e}",
                            line=mark.line + 1 if mark is not None else None) from None


def _json_object(pairs: list[tuple]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ScenarioError((), f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _yaml_loader(yaml):
    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise ScenarioError((), f"the key {key!r} appears twice in one mapping",
                                        line=key_node.start_mark.line + 1)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def line_of(text: str, where: tuple) -> int | None:
    """The line (from 1) of the value at ``where`` in a YAML or JSON text, if PyYAML can find it."""
    try:
        import yaml

        node = yaml.compose(text)
    except Exception:  # no PyYAML, or a text it reads otherwise: the path alone says where
        return None
    line = node.start_mark.line if node is not None else None
    for key in where:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line
    return None if line is None else line + 1


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    explain = "--explain" in args
    files = [a for a in args if a != "--explain"]
    if len(files) != 1:
        print("usage: python -m scheduling.engine.simulate SCENARIO.yaml [--explain]", file=sys.stderr)
        return USAGE
    path = files[0]
    try:
        result = run(load(path), explain=explain)
    except ScenarioError as e:
        line = e.line or (line_of(_text(path), e.where) if e.where else None)
        print(f"{path}:{line}: {e}" if line else f"{path}: {e}", file=sys.stderr)
        return USAGE
    json.dump(result, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


def _text(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


if __name__ == "__main__":
    raise SystemExit(main())

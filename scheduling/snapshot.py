"""The Django side of the pure engine: tenant plans → engine Config, pods → requests, and the
engine's State to and from JSON.

Node ids: ``root`` is the cluster; tenant ``t<pk>``; a tenant with both children and its own
namespaces gets a synthetic leaf ``t<pk>#self`` that owns its private pool (what its children do
not own), as the specification's "imaginary child". Request ids are ``<namespace>/<pod>`` or
``<namespace>/<gang>`` for pods annotated ``bluedock.io/gang`` (admitted all at once; gangs.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass
from datetime import datetime
from functools import cache

from scheduling.engine.model import Allocation, Binding, Config, Node, Request, Settings, State, Status
from tenants.models import Namespace, ResourcePlan, Tenant

from .models import SchedulingSettings, TenantSchedulingPolicy
from .policy_config import engine_settings, node_policy, self_leaf_policy

GATE = "bluedock.io/admission"
GANG = "bluedock.io/gang"
GANG_SIZE = "bluedock.io/gang-size"
GANG_MIN = "bluedock.io/gang-min"  # elastic gangs: the fewest pods it can run with (gangs.py)
ROOT = "root"


def node_id(tenant_id: int) -> str:
    return f"t{tenant_id}"


def tenant_id_of(node: str) -> int | None:
    """``t<pk>`` or ``t<pk>#self`` → pk; the root (the cluster) → None."""
    pk = node.split("#", 1)[0].removeprefix("t")
    return int(pk) if node != ROOT and pk.isdigit() else None


def build_config(*, capacity: dict[str, int], version: int,
                 policy_overrides: dict[int, TenantSchedulingPolicy] | None = None,
                 settings_row: SchedulingSettings | None = None) -> tuple[Config, dict[str, int]]:
    """The engine config from every tenant's plans and policy; returns it with {leaf id → tenant id}.

    Only resources some plan mentions are scheduled: a resource nobody owns would make every
    request "borrowing" it and so never within owned. ``policy_overrides`` ({tenant id: unsaved
    row}) and ``settings_row`` stand in for the stored rows, so a change can be validated as the
    engine would see it before it is saved.
    """
    tenants = list(Tenant.objects.order_by("path"))
    policies = {p.tenant_id: p for p in TenantSchedulingPolicy.objects.all()} | (policy_overrides or {})
    if settings_row is None:
        settings_row = SchedulingSettings.objects.filter(pk=SchedulingSettings.SINGLETON).first()
    plans: dict[int, dict[str, ResourcePlan]] = {}
    for plan in ResourcePlan.objects.all():
        plans.setdefault(plan.tenant_id, {})[plan.resource] = plan
    resources = tuple(sorted({r for by in plans.values() for r in by}))
    with_namespaces = set(Namespace.objects.values_list("tenant_id", flat=True).distinct())
    parents_with_children = {t.parent_id for t in tenants if t.parent_id}
    top_owned = {r: sum(plans.get(t.pk, {}).get(r).owned for t in tenants
                        if t.parent_id is None and plans.get(t.pk, {}).get(r)) for r in resources}
    # Planned capacity: what the roots own, or more if the cluster has it (D1 handles less).
    planned = {r: max(capacity.get(r, 0), top_owned.get(r, 0)) for r in resources}
    nodes = [Node(id=ROOT, owned=dict(planned), borrow_limit={r: 0 for r in resources})]
    leaves: dict[str, int] = {}
    for t in tenants:
        own = plans.get(t.pk, {})
        node = Node(
            id=node_id(t.pk), parent=node_id(t.parent_id) if t.parent_id else ROOT,
            owned={r: own[r].owned for r in resources if r in own},
            borrow_limit={r: own[r].borrow_limit for r in resources if r in own},
            lend_limit={r: own[r].lend_limit for r in resources if r in own},
            max={r: own[r].limit for r in resources if r in own},
            **node_policy(policies.get(t.pk)),
        )
        nodes.append(node)
        if t.pk not in parents_with_children:
            leaves[node.id] = t.pk
        elif t.pk in with_namespaces:
            children_owned = {r: sum(plans.get(c.pk, {}).get(r).owned for c in tenants
                                     if c.parent_id == t.pk and plans.get(c.pk, {}).get(r)) for r in resources}
            pool = {r: max(0, node.owned.get(r, 0) - children_owned[r]) for r in resources}
            self_leaf = Node(id=f"{node.id}#self", parent=node.id, owned=pool, **self_leaf_policy(policies.get(t.pk)))
            nodes.append(self_leaf)
            leaves[self_leaf.id] = t.pk
    config = Config(version=version, resources=resources, capacity=planned, nodes=tuple(nodes),
                    settings=engine_settings(settings_row))
    return config, leaves


def config_digest(config: Config) -> str:
    payload = config_to_json(config)
    payload.pop("version")
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def config_to_json(config: Config) -> dict:
    return _plain(config)


def config_from_json(data: dict) -> Config:
    from fractions import Fraction

    from scheduling.engine.model import BorrowPreempt

    nodes = []
    for n in data["nodes"]:
        n = dict(n)
        n["weight"] = Fraction(n["weight"])
        n["borrow_preempt"] = BorrowPreempt(**n["borrow_preempt"])
        nodes.append(Node(**_only_fields(Node, n)))
    s = dict(data["settings"])
    s["fs_strategies"] = tuple(s["fs_strategies"])
    s["fs_epsilon"] = Fraction(s["fs_epsilon"])
    s["fs_budget"] = Fraction(s["fs_budget"]) if s["fs_budget"] is not None else None
    return Config(version=data["version"], resources=tuple(data["resources"]), capacity=data["capacity"],
                  nodes=tuple(nodes), settings=Settings(**s), effective_from=data.get("effective_from", 0))


def state_to_json(state: State) -> dict:
    return _plain(state)


def _plain(value):
    """A frozen engine value as JSON-ready data (tuples → lists, Fractions → strings).

    What ``json.loads(json.dumps(asdict(value), default=str))`` gives, without asdict's deep copy
    and the text round trip, and with primitives passed through without a call (a pass over a few
    thousand requests saves the whole state every second). Derived fields (``init=False``, e.g. a
    request's cached order) are left out; the loaders ignore them.
    """
    kind = type(value)
    if kind in _PRIMITIVE:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): v if type(v) in _PRIMITIVE else _plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _PRIMITIVE else _plain(v) for v in value]
    names = _field_names(kind)
    if names is None:
        return str(value)
    out = {}
    for name in names:
        v = getattr(value, name)
        out[name] = v if type(v) in _PRIMITIVE else _plain(v)
    return out


_PRIMITIVE = frozenset({str, int, bool, float, type(None)})


@cache
def _field_names(kind) -> tuple[str, ...] | None:
    return tuple(f.name for f in fields(kind) if f.init) if is_dataclass(kind) else None


def state_from_json(data: dict) -> State:
    if not data:
        return State()

    def status(d: dict) -> Status:
        return Status(state=d["state"], reason=d["reason"], pending_since=d["pending_since"],
                      binding=Binding(**_only_fields(Binding, d["binding"])) if d.get("binding") else None,
                      victims=tuple(d.get("victims") or ()), plan_seq=d.get("plan_seq", 0),
                      detail=tuple((k, _tupled(v)) for k, v in d.get("detail") or ()),
                      times_preempted=d.get("times_preempted", 0))

    def allocation(d: dict) -> Allocation:
        fields_ = _only_fields(Allocation, d)
        if d.get("reclaim_guard"):
            fields_["reclaim_guard"] = _tupled(d["reclaim_guard"])
        return Allocation(**fields_)

    return State(
        requests={k: Request(**{**_only_fields(Request, v), "gates": tuple(v.get("gates") or ())})
                  for k, v in data["requests"].items()},
        status={k: status(v) for k, v in data["status"].items()},
        allocations={k: allocation(v) for k, v in data["allocations"].items()},
        capacity=data.get("capacity"),
        fs_history=tuple((t, tuple((n, q) for n, q in pairs)) for t, pairs in data.get("fs_history") or ()),
        plan_seq=data.get("plan_seq", 0), pass_seq=data.get("pass_seq", 0),
        over_max_since=tuple((n, t) for n, t in data.get("over_max_since") or ()))


def _only_fields(cls, data: dict) -> dict:
    # Engine dataclasses may carry derived slots in their dict form (cached keys); keep the fields.
    names = {f.name for f in fields(cls) if f.init}
    return {k: v for k, v in data.items() if k in names}


def _tupled(value):
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


def epoch(value: str | datetime | None, default: int) -> int:
    if not value:
        return default
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(value.timestamp())

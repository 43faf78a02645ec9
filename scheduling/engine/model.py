"""Frozen value types that cross the engine boundary.

The engine is a pure function ``decide(config, state, now) -> Plan``.  Everything it reads or
returns is defined here.  Mappings inside frozen dataclasses are never mutated after
construction: the engine copies before it changes anything, so a caller may keep old states
(replay, what-if) without defensive copies.

Quantities are integers (N1); weights and ratios are ``fractions.Fraction``.  Time is a number
of seconds on the caller's clock (virtual in the simulator), never read from the system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

# Policy vocabularies of the specification (§10.2).
RECLAIM_POLICIES = ("Any", "LowerPriority", "Never")
WITHIN_POLICIES = ("LowerPriority", "LowerOrNewerEqualPriority", "Never")
BORROW_PREEMPT_POLICIES = ("Never", "LowerPriority")
QUEUEINGS = ("BestEffortFIFO", "StrictFIFO")
PREFERENCES = ("BorrowOverPreempt", "PreemptOverBorrow")

_DIGITS = re.compile(r"(\d+)")


def id_key(ident: str) -> tuple:
    """Natural order of ids (``b9 < b10``): the spec orders requests by creation and names them
    ``a1 < a2 < …``; a plain string order would put ``b10`` before ``b9``.  Every ordering in the
    engine ends with this key (N2)."""
    parts = _DIGITS.split(ident)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


@dataclass(frozen=True)
class BorrowPreempt:
    policy: str = "Never"
    max_priority_threshold: int | None = None


@dataclass(frozen=True)
class Node:
    """One node of the tenant tree.  ``owned`` is inclusive of the subtree (E ownership)."""

    id: str
    parent: str | None = None
    owned: dict[str, int] = field(default_factory=dict)
    borrow_limit: dict[str, int | None] = field(default_factory=dict)  # absent/None = unlimited
    lend_limit: dict[str, int | None] = field(default_factory=dict)  # absent/None = owned
    max: dict[str, int | None] = field(default_factory=dict)  # absent/None = no cap
    weight: Fraction = Fraction(1)
    share_tier: int = 0
    reclaim_policy: str = "Any"
    within_policy: str = "LowerPriority"
    borrow_preempt: BorrowPreempt = BorrowPreempt()
    fence: bool = False
    lendout_grace: int | None = None
    reclaim_delay: int = 0
    fairshare_delay: int = 30
    min_runtime_fairshare: int | None = None  # None = inherit from the nearest ancestor setting
    queueing: str = "BestEffortFIFO"
    quota_preemption_delay: int = 0  # D2: seconds over max before evicting down to it; 0 = never (Y)


@dataclass(frozen=True)
class Settings:
    fair_share_preemption: bool = False
    fs_strategies: tuple[str, ...] = ("S2a", "S2b")
    fs_epsilon: Fraction = Fraction(0)
    fs_budget: Fraction | None = None  # fraction of root capacity per window; None = off
    fs_budget_window: int = 10
    pass_interval: int = 1
    release_slack: int = 10
    borrowing_preference: str = "BorrowOverPreempt"
    preempted_priority_boost: int = 0  # H8 beta


@dataclass(frozen=True, eq=False)
class Config:
    """An immutable config version (V6).  Identity-hashed so compiled trees can be cached."""

    version: int
    resources: tuple[str, ...]
    capacity: dict[str, int]
    nodes: tuple[Node, ...]
    settings: Settings = Settings()
    effective_from: int = 0


@dataclass(frozen=True)
class Request:
    id: str
    leaf: str
    demand: dict[str, int]
    priority: int = 0
    created_at: int = 0
    preemptible: bool = True
    reclaim_grace: int = 30
    elastic_min: dict[str, int] | None = None
    gates: tuple[str, ...] = ()
    # A2 head order: priority desc, created_at asc, id asc — computed once, used everywhere.
    order: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = (-self.priority, self.created_at, id_key(self.id))
        object.__setattr__(self, "order", order)
        # ``order`` flattened, for sorting whole queues (A2): Python's sort compares flat tuples of
        # ints and strings with type-specialised comparisons, nested ones generically (B2: 100,000
        # pending at scale XL).  Same order, since the id key comes last.  An attribute, not a
        # field, like ``demand_key`` below: derived, out of equality, repr and hashes.
        object.__setattr__(self, "head_order", (order[0], order[1], *order[2]))
        # The demand as a hashable key, for interning its vector in each pass (PassCtx.intern).
        object.__setattr__(self, "demand_key", tuple(self.demand.items()))


def _fast(cls, fields: dict):
    """An instance of the frozen dataclass ``cls`` with exactly these fields, without the
    generated ``__init__`` (one ``object.__setattr__`` per field, ≈ 1 µs): the pass builds tens
    of thousands of Status and Allocation objects.  Same class, fields, equality, repr, hash and
    pickling as the regular constructor; ``fields`` must name every field without a class default."""
    obj = object.__new__(cls)
    object.__setattr__(obj, "__dict__", fields)
    return obj


@dataclass(frozen=True)
class Allocation:
    """Capacity held by an admitted request: Running, or Terminating after an eviction.

    ``reclaim_guard``: for a request admitted on the room its plan reclaimed (P-R) or took by fair
    share (P-F), one ``(victim side, own side, own side's owned)`` per side it took from — the
    children of the lowest common ancestor towards the victim and towards the request, by id, and
    the owned vector its side had then.  While that side still owns as much, nothing below the
    victim side may take this allocation back by P-R or P-F (H1, P7; victims.py)."""

    request: str
    leaf: str
    demand: dict[str, int]
    admitted_at: int
    terminating: bool = False
    victim_of: str | None = None
    deadline: int | None = None
    reclaim_guard: tuple[tuple[str, str, tuple[int, ...]], ...] = ()

    @classmethod
    def new(cls, request: str, leaf: str, demand: dict[str, int], admitted_at: int,
            reclaim_guard: tuple = ()) -> Allocation:
        """A Running allocation, as ``Allocation(request, leaf, demand, admitted_at, …)`` (fast).
        The other fields are at their class defaults, read from the class (see ``Decision.lazy``)."""
        fields = {"request": request, "leaf": leaf, "demand": demand, "admitted_at": admitted_at}
        if reclaim_guard:
            fields["reclaim_guard"] = reclaim_guard
        return _fast(cls, fields)


@dataclass(frozen=True)
class Binding:
    """The constraint that stops a request (X2): first failing node on the leaf→root path.

    Besides X2's (node, resource, available, needed), the numbers a tenant admin reads it by, at
    the node and in the planning view, for the one resource: ``used`` and what it is measured
    against — ``owned`` (+ ``borrow_limit``) for a borrow limit or owned-only request, ``max``,
    or, at the root, ``owned`` = the cluster's capacity and ``free`` = what is left of it
    (less than capacity − used where lend limits below keep owned capacity local); for a lend
    limit also the lender's (``via``) ``lender_unused`` and ``lend_limit``.  None where they do
    not apply (and in states recorded before they existed)."""

    node: str
    resource: str
    available: int
    needed: int
    kind: str = "capacity"  # capacity | borrow_limit | lend_limit | max | owned
    via: str | None = None  # the sibling whose lend limit binds
    used: int | None = None
    owned: int | None = None
    borrow_limit: int | None = None
    max: int | None = None
    free: int | None = None
    lender_unused: int | None = None
    lend_limit: int | None = None


@dataclass(frozen=True)
class Status:
    """Lifecycle of a request: Pending, Reserved, Admitted, Terminating, Rejected, Finished."""

    state: str
    reason: str
    pending_since: int = 0
    binding: Binding | None = None
    victims: tuple[str, ...] = ()
    plan_seq: int = 0  # order of reservations: transfers happen in plan order (P5b)
    detail: tuple[tuple[str, Any], ...] = ()  # extra reason facts (until, by, lender_scope, …)
    times_preempted: int = 0

    @classmethod
    def new(cls, state: str, reason: str, pending_since: int = 0, binding: Binding | None = None,
            victims: tuple[str, ...] = (), plan_seq: int = 0, detail: tuple = (), times_preempted: int = 0) -> Status:
        """``Status(...)`` with positional fields, built fast (see ``_fast``)."""
        return _fast(cls, {"state": state, "reason": reason, "pending_since": pending_since, "binding": binding,
                           "victims": victims, "plan_seq": plan_seq, "detail": detail,
                           "times_preempted": times_preempted})


@dataclass(frozen=True)
class State:
    """Snapshot the engine reads.  ``requests`` holds every known non-finished request."""

    requests: dict[str, Request] = field(default_factory=dict)
    status: dict[str, Status] = field(default_factory=dict)
    allocations: dict[str, Allocation] = field(default_factory=dict)
    capacity: dict[str, int] | None = None  # measured; None = the config's capacity
    fs_history: tuple[tuple[int, tuple[tuple[str, int], ...]], ...] = ()  # fair-share evictions
    plan_seq: int = 0
    pass_seq: int = 0
    over_max_since: tuple[tuple[str, int], ...] = ()  # D2: node → first pass that saw U > max

    def __getstate__(self) -> dict:
        # Derived data that ``decide`` may attach for the next pass (incremental.py) is not state.
        return {k: v for k, v in self.__dict__.items() if k != "_carry"}


@dataclass(frozen=True)
class Decision:
    """One explained decision (X).  ``facts`` holds the binding numbers; ``message`` is prose.

    A pass emits thousands of decisions and most are never read in full, so the engine may build
    ``facts`` and ``message`` on first access (``Decision.lazy``, benchmark B11): a lazy decision
    is indistinguishable from an eager one — same class, fields, equality, repr and pickling."""

    time: int
    action: str  # ADMIT | PENDING | RESERVE | EVICT | SHRINK | REJECT | KILL
    reason: str
    request: str | None = None
    victim: str | None = None
    preemptor: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    modifiers: tuple[str, ...] = ()
    message: str = field(default_factory=str)  # no class attribute: lets __getattr__ fill it in

    @classmethod
    def lazy(cls, time, action, reason, request, victim, preemptor, modifiers, build, args=()) -> Decision:
        """A decision whose ``build(*args)`` returns ``(facts, message)`` when either is first read
        (a function and its arguments rather than a closure: fewer objects per decision)."""
        d = object.__new__(cls)
        fields = {"time": time, "action": action, "reason": reason, "request": request, "_lazy": (build, args)}
        # A field at its class default (no victim, no preemptor, no modifier) is read from the class:
        # left out, most decisions keep CPython's smallest dict (B2, B9: 100,000 of them at XL).
        if victim is not None:
            fields["victim"] = victim
        if preemptor is not None:
            fields["preemptor"] = preemptor
        if modifiers:
            fields["modifiers"] = modifiers
        object.__setattr__(d, "__dict__", fields)
        return d

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes missing from the instance and its class: the two lazy fields.
        d = self.__dict__
        lazy = d.get("_lazy")
        if lazy is None or name not in ("facts", "message"):
            raise AttributeError(name)
        build, args = lazy
        d["facts"], d["message"] = build(*args)
        del d["_lazy"]
        return d[name]

    def __getstate__(self) -> dict:
        self.facts  # noqa: B018 — materialise before pickling/copying
        return self.__dict__


def explain_all(decisions) -> None:
    """Build the facts and message of every lazy decision, as reading each one's ``facts`` would,
    without an attribute miss per decision (an exception caught in C, then ``__getattr__``: a
    third of the cost of the explanations themselves).  The cycle persists every decision of a
    pass, so it explains them all at once (benchmark B11)."""
    for d in decisions:
        fields = d.__dict__
        lazy = fields.get("_lazy")
        if lazy is not None:
            build, args = lazy
            fields["facts"], fields["message"] = build(*args)
            del fields["_lazy"]


@dataclass(frozen=True)
class Plan:
    """Result of a pass: the decisions (in order) and the state to feed the next pass."""

    decisions: tuple[Decision, ...]
    state: State
    config_version: int
    state_hash: str

"""P9 judges a victim "in the simulated state at selection time" (§11.3), and fill-back (P3) can
make that state differ from the one the final plan leaves: a victim taken first and later put
back was out of the state when the next one was validated.  Found by the thorough property run
(the plan auditor judged on the start view and reported a legal P-F victim); shrunk by hand.

The tree: n1 (g 7) holds n3 (q's side: n8 with weight 0, n9), n4 and n5 (weight 2: n11, n13).
q40 (u 1, g 3) at n9 needs both resources; nobody owns any u.

* The greedy walk (S2-a, then S2-b) takes q37 first (a_v = n8, weight 0 and borrowing: DRS +∞)
  and then q32 (10 g, S2-b between n3 and n5 with q37 already out: 2/7 < 1/2).
* The waste-aware swap (P2) replaces q32 by q28 (3 g), re-validated with q37 still out: S2-b
  holds again.
* Fill-back (P3) puts q37 back — q40 still fits — and keeps q28.

So the plan evicts q28 alone, legal when it was taken; judged on the start view (q37 running)
neither S2-a nor S2-b holds between n3 and n5.
"""

from __future__ import annotations

from fractions import Fraction

from scheduling.engine import decide, submit
from scheduling.engine.model import Config, Node, Request, Settings
from scheduling.engine.simulate import initial_state

from .plan_audit import View, fair_share_holds, plan_auditor

NOW = 103


def _config() -> Config:
    plain = {"reclaim_policy": "Never", "fairshare_delay": 0}
    return Config(
        version=1, resources=("u", "g"), capacity={"u": 7, "g": 33},
        settings=Settings(fair_share_preemption=True),
        nodes=(
            Node(id="root", **plain),
            Node(id="n1", parent="root", owned={"u": 0, "g": 7}, borrow_limit={"g": 15}, **plain),
            Node(id="n3", parent="n1", **plain),
            Node(id="n4", parent="n1", owned={"u": 0, "g": 4}, lend_limit={"g": 0}, **plain),
            Node(id="n5", parent="n1", weight=Fraction(2), **plain),
            Node(id="n8", parent="n3", weight=Fraction(0), **plain),
            Node(id="n9", parent="n3", **plain),
            Node(id="n11", parent="n5", **plain),
            Node(id="n13", parent="n5", **plain),
        ))


def _state(config: Config):
    running = [
        {"id": "q4", "leaf": "n13", "demand": {"g": 5}, "priority": 100, "admitted_at": 12},
        {"id": "q20", "leaf": "n9", "demand": {"u": 1}, "admitted_at": 67},
        {"id": "q28", "leaf": "n11", "demand": {"g": 3}, "admitted_at": 95},
        {"id": "q32", "leaf": "n13", "demand": {"g": 10}, "admitted_at": 99},
        {"id": "q37", "leaf": "n8", "demand": {"u": 2}, "admitted_at": 102},
    ]
    q40 = Request(id="q40", leaf="n9", demand={"u": 1, "g": 3}, created_at=NOW)
    return submit(initial_state(config, running), [q40])


def test_fair_share_victim_is_judged_where_it_was_taken_after_fill_back():
    config = _config()
    problems: list[str] = []
    auditor = plan_auditor(problems)
    plans = []

    def audit(ctx, q, leaf, vec, victims):
        tree = ctx.tree
        start = View.of(tree, ctx.sim)
        (c,) = victims
        plans.append((q.id, c.alloc.request, [o.alloc.request for o in c.taken_after]))
        # The rule's own view: q37, taken before q28 and put back by fill-back, is out.
        taken = start
        for o in c.taken_after:
            taken = taken.plus(o.leaf, tree.vec(o.alloc.demand), -1)
        assert fair_share_holds(tree, ctx.settings, taken, leaf, vec, c.a_q, c.leaf, c.vec, c.a_v)
        # The view the final plan leaves (q37 running): there it would not hold.
        assert not fair_share_holds(tree, ctx.settings, start, leaf, vec, c.a_q, c.leaf, c.vec, c.a_v)
        auditor(ctx, q, leaf, vec, victims)

    plan = decide(config, _state(config), NOW, audit=audit, with_hash=False)
    assert plans == [("q40", "q28", ["q37"])]
    assert problems == []
    assert [(d.victim, d.preemptor) for d in plan.decisions if d.action == "EVICT"] == [("q28", "q40")]


def test_auditor_rejects_a_victim_judged_on_a_view_no_walk_produced():
    """The record is checked, not trusted: a victim claiming a state its walk never had (here,
    q37 out without q37 ever taken in the plan's sequence) is a P9 problem."""
    config = _config()
    problems: list[str] = []
    auditor = plan_auditor(problems)

    def audit(ctx, q, leaf, vec, victims):
        (c,) = victims
        (put_back,) = c.taken_after
        put_back.taken_after = (c,)  # an incoherent record: each taken before the other
        auditor(ctx, q, leaf, vec, victims)
        put_back.taken_after = ()

    decide(config, _state(config), NOW, audit=audit, with_hash=False)
    assert any("one sequence of taking" in p for p in problems), problems

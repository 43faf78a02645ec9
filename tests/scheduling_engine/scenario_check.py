"""Expectation checker shared by the scenario tests.

A scenario file is the simulator's input plus an ``expect`` block the simulator ignores:
``evictions`` (int), ``usage`` / ``requests`` (subset of the final view), ``decisions`` (each
pattern must match a decision, in order), ``absent`` (patterns with optional ``t_from``/``t_to``
that must match no decision), ``checkpoints`` (the state after the pass at ``t``: ``degraded``,
per-node ``owned`` and ``used``; the simulator prints no intermediate state, so only the replay
through the engine API, test_engine_api.py, checks them).
"""

from __future__ import annotations


def matches(decision: dict, pattern: dict) -> bool:
    for k, v in pattern.items():
        if k == "t_from":
            if decision["t"] < v:
                return False
        elif k == "t_to":
            if decision["t"] > v:
                return False
        elif decision.get(k) != v:
            return False
    return True


def check(out: dict, expect: dict) -> None:
    final = out["final"]
    if "evictions" in expect:
        assert final["evictions"] == expect["evictions"], _evicts(out)
    for node, quantities in (expect.get("usage") or {}).items():
        assert final["usage"][node] == quantities, (node, final["usage"][node])
    for rid, fields in (expect.get("requests") or {}).items():
        got = final["requests"].get(rid)
        assert got is not None, f"{rid} missing from final view"
        for k, v in fields.items():
            assert got.get(k) == v, (rid, k, got)
    check_decisions(out["decisions"], expect)


def check_decisions(decisions: list[dict], expect: dict) -> None:
    """``decisions`` patterns must match in order; ``absent`` patterns must match nothing."""
    pos = 0
    for pattern in expect.get("decisions") or []:
        for i in range(pos, len(decisions)):
            if matches(decisions[i], pattern):
                pos = i + 1
                break
        else:
            near = [d for d in decisions if d.get("request") == pattern.get("request") or
                    d.get("victim") == pattern.get("victim")]
            raise AssertionError(f"no decision matching {pattern} (after #{pos}); related: {near[:6]}")
    for pattern in expect.get("absent") or []:
        bad = [d for d in decisions if matches(d, pattern)]
        assert not bad, f"unexpected decisions {bad[:5]} for {pattern}"


def _evicts(out: dict) -> list:
    return [d for d in out["decisions"] if d["action"] == "EVICT"]

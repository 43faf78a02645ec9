"""One scheduling pass for one cluster: observe, decide (the pure engine), record, enact.

Order matters for crash safety. Decisions and the new engine state are written in one
transaction *before* anything is enacted; enactment is idempotent (removing a gate twice,
evicting a pod that is gone), and every pass re-enacts what the recorded state says, so a
worker dying between the commit and the cluster calls loses nothing. One pass at a time per
cluster: a PostgreSQL advisory lock (held for the pass) keeps a second worker out.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from backends.errors import BackendError
from scheduling.engine import engine
from scheduling.engine.allocate import _pending_facts
from scheduling.engine.explain import Reason
from scheduling.engine.model import Config, Request, State, Status, explain_all
from scheduling.engine.wording import message
from tenants.models import Cluster, Namespace, Tenant
from tenants.services.clusters import cluster_backend

from . import admitted_room, adoption, gangs, shrinks
from . import snapshot as snap
from .bindings import held_shares, pass_bindings, share_of
from .models import Binding, EngineSnapshot, SchedulingDecision, SchedulingRequest

log = logging.getLogger(__name__)
LOCK_NAMESPACE = 0x5C4ED  # advisory lock key space of the scheduling cycle


def _try_lock(cluster_id: int) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite (make run) has one worker process on the scheduling queue anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, cluster_id])
        return cursor.fetchone()[0]


def _unlock(cluster_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, cluster_id])


def scheduling_cycle(*, cluster: Cluster, now: int | None = None) -> dict:
    """One pass; returns a summary. Skips (returns {"skipped": ...}) when another pass holds the lock."""
    if not _try_lock(cluster.pk):
        return {"skipped": "another pass is running"}
    try:
        return _pass(cluster, int(time.time()) if now is None else now)
    finally:
        _unlock(cluster.pk)


def scheduling_tick(*, seconds: float, poll: float, on_pass=None, fatal: tuple[type[BaseException], ...] = ()) -> dict:
    """Passes over every active cluster for one beat tick of ``seconds``; returns the last summaries.

    A pod created just after a pass would otherwise wait a whole tick plus a pass (p99 over a
    second at 50 submissions/s, benchmark B7). So a tick keeps passing: back to back while passes
    decide or enact something, every ``poll`` seconds otherwise (0: one pass per tick). Beat stays
    the heartbeat: a worker that dies loses at most one tick, and the advisory lock keeps the
    passes of one cluster serial whatever overlaps. ``on_pass(cluster, began, summary)`` lets the
    benchmark time each pass.

    One cluster's failure is its own: whatever a pass raises (a database refusal, a bug that one
    tenant's data triggers) is logged and reported in that cluster's summary, and the other clusters
    still get their passes. Only ``fatal`` exceptions end the tick (the worker's time limit)."""
    deadline = time.monotonic() + seconds
    result: dict = {}
    passes = 0
    while True:
        busy = False
        for cluster in _in_turn(list(Cluster.objects.filter(is_active=True))):
            began = time.monotonic()
            resting = _unreachable.get(cluster.pk)
            if resting is not None and began < resting[1]:
                result[cluster.name] = {"error": resting[2], "skipped": "unreachable: retried after a pause"}
                continue
            try:
                summary = scheduling_cycle(cluster=cluster)
                if _unreachable.pop(cluster.pk, None) is not None:
                    log.warning("scheduling: cluster %s is reachable again", cluster.name)
            except BackendError as exc:  # the next pass (or tick) is the retry
                summary = {"error": str(exc)}
                _rest(cluster, str(exc))
            except fatal:
                raise
            except Exception as exc:  # noqa: BLE001 — logged with its traceback; the other clusters go on
                log.exception("scheduling pass of cluster %s failed", cluster.name)
                summary = {"error": f"{type(exc).__name__}: {exc}"}
            busy |= bool(summary.get("decisions") or any((summary.get("enacted") or {}).values()))
            result[cluster.name] = summary
            if on_pass is not None:
                on_pass(cluster, began, summary)
        passes += 1
        wait = 0.0 if busy else poll
        if not poll or time.monotonic() + wait >= deadline:
            break
        time.sleep(wait)
    result["passes"] = passes
    return result


def _observe(backend, namespaces: dict[str, int], resources: tuple[str, ...], now: int):
    """Pods of portal namespaces grouped into requests: {id: (tenant, pods, gated, demand, request)}."""
    groups: dict[str, dict] = {}
    for pod in backend.list_pods():
        if pod.namespace not in namespaces or pod.phase in ("Succeeded", "Failed"):
            continue
        gang, ignored = gangs.gang_of(pod)
        key = f"{pod.namespace}/{gang or pod.name}"
        group = groups.setdefault(key, {"tenant": namespaces[pod.namespace], "pods": [], "size": 1, "gang": bool(gang),
                                        "notes": ignored})
        group["pods"].append(pod)
    for group in groups.values():
        pods = group["pods"]
        # A gang is what its pods not being deleted are: those of an evicted gang or one made again
        # are leaving, and their replacements are the gang (while only leaving pods are left, they are).
        group["members"] = members = [p for p in pods if not p.deleting] if group["gang"] else pods
        members = members or pods
        group["created"] = min(now, *(snap.epoch(p.created_at, now) for p in members))
        group["priority"] = members[0].priority
        group["grace"] = max(p.grace_seconds for p in members)
        demand = {r: 0 for r in resources}
        for pod in members:
            for r in resources:
                demand[r] += 1 if r == "pods" else pod.requests.get(r, 0)
        group["demand"] = demand
        group["gated"] = [p for p in pods if snap.GATE in p.scheduling_gates]
        # Other scheduling gates on our gated pods are external admission checks (A4c): the engine
        # reserves quota while they are pending and admits once their controllers removed them.
        group["checks"] = tuple(sorted({gate for p in group["gated"] for gate in p.scheduling_gates} - {snap.GATE}))
        size, notes = gangs.gang_size(pods) if group["gang"] else (1, [])
        minimum, more = gangs.gang_min(pods, size, gated=bool(group["gated"]))
        group["size"], group["notes"] = size, group["notes"] + notes + more
        # P4: per-pod demand × gang-min (the gang's pods are alike, gang_min checked it).
        group["elastic_min"] = ({r: q * minimum for r, q in gangs.per_pod(pods[0], resources).items()}
                                if minimum is not None else None)
    return groups


def _pass(cluster: Cluster, now: int) -> dict:
    clock = _Clock()
    backend = cluster_backend(cluster)
    record, _ = EngineSnapshot.objects.get_or_create(cluster=cluster)
    capacity = _capacity(backend)
    namespaces = dict(Namespace.objects.filter(cluster=cluster).values_list("name", "tenant_id"))
    candidate, leaves = snap.build_config(capacity=capacity, version=record.config_version + 1)
    leaf_of_tenant = {tenant: leaf for leaf, tenant in leaves.items()}
    config, decisions_before = _config_in_force(record, candidate, now)
    if config is None:
        _record(cluster, record, None, State(), decisions_before, {}, now)
        return {"decisions": len(decisions_before), "config": "rejected"}

    state = snap.state_from_json(record.state)
    before = dict(state.allocations)
    requests_before = {r.key: r for r in SchedulingRequest.objects.filter(cluster=cluster)}
    groups = _observe(backend, namespaces, config.resources, now)
    replaced = _made_again(groups, requests_before, state)
    state, released, unadmitted = _apply_events(state, groups, leaf_of_tenant, now, replaced)
    state = engine.set_capacity(state, {r: capacity.get(r, 0) for r in config.resources})
    state, adopted = adoption.adopt(config, state, unadmitted, now)
    shrunk = shrinks.Ledger.from_json(record.shrinks)
    for key in replaced:  # a hold kept the old pod's admission gated; the new pod has none yet
        shrunk.holds.pop(key, None)
    state = shrinks.settle(shrunk, state, groups, now)
    state = admitted_room.count_what_runs(state, groups, shrunk)
    clock.lap("observe")
    # The pass and the persistence of its explained decisions, with the cyclic collector paused
    # (engine.collector_paused): explaining thousands of decisions builds as many long-lived
    # objects again, and the collector would otherwise keep re-scanning the whole state.
    with engine.collector_paused():
        plan = engine.decide(config, state, now)
        decisions = [*decisions_before, *plan.decisions]
        shrinks.record(shrunk, plan.decisions, plan.state, groups, now, resources=config.resources,
                       release_slack=config.settings.release_slack)
        tenant_of = {key: g["tenant"] for key, g in groups.items()}
        clock.lap("decide")
        explain_all(decisions)  # every decision is persisted explained: build them all at once
        rows = _record(cluster, record, config, plan.state, decisions, tenant_of, now, state_hash=plan.state_hash,
                       groups=groups, before=before, released=released, shrunk=shrunk, adopted=adopted,
                       requests_before=requests_before, replaced=replaced)
        clock.lap("record")
    enacted = _enact(backend, plan.state, groups, shrunk)
    clock.lap("enact")
    return {"decisions": len(decisions), "enacted": enacted, "requests": len(plan.state.requests), "rows": rows,
            "seconds": clock.laps}


class _Clock:
    """Seconds per phase of a pass (observe, decide, record, enact), for logs and the B7 benchmark."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


# Clusters whose last pass could not reach them: pk → (failures in a row, monotonic time of the next
# try, the error). A hung API server costs a pass its whole timeout; retried every pass, one such
# cluster would eat the tick of every other. Per worker process (the scheduling queue has one).
_unreachable: dict[int, tuple[int, float, str]] = {}
UNREACHABLE_PAUSE_MAX = 30.0  # seconds between tries of a cluster that keeps failing
_turn = [0]


def _rest(cluster: Cluster, error: str) -> None:
    failures = _unreachable.get(cluster.pk, (0, 0.0, ""))[0] + 1
    if failures == 1:  # once per outage, not once a second
        log.warning("scheduling: cluster %s cannot be reached, retrying with pauses: %s", cluster.name, error)
    _unreachable[cluster.pk] = (failures, time.monotonic() + min(UNREACHABLE_PAUSE_MAX, 2.0 ** (failures - 1)), error)


def _in_turn(clusters: list) -> list:
    """The clusters, starting one further each tick: a slow one never always goes before the same others."""
    if not clusters:
        return clusters
    _turn[0] = (_turn[0] + 1) % len(clusters)
    return clusters[_turn[0]:] + clusters[:_turn[0]]


def _capacity(backend) -> dict[str, int]:
    from backends.quantities import canonical_requests

    total: dict[str, int] = {}
    for node in backend.list_nodes():
        if not node.ready or node.unschedulable:
            continue
        for r, v in {**canonical_requests(node.allocatable), "pods": int(node.allocatable.get("pods", 0) or 0)}.items():
            total[r] = total.get(r, 0) + v
    return total


def _config_in_force(record: EngineSnapshot, candidate: Config, now: int):
    """The current config version, switching to ``candidate`` when the plans changed (V6).

    Plans the engine refuses are remembered whatever is in force: the refusal (one
    REJECT_INVALID_CONFIG decision) is recorded once per change of the plans into an invalid
    config, the previous version stays in force (P18), and the passes that follow decide nothing
    about it, so they go idle instead of recording the refusal again every second. Once the plans
    are back to those in force, a later mistake is refused anew, even the same one."""
    digest = snap.config_digest(candidate)
    current = snap.config_from_json(record.config) if record.config else None
    if current is not None and digest == record.config_digest:
        record.rejected_digest = ""
        return current, []
    if digest == record.rejected_digest:
        return current, []
    chosen, decisions = engine.switch_config(current, candidate, now)
    if chosen is candidate:
        record.config, record.config_digest, record.config_version = (snap.config_to_json(candidate), digest,
                                                                       candidate.version)
        record.rejected_digest = ""
    else:
        record.rejected_digest = digest
    return chosen, decisions


def _made_again(groups: dict, rows: dict, state: State) -> frozenset[str]:
    """Requests of one pod whose pod is not the one the engine decided about: it was deleted and
    made again under the same name (a StatefulSet's rolling update, a pod recreated by hand)
    between two passes, so the cycle never saw the name go. The new pod has not been admitted,
    and may ask for more or run at another priority: it is another request, which waits its turn.

    Told by the pod's uid, and by what it asks (a pod's requests cannot change in place — if its
    server resizes running pods, a resized pod is taken anew, at its new size). Not an evicted
    pod's replacement that asks the same: the engine queued the evicted request again for it (the
    controller recreates what was evicted; engine.release), and it keeps its history and place.
    A gang is told apart by what it asks instead (_gang_made_again).

    And a request the engine holds no capacity for whose pods run all the same: someone removed
    the gate (Kubernetes' edit role allows it) from a pod the engine kept waiting. It ends, and its
    pods are adopted as a pod made without the gate is (adoption.py): the engine counts what they
    hold, and owners can take it back."""
    out = set()
    for key, g in groups.items():
        q = state.requests.get(key)
        if q is None:
            continue
        if key not in state.allocations and shrinks.live(g):  # ungated, not leaving: they hold capacity
            out.add(key)
            continue
        if g["gang"]:
            if _gang_made_again(q, g):
                out.add(key)
            continue
        if _asked(q.demand) != _asked(g["demand"]) or q.priority != g["priority"]:
            out.add(key)
            continue
        row = rows.get(key)
        if row is None or not row.pod_uid or any(pod.uid == row.pod_uid for pod in g["pods"]):
            continue
        alloc, st = state.allocations.get(key), state.status.get(key)
        evicted = (alloc is not None and alloc.terminating) or (
            st is not None and st.state in ("Pending", "Reserved") and st.times_preempted > 0)
        if not evicted:
            out.add(key)
    return frozenset(out)


def _gang_made_again(q: Request, g: dict) -> bool:
    """A gang's pods come and go under one request (gangs.py), so its pods' uids do not tell it
    apart.  While any pod of it is ungated (running, or leaving but still listed), it is the
    request those pods were admitted with, and pods that join it wait within that admission
    (admitted_room.py): its old pods' capacity is only free once they are gone, as an evicted
    pod's is.  While none is, its pods were
    made again (or changed before it was admitted) if they ask for something else than the
    request or run at another priority: it is another request, which waits its turn, as a single
    pod made again asking more does.  While some of its pods are still to come (an evicted gang's
    replacements, a gang being made again), only asking for more than the request is certain."""
    members = g["members"]
    if not members or shrinks.placed(g):
        return False  # ungated pods, even leaving ones, hold capacity until Kubernetes no longer lists them
    asked = _asked(g["demand"])
    if g["priority"] != q.priority:
        return True
    if len(members) < g["size"]:
        return any(amount > q.demand.get(r, 0) for r, amount in asked.items())
    return asked != _asked(q.demand)


def _asked(demand: dict[str, int]) -> dict[str, int]:
    """A demand without its zeros: a resource the cluster gains is not a change of what a pod asks."""
    return {r: q for r, q in demand.items() if q}


def _apply_events(state: State, groups: dict, leaf_of_tenant: dict[int, str],
                  now: int, replaced: frozenset[str] = frozenset()) -> tuple[State, list[str], list[Request]]:
    """Bring the engine's view in line with the pods the cluster has now; also returns the evicted
    requests whose pods are gone, and the running pods the engine did not admit (made before the
    portal, or without the gate) for adoption.py. An evicted pod stays in the listing, Terminating,
    for its whole grace: only once Kubernetes no longer lists it is its capacity released (and
    transferred). An evicted gang's controller recreates its pods at once, under the same gang and
    gated: they hold nothing, so the gang is released when no pod of it is left ungated.
    ``replaced``: requests whose pod was made again (_made_again): they end, and the new pod is
    submitted under the same id."""
    gone = [rid for rid in state.requests if rid not in groups or rid in replaced]
    released = sorted(rid for rid, a in state.allocations.items()
                      if a.terminating and (rid not in groups or not shrinks.placed(groups[rid])))
    state = engine.release(state, released, now)
    state = engine.finish(state, gone)
    cleared = {}  # request → external checks whose gates have been removed since the last pass
    for key, g in groups.items():
        q = state.requests.get(key)
        if q is not None and q.gates:
            done = sorted(set(q.gates) - set(g.get("checks", ())))
            if done:
                cleared[key] = done
    for key in sorted(cleared):
        state = engine.clear_gates(state, [key], cleared[key])
    new, adopted = [], []
    for key, g in sorted(groups.items()):
        leaf = leaf_of_tenant.get(g["tenant"])
        if leaf is None or key in state.requests:
            continue
        runs = bool(shrinks.live(g))  # pods that run, ungated by someone else
        if g["gated"] and len(g["members"]) < g["size"] and not runs:
            continue  # a gang is one request only once all its pods exist
        for note in g["notes"]:  # once, when the request is made; the request row keeps showing them
            log.warning("%s: %s", key, note)
        # Pods that run without an admission are adopted for what they hold, and only that: pods of
        # theirs still gated stay so, held back beyond it (admitted_room.py), not admitted along.
        demand = admitted_room.running_demand(g) if g["gated"] and runs else g["demand"]
        request = Request(id=key, leaf=leaf, demand=demand, priority=g["priority"], created_at=g["created"],
                          reclaim_grace=g["grace"], elastic_min=None if runs else g["elastic_min"],
                          gates=() if runs else g.get("checks", ()) if g["gated"] else ())
        (adopted if runs or not g["gated"] else new).append(request)
    return engine.submit(state, new), released, adopted


def _record(cluster, record, config, state, decisions, tenant_of, now, *, state_hash="", groups=None, before=None,
            released=frozenset(), shrunk: shrinks.Ledger | None = None, adopted: dict | None = None,
            requests_before: dict | None = None, replaced: frozenset[str] = frozenset()) -> int:
    """Decisions, bindings, request rows, the engine state and the shrink ledger in one transaction;
    returns rows written. ``requests_before``: the request rows as the pass found them (read
    again if not given); ``replaced``: requests whose pod was made again (_made_again).

    Messages keep the engine's ids (t<pk> nodes, <namespace>/<name> requests): who reads them
    decides what they name, and that is decided when they are read (redact.py)."""
    tenants = set(Tenant.objects.values_list("pk", flat=True))
    groups = groups or {}
    shrunk = shrunk or shrinks.Ledger()
    version = config.version if config else record.config_version
    last = {}  # request → the pass's last decision about it (as preemptor or victim)
    for d in decisions:
        for key in (d.request, d.victim):
            if key:
                last[key] = d
    with transaction.atomic():
        SchedulingDecision.objects.bulk_create([SchedulingDecision(
            cluster=cluster, tenant_id=tenant_of.get(d.request or d.victim or ""), pass_seq=state.pass_seq,
            config_version=version, state_hash=state_hash, action=d.action, reason=d.reason,
            request=d.request or "", victim=d.victim or "", preemptor=d.preemptor or "", facts=_jsonable(d.facts),
            message=d.message + _enacted_note(d, shrunk)) for d in decisions])
        rows = []
        if config is not None:
            open_ids = dict(Binding.objects.filter(cluster=cluster).open().values_list("request", "id"))

            shares = None

            def resized(key, alloc) -> dict:  # a hold the engine shrank (P4): its share and pods now
                nonlocal shares
                shares = shares or held_shares(config, state)
                share, scope, borrowed = shares(alloc)
                entry = shrunk.gangs.get(key)
                pods = shrinks.kept(groups[key], entry["pods"]) if entry and key in groups else None
                return {"share": share, "lender_scope": scope, "borrowed": borrowed, "pods": pods}

            rows = pass_bindings(cluster_id=cluster.pk, open_ids=open_ids, before=before or {},
                                 after=state.allocations, decisions=decisions, groups=groups, released=set(released),
                                 tenants=tenants, pass_seq=state.pass_seq, config_version=version, resized=resized,
                                 adopted=adopted, replaced=replaced)
            Binding.objects.bulk_create(rows)
        if requests_before is None:
            requests_before = {r.key: r for r in SchedulingRequest.objects.filter(cluster=cluster)}
        overrides = {**adoption.request_rows(state, adopted or {}),
                     **admitted_room.rows(state, groups, shrunk, requests_before),
                     **shrinks.rows(shrunk, state, groups)}
        written = _sync_requests(cluster, state, groups, last, overrides, requests_before, replaced)
        record.state = snap.state_to_json(state)
        record.shrinks = shrunk.to_json()
        record.pass_seq = state.pass_seq
        record.save()
    return len(decisions) + len(rows) + written


def _enacted_note(d, shrunk: shrinks.Ledger) -> str:
    """What the cycle does about a decision the engine cannot see through: a shrink (P4) and an
    admission on a shrink's capacity both wait for the gang's pods beyond its new size."""
    if d.action == "SHRINK":
        return shrinks.shrink_note(shrunk, d)
    if d.action == "ADMIT" and (d.facts or {}).get("shrunk") and d.request in shrunk.holds:
        return " Its pods stay gated until the gang's pods beyond its new size are gone."
    return ""


REQUEST_FIELDS = ["tenant_id", "namespace", "name", "demand", "state", "reason", "message", "facts", "share",
                  "lender_scope", "notes", "pod_uid"]


def _sync_requests(cluster, state, groups: dict, last: dict, overrides: dict, existing: dict | None = None,
                   replaced: frozenset[str] = frozenset()) -> int:
    """Each request's latest word: insert new rows, update changed ones, drop those whose pods are gone.
    ``overrides``: what the cycle adds to the engine's word (shrinks.rows); ``existing``: the rows
    by key (read here if not given); ``replaced``: requests whose pod was made again, whose rows
    are dropped and made anew (an id names one pod: the old one's stays with its decisions).

    A waiting request the pass decided nothing about still reads its current status: the engine
    speaks again only when the reason or the binding constraint changes (A10), not when the
    numbers at the binding node do, and the row must not keep stale numbers (_StandingWord).

    Bulk statements, and only for rows that changed: an unchanged cluster writes nothing."""
    if existing is None:
        existing = {r.key: r for r in SchedulingRequest.objects.filter(cluster=cluster)}
    gone = [row.pk for key, row in existing.items() if key not in groups or key in replaced]
    existing = {key: row for key, row in existing.items() if key in groups and key not in replaced}
    stamp = timezone.now()
    standing = _StandingWord(state)
    new, changed, reworded = [], [], []
    for key, g in groups.items():
        st = state.status.get(key)
        if st is None:
            continue
        namespace, name = key.split("/", 1)
        values = {"tenant_id": g["tenant"], "namespace": namespace, "name": name, "demand": g["demand"],
                  "state": st.state, "reason": st.reason, "notes": g["notes"],
                  "pod_uid": "" if g["gang"] else g["pods"][0].uid}
        d = last.get(key)
        if d is not None:
            values.update(message=d.message, facts=_jsonable(d.facts))
            if d.action == "ADMIT":
                values["share"], values["lender_scope"], _ = share_of(d, g["demand"])
        elif st.state in _WAITING:
            word = standing(key, st)
            if word is not None:
                values["message"], values["facts"] = word
        extra = overrides.get(key)
        if extra:
            values.update(extra)
        row = existing.get(key)
        if row is None:
            new.append(SchedulingRequest(cluster=cluster, key=key, first_pass=state.pass_seq, **values))
        else:
            diff = [f for f, v in values.items() if getattr(row, f) != v]
            if not diff:
                continue
            for f in diff:
                setattr(row, f, values[f])
            row.updated_at = stamp  # bulk_update does not touch auto_now fields
            (reworded if all(f in _WORDING for f in diff) else changed).append(row)
    SchedulingRequest.objects.filter(pk__in=gone).delete()  # first: a replaced request's row is made anew
    SchedulingRequest.objects.bulk_create(new)
    SchedulingRequest.objects.bulk_update(changed, [*REQUEST_FIELDS, "updated_at"], batch_size=500)
    # A tenant's usage moving rewords all its waiting rows at once: a statement of three fields per
    # row rather than twelve (a quarter of the time for 2,000 rows).
    SchedulingRequest.objects.bulk_update(reworded, [*_WORDING, "updated_at"], batch_size=500)
    return len(new) + len(changed) + len(reworded) + len(gone)


_WAITING = frozenset({"Pending", "Reserved"})
_WORDING = ("message", "facts")  # what _StandingWord refreshes


class _StandingWord:
    """The message and facts a waiting request's decision would carry if the engine made it now:
    a PENDING decision's for a Pending request (allocate.emit_pending), a RESERVE decision's for
    one holding quota while its admission checks run (gates._reserve: the checks still to pass
    change without a decision). A reservation behind victims has nothing to refresh (its victims
    are fixed while it holds) and keeps its RESERVE decision's word: None.

    Built once per status object: a pass's verdicts share statuses (evaluate._pending), so a
    few thousand waiting pods cost a few distinct facts; only the message names the request."""

    def __init__(self, state: State):
        self._requests = state.requests
        self._shared: dict[int, dict] = {}  # allocate._pending_facts' memo, by status identity
        # By identity too: every status looked up is held by the state for the whole sync.
        self._pending: dict[int, tuple[dict, dict]] = {}  # → (facts, as stored)

    def __call__(self, key: str, st: Status) -> tuple[str, dict] | None:
        if st.state == "Pending":
            known = self._pending.get(id(st))
            if known is None:
                facts = _pending_facts(st, self._shared)
                known = self._pending[id(st)] = (facts, _jsonable(facts))
            return message("PENDING", st.reason, key, known[0]), known[1]
        if st.reason == Reason.PENDING_GATES and not st.victims:  # one status per request: no memo
            facts = dict(st.detail, leaf=self._requests[key].leaf)
            return message("RESERVE", st.reason, key, facts), _jsonable(facts)
        return None


ENACT_THREADS = 8  # cluster calls in flight at once: enactment waits on the API server, not on us


def _enact(backend, state: State, groups: dict, shrunk: shrinks.Ledger) -> dict:
    """Make the cluster follow the recorded state; every call is idempotent, so order does not matter
    and the calls go out concurrently (a pass that admits hundreds of pods is otherwise as slow as
    hundreds of round trips).

    Admitted pods are ungated, except those of a request waiting for a shrunk gang's pods to go
    and a shrunk gang's surplus; evicted requests lose their ungated pods (the gated ones hold
    nothing: they are the replacements the gang will be admitted with again); shrunk gangs lose
    their pods beyond their new size (shrinks.py)."""
    calls = []
    held = shrinks.held(shrunk)

    def evict(key, pods):
        return [("evicted", key, partial(backend.evict, pod.namespace, pod.name, grace_seconds=pod.grace_seconds))
                for pod in pods]

    for key, g in groups.items():
        st = state.status.get(key)
        alloc = state.allocations.get(key)
        if alloc is not None and alloc.terminating:
            calls += evict(key, [pod for pod in shrinks.placed(g) if not pod.deleting])
        elif st is not None and st.state == "Admitted" and g["gated"] and key not in held and alloc is not None:
            # Never more than the request was admitted for (admitted_room.py), nor than a shrink keeps.
            gated = admitted_room.ungatable(g, alloc.demand)
            room = shrinks.ungate_room(shrunk, key, g)
            if room is not None:
                gated = gated[:room]
            calls += [("ungated", key, partial(backend.remove_scheduling_gate, pod.namespace, pod.name, snap.GATE,
                                               gates=pod.scheduling_gates, uid=pod.uid or None)) for pod in gated]
    for pod in shrinks.to_evict(shrunk, groups):
        calls += evict(f"{pod.namespace}/{pod.name}", [pod])
    done = {"ungated": 0, "evicted": 0}
    if not calls:
        return done

    def run(call) -> tuple[str, int]:
        kind, key, fn = call
        try:
            return kind, int(fn())
        except BackendError as exc:  # the next pass re-enacts; one stubborn pod must not stall the rest
            log.warning("enacting %s failed: %s", key, exc)
            return kind, 0

    with ThreadPoolExecutor(max_workers=min(ENACT_THREADS, len(calls))) as pool:
        for kind, n in pool.map(run, calls):
            done[kind] += n
    return done


def _jsonable(facts) -> dict:
    return json.loads(json.dumps(facts or {}, default=str))

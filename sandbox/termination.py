"""Graceful pod deletion, as the API server and kubelet do it.

A DELETE (or an Eviction) of a pod that is bound to a node and not finished does not remove it:
the API server sets ``metadata.deletionTimestamp`` (now + grace) and
``deletionGracePeriodSeconds``; the pod stays readable, Terminating, still holding its node's
resources, until the kubelet has stopped its containers and deletes it with grace 0. The grace is
``DeleteOptions.gracePeriodSeconds`` if sent, else ``spec.terminationGracePeriodSeconds`` (30 by
default). An unbound or finished pod has no kubelet to wait for and goes at once; a second DELETE
may only shorten the grace (0 = now). The rules follow Kubernetes' ``podStrategy.CheckGracefulDelete``
and ``rest.BeforeDelete``.

The simulated kubelet takes the whole grace (a container that ignores SIGTERM: the worst case the
portal's scheduler must plan for). Deadlines are kept to the sub-second here, because
deletionTimestamp has whole seconds only; ``finish_due`` runs on every controller tick, and
``POST /sandbox/terminations`` ends every grace at once for tests that should not wait.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta

from .admission import TERMINAL


def grace_seconds(pod: dict, options: dict) -> int:
    """The grace this DELETE asks for (CheckGracefulDelete)."""
    sent = options.get("gracePeriodSeconds")
    grace = int(sent) if sent is not None else int(pod.get("spec", {}).get("terminationGracePeriodSeconds") or 0)
    if not pod.get("spec", {}).get("nodeName") or pod.get("status", {}).get("phase") in TERMINAL:
        return 0
    return max(0, grace)


def delete_pod(api, res, ns: str, name: str, options: dict, *, uid: str = "", rv: str = "") -> dict:
    """DELETE of a pod under the store lock: Terminating for its grace, or gone now."""
    store = api.store
    pod = store.get(res, ns, name)
    if (uid and uid != pod["metadata"]["uid"]) or (rv and rv != pod["metadata"]["resourceVersion"]):
        return store.delete(res, ns, name, uid=uid, rv=rv)  # the store answers the precondition's 409
    meta = pod["metadata"]
    if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds"):
        sent = options.get("gracePeriodSeconds")
        if sent is None or int(sent) >= meta["deletionGracePeriodSeconds"]:
            return pod  # graceful deletion already pending; only a shorter grace changes it
        grace = max(0, int(sent))
        deadline = api.terminations.get(meta["uid"], time.time()) - meta["deletionGracePeriodSeconds"] + grace
    else:
        grace = grace_seconds(pod, options)
        deadline = time.time() + grace
    if grace == 0 or store.is_dry:
        api.terminations.pop(meta["uid"], None)
        return store.delete(res, ns, name)
    marked = copy.deepcopy(pod)
    marked["metadata"]["deletionTimestamp"] = _iso(deadline)
    marked["metadata"]["deletionGracePeriodSeconds"] = grace
    api.terminations[meta["uid"]] = deadline
    return store.update(res, marked, check_rv=False, raw=True)


def finish_due(api, *, now: float | None = None, namespace: str | None = None) -> int:
    """The kubelet's side: pods whose grace has run out are deleted (finalizers still hold them)."""
    res = api.res("v1", "pods")
    now = time.time() if now is None else now
    done = 0
    with api.store.lock:
        for pod in list(api.store.peek(res, namespace)):
            uid = pod["metadata"]["uid"]
            deadline = api.terminations.get(uid)
            if deadline is None or deadline > now:
                continue
            api.terminations.pop(uid, None)
            api.store.delete(res, pod["metadata"]["namespace"], pod["metadata"]["name"])
            done += 1
        # Pods removed by other paths (node removal, namespace teardown) leave no deadline behind.
        for uid in [u for u in api.terminations if not api.store.exists_uid(u)]:
            api.terminations.pop(uid, None)
    return done


def _iso(epoch: float) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(epoch))).strftime("%Y-%m-%dT%H:%M:%SZ")

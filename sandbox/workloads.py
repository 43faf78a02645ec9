"""Workload reconcilers (deployment → replicasets, statefulset, daemonset, job), simplified:
rollouts replace old replicasets as the new one becomes ready; statefulsets go in ordinal order."""

from __future__ import annotations

import copy

from . import kubelet
from .admission import TERMINAL
from .handlers import random_suffix
from .store import now_iso

REVISION = "deployment.kubernetes.io/revision"


def reconcile_deployment(ctl, d: dict) -> None:
    from .controllers import template_hash

    rs_res, deploy_res = ctl.r("apps/v1", "replicasets"), ctl.r("apps/v1", "deployments")
    ns, name, replicas = d["metadata"]["namespace"], d["metadata"]["name"], d["spec"].get("replicas", 1)
    template = copy.deepcopy(d["spec"]["template"])
    phash = template_hash(template)
    owned = ctl.owned(rs_res, d)
    new = next((rs for rs in owned if rs["metadata"].get("labels", {}).get("pod-template-hash") == phash), None)
    revisions = [int(rs["metadata"].get("annotations", {}).get(REVISION, 0)) for rs in owned]
    if new is None:
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = phash
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
        revision = str(max(revisions, default=0) + 1)
        rs = {"metadata": {"name": f"{name}-{phash}", "namespace": ns, "labels": template["metadata"]["labels"],
                           "annotations": {REVISION: revision},
                           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                "uid": d["metadata"]["uid"], "controller": True,
                                                "blockOwnerDeletion": True}]},
              "spec": {"replicas": replicas, "selector": selector, "template": template}}
        new = ctl.api.create(rs_res, ns, rs, manager="kube-controller-manager")
        ctl.emit(d, "ScalingReplicaSet", f"Scaled up replica set {new['metadata']['name']} to {replicas}")
        owned.append(new)
    elif new["spec"].get("replicas") != replicas:
        new["spec"]["replicas"] = replicas
        new = ctl.put(rs_res, new)
    # Old replicasets shrink as the new one's pods become ready (a rolling update without surge).
    allowed = max(0, replicas - new.get("status", {}).get("readyReplicas", 0))
    olds = sorted((rs for rs in owned if rs is not new and rs["metadata"]["uid"] != new["metadata"]["uid"]),
                  key=lambda rs: -int(rs["metadata"].get("annotations", {}).get(REVISION, 0)))
    for rs in olds:
        keep = min(rs["spec"].get("replicas", 0), allowed)
        allowed -= keep
        if rs["spec"].get("replicas") != keep:
            rs["spec"]["replicas"] = keep
            ctl.put(rs_res, rs)
            ctl.emit(d, "ScalingReplicaSet", f"Scaled down replica set {rs['metadata']['name']} to {keep}")
    for rs in [rs for rs in olds if rs["spec"].get("replicas") == 0][d["spec"].get("revisionHistoryLimit", 10):]:
        ctl.api.store.delete(rs_res, ns, rs["metadata"]["name"])
    everyone = [new] + olds
    st = lambda key: sum(rs.get("status", {}).get(key, 0) for rs in everyone)  # noqa: E731
    available = st("availableReplicas")
    complete = new.get("status", {}).get("availableReplicas", 0) >= replicas and st("replicas") == replicas
    d["metadata"].setdefault("annotations", {})[REVISION] = new["metadata"]["annotations"][REVISION]
    d["status"] = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": st("replicas"),
                   "updatedReplicas": new.get("status", {}).get("replicas", 0), "readyReplicas": st("readyReplicas"),
                   "availableReplicas": available, "unavailableReplicas": max(0, replicas - available),
                   "conditions": [
                       _cond("Available", available >= replicas, "MinimumReplicasAvailable" if available >= replicas
                             else "MinimumReplicasUnavailable", "Deployment has minimum availability."),
                       _cond("Progressing", True, "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                             f'ReplicaSet "{new["metadata"]["name"]}" '
                             + ("has successfully progressed." if complete else "is progressing."))]}
    if not d["status"]["readyReplicas"]:
        d["status"].pop("readyReplicas")
    ctl.put(deploy_res, d)


def _cond(kind: str, ok: bool, reason: str, message: str) -> dict:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message,
            "lastUpdateTime": _now(), "lastTransitionTime": _now()}


def _now() -> str:
    return now_iso()


def reconcile_statefulset(ctl, sts: dict) -> None:
    from .controllers import template_hash

    name, replicas = sts["metadata"]["name"], sts["spec"].get("replicas", 1)
    revision = f"{name}-{template_hash(sts['spec']['template'])}"
    parallel = sts["spec"].get("podManagementPolicy") == "Parallel"
    pods = {p["metadata"]["name"]: p for p in ctl.owned(ctl.r("v1", "pods"), sts)}
    for i in range(replicas):
        pod_name = f"{name}-{i}"
        if pod_name not in pods:
            labels = {"controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pod_name,
                      "apps.kubernetes.io/pod-index": str(i)}
            template = copy.deepcopy(sts["spec"]["template"])
            template.setdefault("spec", {}).setdefault("hostname", pod_name)
            ctl.create_pod(sts, template, pod_name, labels)
            if not parallel:
                break
        elif not parallel and not kubelet.is_ready(pods[pod_name]):
            break
    extra = sorted((p for n, p in pods.items() if int(n.rsplit("-", 1)[1]) >= replicas),
                   key=lambda p: -int(p["metadata"]["name"].rsplit("-", 1)[1]))
    for pod in extra[: None if parallel else 1]:
        ctl.delete_pod(pod)
    current = [p for n, p in pods.items() if int(n.rsplit("-", 1)[1]) < replicas]
    stale = [p for p in current if p["metadata"].get("labels", {}).get("controller-revision-hash") != revision]
    if stale and len(current) == replicas and all(kubelet.is_ready(p) for p in current):
        ctl.delete_pod(max(stale, key=lambda p: int(p["metadata"]["name"].rsplit("-", 1)[1])))
    ready = sum(1 for p in current if kubelet.is_ready(p))
    sts["status"] = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(current),
                     "readyReplicas": ready, "availableReplicas": ready, "currentReplicas": len(current) - len(stale),
                     "updatedReplicas": len(current) - len(stale), "currentRevision": revision,
                     "updateRevision": revision, "collisionCount": 0}
    ctl.put(ctl.r("apps/v1", "statefulsets"), sts)


def reconcile_daemonset(ctl, ds: dict) -> None:
    from .controllers import template_hash

    revision = template_hash(ds["spec"]["template"])
    spec = ds["spec"]["template"].get("spec", {})
    nodes = [n for n in ctl.api.store.list(ctl.r("v1", "nodes")) if kubelet.node_ready(n)
             and kubelet.selector_fits(spec, n) and kubelet.untolerated(spec, n) is None]
    eligible = {n["metadata"]["name"] for n in nodes}
    pods = [p for p in ctl.owned(ctl.r("v1", "pods"), ds) if p["status"].get("phase") not in TERMINAL]
    on_node = {p["spec"].get("nodeName"): p for p in pods}
    for node in sorted(eligible - set(on_node)):
        ctl.create_pod(ds, ds["spec"]["template"], f"{ds['metadata']['name']}-{random_suffix()}",
                       {"controller-revision-hash": revision}, node=node)
    for node, pod in on_node.items():
        if node not in eligible:
            ctl.delete_pod(pod)
    stale = [p for p in pods if p["metadata"].get("labels", {}).get("controller-revision-hash") != revision]
    if stale and all(kubelet.is_ready(p) for p in pods):
        ctl.delete_pod(stale[0])  # one at a time, like maxUnavailable: 1
    ready = sum(1 for p in pods if kubelet.is_ready(p) and p["spec"].get("nodeName") in eligible)
    ds["status"] = {"observedGeneration": ds["metadata"].get("generation", 1), "desiredNumberScheduled": len(eligible),
                    "currentNumberScheduled": len(set(on_node) & eligible), "numberReady": ready,
                    "numberAvailable": ready, "updatedNumberScheduled": len(pods) - len(stale),
                    "numberMisscheduled": len(set(on_node) - eligible)}
    ctl.put(ctl.r("apps/v1", "daemonsets"), ds)


def reconcile_job(ctl, job: dict) -> None:
    status = job.setdefault("status", {})
    if any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in status.get("conditions", [])):
        return
    spec = job["spec"]
    pods = ctl.owned(ctl.r("v1", "pods"), job)
    succeeded = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
    failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
    active = [p for p in pods if p["status"].get("phase") not in TERMINAL]
    status.update(startTime=status.get("startTime") or _now(), succeeded=succeeded, failed=failed,
                  active=len(active), ready=sum(1 for p in active if kubelet.is_ready(p)))
    completions = spec.get("completions", 1)
    if succeeded >= completions:
        status["completionTime"] = _now()
        status["conditions"] = [_cond("Complete", True, "", "")]
    elif failed > spec.get("backoffLimit", 6):
        status["conditions"] = [_cond("Failed", True, "BackoffLimitExceeded", "Job has reached the specified backoff "
                                      "limit")]
        for pod in active:
            ctl.delete_pod(pod)
    else:
        labels = {"job-name": job["metadata"]["name"], "batch.kubernetes.io/job-name": job["metadata"]["name"],
                  "controller-uid": job["metadata"]["uid"]}
        for _ in range(min(spec.get("parallelism", 1), completions - succeeded) - len(active)):
            ctl.create_pod(job, spec["template"], f"{job['metadata']['name']}-{random_suffix()}", labels)
    for key in ("succeeded", "failed"):
        if not status[key]:
            status.pop(key)
    ctl.put(ctl.r("batch/v1", "jobs"), job)


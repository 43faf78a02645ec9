"""Server-side printing (``as=Table``) for kubectl get: the columns kubectl users expect."""

from __future__ import annotations

from datetime import UTC, datetime


def _age(obj: dict) -> str:
    ts = obj["metadata"].get("creationTimestamp")
    if not ts:
        return "<unknown>"
    secs = int((datetime.now(UTC) - datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size * 2 or (unit == "m" and secs >= 120):
            return f"{secs // size}{unit}"
    return f"{max(secs, 0)}s"


def _pod(o: dict) -> list:
    statuses = o.get("status", {}).get("containerStatuses", [])
    ready = sum(1 for s in statuses if s.get("ready"))
    gated = o["spec"].get("schedulingGates") and o.get("status", {}).get("phase") == "Pending"
    return [f"{ready}/{len(o['spec'].get('containers', []))}",
            "SchedulingGated" if gated else o.get("status", {}).get("phase", ""),
            sum(s.get("restartCount", 0) for s in statuses), o.get("status", {}).get("podIP") or "<none>",
            o["spec"].get("nodeName") or "<none>"]


def _event(o: dict) -> list:
    involved = o.get("involvedObject", {})
    return [o.get("type", ""), o.get("reason", ""), f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
            o.get("message", "")]


def _deploy(o: dict) -> list:
    st = o.get("status", {})
    return [f"{st.get('readyReplicas', 0)}/{o['spec'].get('replicas', 1)}", st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0)]


def _node(o: dict) -> list:
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in o.get("status", {}).get("conditions", []))
    return ["Ready" if ready else "NotReady", "<none>", o.get("status", {}).get("nodeInfo", {}).get("kubeletVersion")]


COLUMNS = {
    "pods": ([("Ready", "string"), ("Status", "string"), ("Restarts", "integer"), ("IP", "string", 1),
              ("Node", "string", 1)], _pod),
    "events": ([("Type", "string"), ("Reason", "string"), ("Object", "string"), ("Message", "string")], _event),
    "deployments": ([("Ready", "string"), ("Up-to-date", "integer"), ("Available", "integer")], _deploy),
    "nodes": ([("Status", "string"), ("Roles", "string"), ("Version", "string")], _node),
}


def maybe_table(res, listing: dict, accept: str) -> dict:
    if "as=Table" not in accept:
        return listing
    extra, cells = COLUMNS.get(res.plural, ([], lambda o: []))
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    columns += [{"name": n, "type": t, "format": "", "description": n, "priority": p}
                for n, t, p in ((c + (0,))[:3] for c in extra)]
    columns.append({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0})
    rows = []
    for obj in listing["items"]:
        partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        rows.append({"cells": [obj["metadata"]["name"], *cells(obj), _age(obj)], "object": partial})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": listing["metadata"],
            "columnDefinitions": columns, "rows": rows}

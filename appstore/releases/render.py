"""From ``helm template`` output to the objects the portal applies, and what they cost.

Pure: standard library, PyYAML and backends.quantities only (an import-linter contract
keeps it so). Invariants of ``prepare``:

- every object lands in the release namespace (``metadata.namespace`` is forced) and
  carries the release labels; known cluster-scoped kinds are refused (``policy_violation``;
  the worker asks the cluster's discovery too, for custom resources), and so are the objects
  the portal keeps for itself and RBAC beyond a tenant admin's roles (``policy``);
- every pod template (Pod, ReplicationController, Deployment, StatefulSet, DaemonSet,
  ReplicaSet, Job, CronJob) carries the same labels and the ``bluedock.io/admission``
  scheduling gate, so no pod of a release is scheduled before the portal's admission has
  seen it, plus the tenant's required admission checks as gates of their own (their
  controllers remove them; spec A4c); any other object carrying a pod spec is refused
  (``unsupported_workload``), since its pods would skip the gate and the quota count;
- malformed objects (a spec that is not a mapping, replicas below 0, a quantity such as
  "lots" or NaN) are a RenderError with a code, never another exception;
- the output is deterministic (sorted by kind, name), so a manifest digest identifies it.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import jsonschema
import yaml
from referencing.exceptions import Unresolvable

from appstore.charts.archive import schema_failure
from appstore.charts.manifests import CLUSTER_SCOPED_KINDS
from backends.quantities import canonical_requests

from . import policy

ADMISSION_GATE = "bluedock.io/admission"
INSTANCE_LABEL = "app.kubernetes.io/instance"
RELEASE_LABEL = "bluedock.io/release"
TENANT_LABEL = "bluedock.io/tenant"
MANAGED_BY_LABEL = "bluedock.io/managed-by"
WORKLOADS_WITH_REPLICAS = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class RenderError(Exception):
    """The rendered chart cannot be installed as it is; ``code`` is machine-readable."""

    def __init__(self, code: str, detail: str, **facts) -> None:
        super().__init__(detail)
        self.code, self.detail, self.facts = code, detail, facts


@dataclass(frozen=True)
class ObjectKey:
    api_version: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def split(rendered: str) -> list[dict]:
    """Multi-document YAML → objects; empty documents (templates rendered to nothing) are dropped."""
    try:
        documents = list(yaml.load_all(rendered, Loader=_Loader))  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise RenderError("render_failed", f"the rendered chart is not valid YAML: {str(exc)[:300]}") from None
    objects = []
    for doc in documents:
        if doc is None:
            continue
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str) or not doc["kind"] or \
                not isinstance(doc.get("apiVersion"), str) or not doc["apiVersion"] or \
                not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            raise RenderError("render_failed", "every rendered document needs apiVersion, kind and metadata.name "
                              "(strings)")
        if doc["kind"].endswith("List"):
            raise RenderError("render_failed", f"{doc['kind']} documents are not supported; render the items")
        objects.append(doc)
    return objects


def release_labels(*, release_name: str, release_id: int, tenant_id: int) -> dict[str, str]:
    return {INSTANCE_LABEL: release_name, RELEASE_LABEL: str(release_id), TENANT_LABEL: str(tenant_id),
            MANAGED_BY_LABEL: "release"}


# The pod-making kinds the portal knows, by (API group, kind): their pod templates get the gate and count.
POD_KINDS = {("", "Pod"), ("", "ReplicationController"), ("apps", "Deployment"), ("apps", "StatefulSet"),
             ("apps", "ReplicaSet"), ("apps", "DaemonSet"), ("batch", "Job"), ("batch", "CronJob")}


def _mapping(value, what: str, obj: dict) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RenderError("invalid_object", f"{obj['kind']} '{obj['metadata']['name']}': {what} must be a mapping",
                          kind=obj["kind"], name=obj["metadata"]["name"], field=what)
    return value


def _count(holder: dict, field: str, obj: dict) -> int:
    """A replica count: absent means 1; anything but a whole number ≥ 0 is refused (a negative one would
    offset other objects in the quota sum)."""
    value = holder.get(field)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RenderError("invalid_replicas", f"{obj['kind']} '{obj['metadata']['name']}': {field} must be a whole "
                          f"number of at least 0, not {str(value)[:40]!r}", kind=obj["kind"],
                          name=obj["metadata"]["name"], field=field)
    return value


def _template(holder: dict, obj: dict, what: str) -> dict:
    """``holder["template"]`` (made if absent) with its ``spec`` checked to be a mapping."""
    template = _mapping(holder.setdefault("template", {}), f"{what}.template", obj)
    _mapping(template.get("spec"), f"{what}.template.spec", obj)
    _mapping(template.get("metadata"), f"{what}.template.metadata", obj)
    return template


def pod_templates(obj: dict) -> Iterator[tuple[dict, int]]:
    """(the object holding ``metadata`` and ``spec`` of a pod, how many pods it makes) for one object.

    A DaemonSet yields one pod here (``requests`` counts one per node when it knows the nodes);
    a Job counts its parallelism. Malformed specs and counts are a RenderError, never an
    exception of another kind.
    """
    kind = (_group(obj["apiVersion"]), obj.get("kind"))
    if kind not in POD_KINDS:
        return
    spec = _mapping(obj.get("spec"), "spec", obj)
    if obj.get("spec") is None:
        obj["spec"] = spec
    if kind[1] == "Pod":
        yield obj, 1
    elif kind[1] in WORKLOADS_WITH_REPLICAS:
        yield _template(spec, obj, "spec"), _count(spec, "replicas", obj)
    elif kind[1] == "DaemonSet":
        yield _template(spec, obj, "spec"), 1
    elif kind[1] == "Job":
        yield _template(spec, obj, "spec"), _count(spec, "parallelism", obj)
    elif kind[1] == "CronJob":
        job_template = _mapping(spec.setdefault("jobTemplate", {}), "spec.jobTemplate", obj)
        job = _mapping(job_template.setdefault("spec", {}), "spec.jobTemplate.spec", obj)
        yield _template(job, obj, "spec.jobTemplate.spec"), _count(job, "parallelism", obj)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _carries_pods(node) -> bool:
    """Whether anything in ``node`` looks like a pod spec (a ``containers`` list)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("containers"), list):
                return True
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
    return False


def prepare(objects: list[dict], *, release_name: str, release_id: int, tenant_id: int,
            namespace: str, checks: tuple[str, ...] | list[str] = ()) -> list[dict]:
    """The objects as the portal applies them (copies; the input is not changed).

    ``checks`` are the gate names of the tenant's required admission checks; each pod template
    gets them once, after the chart's own gates and before the admission gate."""
    ours = [*dict.fromkeys(checks), ADMISSION_GATE]
    labels = release_labels(release_name=release_name, release_id=release_id, tenant_id=tenant_id)
    result, seen = [], set()
    for original in objects:
        obj = copy.deepcopy(original)
        if obj["kind"] in CLUSTER_SCOPED_KINDS:
            raise RenderError("policy_violation", f"{obj['kind']} '{obj['metadata']['name']}' is cluster-scoped; "
                              "releases may only create objects in their namespace", kind=obj["kind"],
                              name=obj["metadata"]["name"])
        try:
            policy.check_reserved(obj)
            policy.check_rbac(obj, namespace=namespace)
        except policy.PolicyError as exc:
            raise RenderError(exc.code, exc.detail, **exc.facts) from None
        meta = obj["metadata"]
        meta["namespace"] = namespace
        meta["labels"] = {**_mapping(meta.get("labels"), "metadata.labels", obj), **labels}
        templates = list(pod_templates(obj))
        if not templates and _carries_pods(obj):
            raise RenderError("unsupported_workload", f"{obj['kind']} '{meta['name']}' ({obj['apiVersion']}) "
                              "carries a pod template the portal does not know; its pods would skip admission "
                              "and the quota", kind=obj["kind"], name=meta["name"])
        for template, _ in templates:
            template_meta = template.setdefault("metadata", {})
            template_meta["labels"] = {**_mapping(template_meta.get("labels"), "template labels", obj), **labels}
            pod_spec = template.setdefault("spec", {})
            chart_gates = pod_spec.get("schedulingGates") or []
            if not isinstance(chart_gates, list) or not all(isinstance(g, dict) for g in chart_gates):
                raise RenderError("invalid_object", f"{obj['kind']} '{meta['name']}': schedulingGates must be a list "
                                  "of mappings", kind=obj["kind"], name=meta["name"], field="schedulingGates")
            gates = [g for g in chart_gates if g.get("name") not in ours]
            pod_spec["schedulingGates"] = [*gates, *({"name": name} for name in ours)]
        key = object_key(obj)
        if key in seen:
            raise RenderError("render_failed", f"{key} is rendered twice")
        seen.add(key)
        result.append(obj)
    requests(result)  # malformed containers and quantities are refused here, before anything is stored
    return sorted(result, key=lambda o: (o["kind"], o["metadata"]["name"], o["apiVersion"]))


def object_key(obj: dict) -> ObjectKey:
    return ObjectKey(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])


def requests(objects: list[dict], *, default_request: dict[str, int] | None = None,
             node_labels: list[dict[str, str]] | None = None) -> dict[str, int]:
    """Resource requests of all pods the objects would make: {cpu (m), memory (MiB), gpu, pods}.

    Each container counts as the API server and the namespace's LimitRange would leave it:
    a resource with a limit but no request requests its limit, and cpu or memory with neither
    takes ``default_request`` (canonical units; the LimitRange's defaultRequest). A pod's
    request is the larger of its containers' sum and its largest init container, as the
    scheduler counts it. A workload a HorizontalPodAutoscaler of the same objects scales
    counts its ``maxReplicas`` when that is more. A DaemonSet counts one pod per node whose
    labels match its nodeSelector (``node_labels``: the labels of each of the cluster's
    nodes; taints and affinity are left out, so this can only overcount), or one pod when
    the nodes are unknown. Malformed containers, counts or quantities are a RenderError.
    """
    total = {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0}
    ceilings = _autoscaled(objects)
    for obj in objects:
        for template, count in pod_templates(copy.deepcopy(obj)):
            spec = template.get("spec") or {}
            if obj["kind"] == "DaemonSet" and node_labels:
                count = _daemon_pods(spec, node_labels, obj)
            count = max(count, ceilings.get((obj["kind"], obj["metadata"]["name"]), 0))
            pod: dict[str, int] = {}
            for container in _containers(spec, "containers", obj):
                for key, value in _container_requests(container, obj, default_request).items():
                    pod[key] = pod.get(key, 0) + value
            for container in _containers(spec, "initContainers", obj):
                for key, value in _container_requests(container, obj, default_request).items():
                    pod[key] = max(pod.get(key, 0), value)
            for key, value in pod.items():
                total[key] += value * count
            total["pods"] += count
    return total


def _autoscaled(objects: list[dict]) -> dict[tuple[str, str], int]:
    """{(kind, name): maxReplicas} of the workloads the objects' HorizontalPodAutoscalers scale."""
    ceilings: dict[tuple[str, str], int] = {}
    for obj in objects:
        if obj["kind"] != "HorizontalPodAutoscaler" or _group(obj["apiVersion"]) != "autoscaling":
            continue
        spec = _mapping(obj.get("spec"), "spec", obj)
        target = _mapping(spec.get("scaleTargetRef"), "spec.scaleTargetRef", obj)
        if spec.get("maxReplicas") is None or not target.get("kind") or not target.get("name"):
            continue
        key = (str(target["kind"]), str(target["name"]))
        ceilings[key] = max(ceilings.get(key, 0), _count(spec, "maxReplicas", obj))
    return ceilings


def _daemon_pods(spec: dict, node_labels: list[dict[str, str]], obj: dict) -> int:
    selector = _mapping(spec.get("nodeSelector"), "nodeSelector", obj)
    return sum(1 for labels in node_labels if all(labels.get(k) == v for k, v in selector.items()))


def _containers(spec: dict, field: str, obj: dict) -> list[dict]:
    containers = spec.get(field) or []
    if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
        raise RenderError("invalid_object", f"{obj['kind']} '{obj['metadata']['name']}': {field} must be a list of "
                          "mappings", kind=obj["kind"], name=obj["metadata"]["name"], field=field)
    return containers


def _container_requests(container: dict, obj: dict, default_request: dict[str, int] | None) -> dict[str, int]:
    resources = _mapping(container.get("resources"), "resources", obj)
    limits = _mapping(resources.get("limits"), "resources.limits", obj)
    asked = _mapping(resources.get("requests"), "resources.requests", obj)
    try:
        result = canonical_requests({**limits, **asked})  # requests default to limits
    except (ValueError, ArithmeticError) as exc:
        raise RenderError("invalid_quantity", f"{obj['kind']} '{obj['metadata']['name']}', container "
                          f"'{str(container.get('name', ''))[:63]}': {exc}", kind=obj["kind"],
                          name=obj["metadata"]["name"]) from None
    negative = sorted(key for key, value in result.items() if value < 0)
    if negative:  # the API server refuses them, but only once the objects sorted before are applied
        raise RenderError("invalid_quantity", f"{obj['kind']} '{obj['metadata']['name']}', container "
                          f"'{str(container.get('name', ''))[:63]}': negative {', '.join(negative)}; requests and "
                          "limits are at least 0", kind=obj["kind"], name=obj["metadata"]["name"])
    for key, value in (default_request or {}).items():
        result.setdefault(key, value)
    return result


def manifest_text(objects: list[dict]) -> str:
    return "".join("---\n" + yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False)
                   for obj in objects)


def manifest_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def manifest_diff(old: str, new: str, *, old_label: str = "current", new_label: str = "proposed") -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=old_label, tofile=new_label))


def merge_values(defaults: dict, overrides: dict) -> dict:
    """Helm's coalescing: maps merge deeply, anything else replaces, and null deletes a default."""
    result = copy.deepcopy(defaults)
    for key, value in (overrides or {}).items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_values(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def values_problem(value, path: str = "") -> str | None:
    """Why ``value`` is not plain JSON (what values are stored and compared as), or None.

    YAML allows more: keys that are not strings (``1: x``), dates, ``.nan`` and ``.inf``."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    return f"{where or '/'}: the key {str(key)[:40]!r} is not a string (quote it)"
                stack.append((sub, f"{where}/{key.replace('~', '~0').replace('/', '~1')}"))
        elif isinstance(item, list):
            stack.extend((sub, f"{where}/{index}") for index, sub in enumerate(item))
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return f"{where or '/'}: {item} is not a number JSON can hold"
        elif item is not None and not isinstance(item, (str, int)):
            return f"{where or '/'}: a {type(item).__name__} is not a JSON value (quote it to make a string)"
    return None


def values_diff(old: dict, new: dict) -> list[dict]:
    """Changes from ``old`` to ``new`` as [{"path": JSON pointer, "op": added|removed|changed, "from", "to"}]."""
    changes: list[dict] = []

    def walk(a, b, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                pointer = f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"
                if key not in a:
                    changes.append({"path": pointer, "op": "added", "to": b[key]})
                elif key not in b:
                    changes.append({"path": pointer, "op": "removed", "from": a[key]})
                else:
                    walk(a[key], b[key], pointer)
        elif json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            changes.append({"path": path or "/", "op": "changed", "from": a, "to": b})

    walk(old or {}, new or {}, "")
    return changes


def schema_errors(schema: dict | None, values: dict, *, limit: int = 20) -> list[dict]:
    """Where ``values`` break the chart's values.schema.json: [{"path": JSON pointer, "message"}]."""
    if not schema:
        return []
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)
    try:
        found = sorted(validator.iter_errors(values), key=lambda e: [str(p) for p in e.absolute_path])
    except (Unresolvable, RecursionError) as exc:  # a schema stored before uploads checked its $refs
        raise RenderError("chart_schema_invalid", f"the chart's values.schema.json cannot validate values: "
                          f"{schema_failure(exc)}") from None
    return [{"path": "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in e.absolute_path),
             "message": e.message[:300]} for e in found[:limit]]

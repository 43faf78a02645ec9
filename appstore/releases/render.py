"""From ``helm template`` output to the objects the portal applies, and what they cost.

Pure: standard library, PyYAML and backends.quantities only (an import-linter contract
keeps it so). Invariants of ``prepare``:

- every object lands in the release namespace (``metadata.namespace`` is forced) and
  carries the release labels; cluster-scoped kinds are refused (``policy_violation``);
- every pod template (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)
  carries the same labels and the ``bluedock.io/admission`` scheduling gate, so no pod of a
  release is scheduled before the portal's admission has seen it, plus the tenant's required
  admission checks as gates of their own (their controllers remove them; spec A4c);
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

from appstore.charts.manifests import CLUSTER_SCOPED_KINDS
from backends.quantities import canonical_requests

ADMISSION_GATE = "bluedock.io/admission"
INSTANCE_LABEL = "app.kubernetes.io/instance"
RELEASE_LABEL = "bluedock.io/release"
TENANT_LABEL = "bluedock.io/tenant"
MANAGED_BY_LABEL = "bluedock.io/managed-by"
WORKLOADS_WITH_REPLICAS = {"Deployment", "StatefulSet", "ReplicaSet"}
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
        if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion") or \
                not (doc.get("metadata") or {}).get("name"):
            raise RenderError("render_failed", "every rendered document needs apiVersion, kind and metadata.name")
        if doc["kind"].endswith("List"):
            raise RenderError("render_failed", f"{doc['kind']} documents are not supported; render the items")
        objects.append(doc)
    return objects


def release_labels(*, release_name: str, release_id: int, tenant_id: int) -> dict[str, str]:
    return {INSTANCE_LABEL: release_name, RELEASE_LABEL: str(release_id), TENANT_LABEL: str(tenant_id),
            MANAGED_BY_LABEL: "release"}


def pod_templates(obj: dict) -> Iterator[tuple[dict, int]]:
    """(the object holding ``metadata`` and ``spec`` of a pod, how many pods it makes) for one object.

    A DaemonSet counts one pod (per node is unknowable here); a Job counts its parallelism.
    """
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        yield obj, 1
    elif kind in WORKLOADS_WITH_REPLICAS:
        yield spec.setdefault("template", {}), int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    elif kind == "DaemonSet":
        yield spec.setdefault("template", {}), 1
    elif kind == "Job":
        yield spec.setdefault("template", {}), int(spec.get("parallelism") or 1)
    elif kind == "CronJob":
        job = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
        yield job.setdefault("template", {}), int(job.get("parallelism") or 1)


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
        meta = obj["metadata"]
        meta["namespace"] = namespace
        meta["labels"] = {**(meta.get("labels") or {}), **labels}
        for template, _ in pod_templates(obj):
            template_meta = template.setdefault("metadata", {})
            template_meta["labels"] = {**(template_meta.get("labels") or {}), **labels}
            pod_spec = template.setdefault("spec", {})
            gates = [g for g in pod_spec.get("schedulingGates") or [] if g.get("name") not in ours]
            pod_spec["schedulingGates"] = [*gates, *({"name": name} for name in ours)]
        key = object_key(obj)
        if key in seen:
            raise RenderError("render_failed", f"{key} is rendered twice")
        seen.add(key)
        result.append(obj)
    return sorted(result, key=lambda o: (o["kind"], o["metadata"]["name"], o["apiVersion"]))


def object_key(obj: dict) -> ObjectKey:
    return ObjectKey(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])


def requests(objects: list[dict]) -> dict[str, int]:
    """Resource requests of all pods the objects would make: {cpu (m), memory (MiB), gpu, pods}.

    A pod's request is the larger of its containers' sum and its largest init container,
    as the scheduler counts it.
    """
    total = {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0}
    for obj in objects:
        for template, count in pod_templates(copy.deepcopy(obj)):
            spec = template.get("spec") or {}
            pod: dict[str, int] = {}
            for container in spec.get("containers") or []:
                for key, value in canonical_requests((container.get("resources") or {}).get("requests") or {}).items():
                    pod[key] = pod.get(key, 0) + value
            for container in spec.get("initContainers") or []:
                for key, value in canonical_requests((container.get("resources") or {}).get("requests") or {}).items():
                    pod[key] = max(pod.get(key, 0), value)
            for key, value in pod.items():
                total[key] += value * count
            total["pods"] += count
    return total


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
    found = sorted(validator.iter_errors(values), key=lambda e: [str(p) for p in e.absolute_path])
    return [{"path": "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in e.absolute_path),
             "message": e.message[:300]} for e in found[:limit]]

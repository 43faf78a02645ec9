"""JSON merge patch, strategic merge patch (approximated), JSON patch and server-side apply.

Strategic merge patch is merge semantics plus lists of named items merged by their merge key
(containers by name, volumeMounts by mountPath, ...) and kubectl's ``$patch``/``$setElementOrder``
directives tolerated. Server-side apply is a simplified field-ownership model; see ``apply``.
"""

from __future__ import annotations

import copy
import json

from .errors import ApiError, bad_request

MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
              "volumes": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath", "ports": None,
              "hostAliases": "ip", "conditions": "type", "tolerations": None}


def _merge_key(field: str, items: list) -> str | None:
    if field == "ports":  # containers' ports merge by containerPort, services' by port
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port" if "port" in sample else None
    return MERGE_KEYS.get(field)


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if not k.startswith("$")}
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list) and isinstance(out.get(key), list) and _merge_key(key, value + out[key]):
            out[key] = _merge_list(out[key], value, _merge_key(key, value + out[key]))
        else:
            out[key] = strategic_merge_patch(out.get(key), value)
    return out


def _merge_list(current: list, patch: list, mkey: str) -> list:
    out = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or mkey not in item:
            continue
        idx = next((i for i, cur in enumerate(out) if isinstance(cur, dict) and cur.get(mkey) == item[mkey]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(strategic_merge_patch({}, item))
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


def json_patch(target, ops: list):
    """RFC 6902: add, remove, replace, test, copy, move."""
    doc = copy.deepcopy(target)

    def walk(path: str):
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        return parent, parts[-1]

    try:
        for op in ops:
            parent, last = walk(op["path"])
            kind = op["op"]
            if kind in ("remove", "replace", "move"):
                src_parent, src_last = walk(op["from"]) if kind == "move" else (parent, last)
                value = src_parent.pop(int(src_last)) if isinstance(src_parent, list) else src_parent.pop(src_last)
                if kind == "remove":
                    continue
                op = {**op, "value": value if kind == "move" else op["value"]}
            if kind == "test":
                current = parent[int(last)] if isinstance(parent, list) else parent[last]
                if current != op["value"]:
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                                   f"testing value {op['path']} failed")
                continue
            value = copy.deepcopy(op["value"]) if kind != "copy" else copy.deepcopy(_get(doc, op["from"]))
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), value)
            else:
                parent[last] = value
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {exc}")
    return doc


def _get(doc, path):
    for part in path.split("/")[1:]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def apply_patch(content_type: str, target: dict, body: bytes):
    """Dispatch on the PATCH content type (except apply, which needs the field manager)."""
    try:
        patch = json.loads(body or b"{}")
    except ValueError as exc:
        raise bad_request(f"error decoding patch: {exc}")
    if content_type.startswith("application/json-patch+json"):
        if not isinstance(patch, list):
            raise bad_request("json patch must be a list of operations")
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise bad_request("patch must be a JSON object")
    if content_type.startswith("application/merge-patch+json"):
        return merge_patch(target, patch)
    return strategic_merge_patch(target, patch)

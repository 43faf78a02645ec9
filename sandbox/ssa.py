"""Server-side apply, simplified: field ownership by leaf path, kept in metadata.managedFields.

A path is a tuple of segments: ``f:<field>`` or ``k:{"name":"web"}`` for an item of a list that
merges by key (containers, env, ports, ...). Other lists are atomic leaves. Rules (a subset of
Kubernetes' structured-merge-diff, enough for the portal's apply-then-apply-again cycles):
  * an applier owns exactly the leaves of its last applied configuration;
  * a leaf it applied before and no longer applies is removed, unless another manager owns it;
  * a leaf another manager owns with a different value is a 409 conflict, unless ``force``
    (then ownership moves to the applier);
  * ordinary writes (create, update, patch) are recorded as "Update" entries of the fields they
    changed, which is what lets a later apply detect conflicts with them.
"""

from __future__ import annotations

import copy
import json

from .errors import ApiError
from .patch import _merge_key, strategic_merge_patch
from .store import now_iso

Path = tuple[str, ...]


def leaves(obj: dict) -> dict[Path, object]:
    out: dict[Path, object] = {}
    meta = obj.get("metadata") or {}
    for field in ("labels", "annotations"):
        if meta.get(field):
            _walk(meta[field], ("f:metadata", f"f:{field}"), out)
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    _walk(body, (), out)
    return out


def _walk(node: dict, prefix: Path, out: dict) -> None:
    for key, value in node.items():
        path = prefix + (f"f:{key}",)
        if isinstance(value, dict) and value:
            _walk(value, path, out)
        elif isinstance(value, list) and value and _keyed(key, value):
            mkey = _merge_key(key, value)
            for item in value:
                _walk(item, path + (_kseg(mkey, item[mkey]),), out)
        else:
            out[path] = value


def _keyed(field: str, items: list) -> bool:
    mkey = _merge_key(field, items)
    return bool(mkey) and all(isinstance(i, dict) and mkey in i for i in items)


def _kseg(mkey: str, value) -> str:
    return "k:" + json.dumps({mkey: value}, separators=(",", ":"))


def _child(node, seg: str, create: bool = False):
    if seg.startswith("f:"):
        return node.get(seg[2:]) if isinstance(node, dict) else None
    (mkey, value), = json.loads(seg[2:]).items()
    return next((i for i in node or [] if isinstance(i, dict) and i.get(mkey) == value), None)


def get_at(obj: dict, path: Path):
    node = obj
    for seg in path:
        node = _child(node, seg)
        if node is None:
            return None
    return node


def remove_at(obj: dict, path: Path) -> None:
    chain = [obj]
    for seg in path[:-1]:
        nxt = _child(chain[-1], seg)
        if nxt is None:
            return
        chain.append(nxt)
    chain[-1].pop(path[-1][2:], None) if isinstance(chain[-1], dict) else None
    for depth in range(len(path) - 1, 0, -1):  # prune containers left empty by the removal
        node, parent, seg = chain[depth], chain[depth - 1], path[depth - 1]
        if seg.startswith("k:"):
            mkey = next(iter(json.loads(seg[2:])))
            if set(node) <= {mkey}:
                parent.remove(node)
        elif isinstance(node, dict) and not node:
            parent.pop(seg[2:], None)


def encode(paths) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for seg in path:
            node = node.setdefault(seg, {})
    return tree


def decode(tree: dict, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for seg, sub in (tree or {}).items():
        if seg == ".":
            continue
        out |= decode(sub, prefix + (seg,)) if sub and set(sub) != {"."} else {prefix + (seg,)}
    return out


def render(path: Path) -> str:
    text = ""
    for seg in path:
        if seg.startswith("f:"):
            text += "." + seg[2:]
        else:
            (k, v), = json.loads(seg[2:]).items()
            text += f"[{k}={json.dumps(v)}]"
    return text


def _entries(obj: dict) -> list[dict]:
    return obj.get("metadata", {}).get("managedFields") or []


def _set_entry(obj: dict, manager: str, operation: str, paths: set[Path]) -> None:
    entries = [e for e in _entries(obj) if not (e["manager"] == manager and e["operation"] == operation)]
    if paths:
        entries.append({"manager": manager, "operation": operation, "apiVersion": obj.get("apiVersion", ""),
                        "time": now_iso(), "fieldsType": "FieldsV1", "fieldsV1": encode(paths)})
    obj["metadata"]["managedFields"] = entries


def apply(current: dict | None, config: dict, *, manager: str, force: bool) -> dict:
    """Return the object after applying ``config`` as ``manager`` (``current`` None: create)."""
    applied = leaves(config)
    base = copy.deepcopy(current) if current else {"metadata": {}}
    base.setdefault("metadata", {})
    others = [e for e in _entries(base) if not (e["manager"] == manager and e["operation"] == "Apply")]
    conflicts: dict[str, list[Path]] = {}
    for entry in others:
        owned = decode(entry.get("fieldsV1"))
        clash = {p for p in applied if p in owned and get_at(base, p) is not None and get_at(base, p) != applied[p]}
        if clash and not force:
            conflicts.setdefault(entry["manager"], []).extend(sorted(clash))
        elif clash:
            entry["fieldsV1"] = encode(owned - clash)
    if conflicts:
        raise _conflict_error(conflicts, config.get("apiVersion", ""))
    mine = next((e for e in _entries(base) if e["manager"] == manager and e["operation"] == "Apply"), None)
    previous = decode(mine.get("fieldsV1")) if mine else set()
    still_owned = set().union(*(decode(e.get("fieldsV1")) for e in others)) if others else set()
    merged = strategic_merge_patch(base, {k: v for k, v in config.items() if k != "status"})
    for path in previous - set(applied) - still_owned:
        remove_at(merged, path)
    merged["metadata"]["managedFields"] = [e for e in others if decode(e.get("fieldsV1"))]
    merged.setdefault("apiVersion", config.get("apiVersion"))
    _set_entry(merged, manager, "Apply", set(applied))
    return merged


def track_update(old: dict | None, new: dict, *, manager: str) -> None:
    """Record an ordinary write: ``manager`` now owns the leaves it changed; removed leaves are unowned."""
    before, after = leaves(old or {}), leaves(new)
    changed = {p for p, v in after.items() if before.get(p, object()) != v}
    gone = set(before) - set(after)
    entries = copy.deepcopy(_entries(old or {})) or []
    new["metadata"]["managedFields"] = entries
    for entry in entries:
        entry["fieldsV1"] = encode(decode(entry.get("fieldsV1")) - changed - gone)
    new["metadata"]["managedFields"] = [e for e in entries if e["fieldsV1"]]
    mine = next((e for e in entries if e["manager"] == manager and e["operation"] == "Update"), None)
    owned = (decode(mine["fieldsV1"]) if mine else set()) | changed
    if changed or mine:
        _set_entry(new, manager, "Update", owned - gone)


def _conflict_error(conflicts: dict[str, list[Path]], api_version: str) -> ApiError:
    total = sum(len(v) for v in conflicts.values())
    causes, parts = [], []
    for manager, paths in conflicts.items():
        for p in paths:
            causes.append({"type": "FieldManagerConflict", "message": f'conflict with "{manager}" using {api_version}',
                           "field": render(p)})
        if len(paths) == 1:
            parts.append(f'conflict with "{manager}" using {api_version}: {render(paths[0])}')
        else:
            parts.append(f'conflicts with "{manager}" using {api_version}:\n' + "\n".join(f"- {render(p)}"
                                                                                      for p in paths))
    plural = "conflict" if total == 1 else "conflicts"
    return ApiError(409, "Conflict", f"Apply failed with {total} {plural}: " + "\n".join(parts), {"causes": causes})

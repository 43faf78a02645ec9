"""A minimal OpenAPI v3 for kubectl: per group/version, the PATCH operations with their GVK and the
``fieldValidation`` parameter. That is what kubectl (1.27+) checks to decide the server validates
fields itself, so ``kubectl apply`` works without ``--validate=false`` and without schemas.
/openapi/v2 stays 404 (kubectl wants it as protobuf, and only as a fallback)."""

from __future__ import annotations

import hashlib
import json

from .registry import Registry


def _path_key(api_version: str) -> str:
    return f"apis/{api_version}" if "/" in api_version else f"api/{api_version}"


def root(registry: Registry) -> dict:
    paths = {}
    for gv in registry.group_versions():
        digest = hashlib.sha256(json.dumps(group_version(registry, gv), sort_keys=True).encode()).hexdigest()[:16]
        paths[_path_key(gv)] = {"serverRelativeURL": f"/openapi/v3/{_path_key(gv)}?hash={digest.upper()}"}
    return {"paths": paths}


def group_version(registry: Registry, api_version: str) -> dict | None:
    table = registry.group_versions().get(api_version)
    if table is None:
        return None
    paths = {}
    for res in table:
        gvk = {"group": res.group, "version": res.version, "kind": res.kind}
        params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                  {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}]
        base = f"/{_path_key(api_version)}" + ("/namespaces/{namespace}" if res.namespaced else "")
        op = {"operationId": f"patch{res.kind}", "parameters": params, "x-kubernetes-action": "patch",
              "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}}
        post = op | {"operationId": f"create{res.kind}", "x-kubernetes-action": "post"}
        paths[f"{base}/{res.plural}/{{name}}"] = {"patch": op, "put": op | {"x-kubernetes-action": "put"}}
        paths[f"{base}/{res.plural}"] = {"post": post}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (BlueDock sandbox)", "version": "v1.31.0"},
            "paths": paths, "components": {"schemas": {}}}

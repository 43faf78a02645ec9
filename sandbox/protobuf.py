"""Just enough Kubernetes protobuf to read what kubectl's typed commands send (``kubectl create
namespace/configmap/secret/serviceaccount/rolebinding``, ``kubectl auth can-i``). Answers stay JSON, which
those clients accept. Other kinds still get 415, like a server without that media type."""

from __future__ import annotations

import base64
import json

from . import errors

MAGIC = b"k8s\x00"
META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 6: ("resourceVersion", "str"),
        11: ("labels", "map"), 12: ("annotations", "map"), 14: ("finalizers", "strs")}
ATTRS = {1: ("namespace", "str"), 2: ("verb", "str"), 3: ("group", "str"), 4: ("version", "str"),
         5: ("resource", "str"), 6: ("subresource", "str"), 7: ("name", "str")}
SUBJECT = {1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"), 4: ("namespace", "str")}
ROLE_REF = {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")}
KINDS = {
    "RoleBinding": {1: ("metadata", META), 2: ("subjects", [SUBJECT]), 3: ("roleRef", ROLE_REF)},
    "ClusterRoleBinding": {1: ("metadata", META), 2: ("subjects", [SUBJECT]), 3: ("roleRef", ROLE_REF)},
    "Namespace": {1: ("metadata", META), 2: ("spec", {1: ("finalizers", "strs")})},
    "ConfigMap": {1: ("metadata", META), 2: ("data", "map"), 3: ("binaryData", "bytesmap"), 4: ("immutable", "bool")},
    "Secret": {1: ("metadata", META), 2: ("data", "bytesmap"), 3: ("type", "str"), 4: ("stringData", "map"),
               5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", META)},
    "SelfSubjectAccessReview": {1: ("metadata", META), 2: ("spec", {1: ("resourceAttributes", ATTRS)})},
}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def _fields(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        else:  # fixed 32/64-bit: no Kubernetes field kubectl sends here uses them
            i += 4 if wire == 5 else 8
            continue
        yield num, value


def _decode(buf: bytes, schema: dict) -> dict:
    out: dict = {}
    for num, value in _fields(buf):
        if num not in schema:
            continue
        name, kind = schema[num]
        if isinstance(kind, dict):
            out[name] = _decode(value, kind)
        elif isinstance(kind, list):  # repeated message
            out.setdefault(name, []).append(_decode(value, kind[0]))
        elif kind == "str":
            out[name] = value.decode()
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == "strs":
            out.setdefault(name, []).append(value.decode())
        else:  # map entries: key = field 1, value = field 2
            entry = dict(_fields(value))
            raw = entry.get(2, b"")
            out.setdefault(name, {})[entry.get(1, b"").decode()] = (
                base64.b64encode(raw).decode() if kind == "bytesmap" else raw.decode())
    return out


def to_json(body: bytes) -> bytes:
    if not body.startswith(MAGIC):
        raise errors.ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format")
    envelope = dict(_fields(body[len(MAGIC):]))
    type_meta = dict(_fields(envelope.get(1, b"")))
    api_version, kind = type_meta.get(1, b"").decode(), type_meta.get(2, b"").decode()
    if kind not in KINDS:
        raise errors.ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                              f"{kind} is accepted as application/json or application/yaml only")
    obj = _decode(envelope.get(2, b""), KINDS[kind])
    return json.dumps({"apiVersion": api_version, "kind": kind, **obj}).encode()

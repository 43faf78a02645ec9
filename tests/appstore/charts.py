"""Chart fixtures built in memory: a valid chart and ways to break it."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import yaml

from backends import helm

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image }}"
          resources:
            requests: {cpu: 100m, memory: 64Mi}
"""
CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object}
"""
SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["replicas", "image"],
          "properties": {"replicas": {"type": "integer", "minimum": 1}, "image": {"type": "string"}}}


def chart_files(name: str = "hello", version: str = "1.0.0", *, chart: dict | None = None,
                values: dict | None = None, schema: dict | None = SCHEMA,
                extra: dict | None = None) -> dict[str, bytes]:
    meta = {"apiVersion": "v2", "name": name, "version": version, "appVersion": "1.0", "type": "application",
            "description": f"The {name} test chart", "keywords": ["test", "web"]}
    meta.update(chart or {})
    files = {
        "Chart.yaml": yaml.safe_dump(meta).encode(),
        "values.yaml": yaml.safe_dump({"replicas": 1, "image": "nginx:1.27"} if values is None else values).encode(),
        "templates/deployment.yaml": DEPLOYMENT.encode(),
        "README.md": f"# {name}\n\nA test chart.\n".encode(),
    }
    if schema is not None:
        files["values.schema.json"] = json.dumps(schema).encode()
    files.update(extra or {})
    return files


def tgz(files: dict[str, bytes], *, top: str = "hello", members: list[tarfile.TarInfo] | None = None) -> bytes:
    """Pack files under ``top/``; ``members`` adds raw (possibly hostile) headers."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(f"{top}/{path}" if top else path)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for info in members or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buffer.getvalue()


def member(name: str, *, type: bytes = tarfile.REGTYPE, size: int = 1, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = type
    info.size = size if type == tarfile.REGTYPE else 0
    info.linkname = linkname
    return info


def valid_chart(name: str = "hello", version: str = "1.0.0", **kwargs) -> bytes:
    return tgz(chart_files(name, version, **kwargs), top=name)


def packaged(tmp_path: Path, name: str, version: str, **kwargs) -> Path:
    """The chart of ``chart_files`` packaged by the real ``helm package``; returns the .tgz path."""
    chart_dir = tmp_path / "src" / f"{name}-{version}" / name
    for path, content in chart_files(name, version, **kwargs).items():
        (chart_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (chart_dir / path).write_bytes(content)
    return helm.package(chart_dir, tmp_path / "pkg")

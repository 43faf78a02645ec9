"""A Helm repository's ``index.yaml`` and OCI chart configs, read into plain records.

Entries that break the rules (no SemVer, library charts, bad names) are skipped and
counted rather than failing the whole sync: one bad chart must not hide a repository.
An index that is not an index at all (not YAML, no ``entries``) raises ChartError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from . import semver
from .archive import _is_chart_name, maintainers
from .errors import ChartError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ChartRecord:
    """One chart version as a repository announces it (no archive contents)."""

    name: str
    version: str
    prerelease: bool
    app_version: str = ""
    description: str = ""
    digest: str = ""
    urls: list[str] = field(default_factory=list)
    icon: str = ""
    home: str = ""
    keywords: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    maintainers: list[dict[str, str]] = field(default_factory=list)
    kube_version: str = ""
    api_version: str = "v2"
    deprecated: bool = False
    dependencies: list[dict[str, Any]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedIndex:
    records: list[ChartRecord]
    skipped: list[str]


def parse_index(data: bytes) -> ParsedIndex:
    try:
        doc = yaml.load(data, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ChartError("index_invalid", f"index.yaml is not valid YAML: {str(exc)[:300]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict):
        raise ChartError("index_invalid", "index.yaml has no 'entries' mapping (is this a Helm repository?)")
    records, skipped = [], []
    for name, versions in doc["entries"].items():
        for meta in versions if isinstance(versions, list) else []:
            record, why = record_from_meta(meta, expected_name=str(name))
            if record is None:
                skipped.append(why)
            else:
                records.append(record)
    return ParsedIndex(records=records, skipped=skipped)


def record_from_meta(meta: Any, *, expected_name: str | None = None, digest: str = "",
                     urls: list[str] | None = None) -> tuple[ChartRecord | None, str]:
    """A record from Chart.yaml-shaped metadata (index entry or OCI config), or (None, reason)."""
    if not isinstance(meta, dict):
        return None, f"{expected_name}: entry is not a mapping"
    name, version = meta.get("name"), meta.get("version")
    label = f"{name}-{version}"
    if not isinstance(name, str) or not _is_chart_name(name) or (expected_name and name != expected_name):
        return None, f"{label}: bad chart name"
    if (meta.get("type") or "application") != "application":
        return None, f"{label}: {meta.get('type')} chart"
    try:
        parsed = semver.parse(str(version))
    except ChartError:
        return None, f"{label}: version is not SemVer 2"
    annotations = meta.get("annotations")
    return ChartRecord(
        name=name, version=str(parsed), prerelease=parsed.is_prerelease,
        app_version=str(meta.get("appVersion") or "")[:64], description=str(meta.get("description") or "")[:500],
        digest=str(meta.get("digest") or digest)[:80], urls=[str(u) for u in (urls or meta.get("urls") or [])][:5],
        icon=str(meta.get("icon") or "")[:500], home=str(meta.get("home") or "")[:500],
        keywords=[str(k)[:100] for k in meta.get("keywords") or [] if k][:30],
        sources=[str(s)[:300] for s in meta.get("sources") or []][:10],
        maintainers=maintainers(meta.get("maintainers")), kube_version=str(meta.get("kubeVersion") or "")[:100],
        api_version=str(meta.get("apiVersion") or "v1"), deprecated=bool(meta.get("deprecated")),
        dependencies=[d for d in meta.get("dependencies") or [] if isinstance(d, dict)][:50],
        annotations={str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {},
    ), ""

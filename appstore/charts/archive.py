"""Safe reading of a chart archive (.tgz) and the checks an upload must pass.

The archive is untrusted. It is never extracted by tarfile onto disk: members are read
into memory after every header has been checked, so traversal, links and device files
cannot touch the filesystem. Decompression is bounded *before* tarfile sees the bytes,
so a gzip bomb costs at most ``max_uncompressed`` bytes of memory.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import yaml
from referencing.exceptions import Unresolvable

from . import semver
from .errors import ChartError

CHART_NAME_MAX = 63


@dataclass(frozen=True)
class Limits:
    max_compressed: int = 512 * 1024
    max_uncompressed: int = 8 * 1024 * 1024
    max_files: int = 500
    # Charts are YAML text: 10-20x is normal, 100x and more is a crafted archive.
    max_ratio: int = 100


@dataclass(frozen=True)
class ChartFiles:
    """The chart's files by path relative to the chart directory (``templates/x.yaml``)."""

    name: str
    files: dict[str, bytes]


@dataclass(frozen=True)
class ChartInfo:
    """What an archive says about itself, after every check passed."""

    name: str
    version: str
    prerelease: bool
    app_version: str
    api_version: str
    type: str
    description: str
    kube_version: str
    icon: str
    home: str
    keywords: list[str]
    sources: list[str]
    maintainers: list[dict[str, str]]
    dependencies: list[dict[str, Any]]
    annotations: dict[str, str]
    deprecated: bool
    values_yaml: str
    values_schema: dict | None
    readme: str
    notes: str
    crd_files: list[str]
    digest: str
    size: int
    file_count: int
    uncompressed_size: int
    warnings: list[str] = field(default_factory=list)


def read_archive(data: bytes, *, limits: Limits = Limits()) -> ChartFiles:
    """Bounded, header-checked read of a chart .tgz; raises ChartError with a specific code."""
    if len(data) > limits.max_compressed:
        raise ChartError("chart_too_large", f"the archive is {len(data)} bytes; the limit is "
                         f"{limits.max_compressed} bytes", size=len(data), limit=limits.max_compressed)
    raw = _gunzip_bounded(data, limits)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            return _members(tar, limits)
    except (tarfile.TarError, EOFError) as exc:
        raise ChartError("chart_archive_invalid", f"not a tar archive inside the gzip stream ({exc})") from None


def _members(tar: tarfile.TarFile, limits: Limits) -> ChartFiles:
    members = tar.getmembers()
    if len(members) > limits.max_files:
        raise ChartError("chart_too_many_files", f"the archive holds {len(members)} entries; the limit is "
                         f"{limits.max_files}", files=len(members), limit=limits.max_files)
    top: str | None = None
    files: dict[str, bytes] = {}
    for member in members:
        name = _safe_name(member.name)
        if member.issym() or member.islnk():
            raise ChartError("chart_symlink", f"{name} is a {'symbolic' if member.issym() else 'hard'} link; "
                             "charts may contain regular files only", path=name)
        if not (member.isfile() or member.isdir()):
            raise ChartError("chart_special_file", f"{name} is a device, FIFO or other special file", path=name)
        first, _, rest = name.partition("/")
        if top is None:
            top = first
        elif first != top:
            raise ChartError("chart_layout_invalid", f"every file must live under one chart directory; found "
                             f"{first!r} beside {top!r}", path=name)
        if member.isfile() and rest:
            if rest in files:
                raise ChartError("chart_layout_invalid", f"{name} appears twice in the archive", path=name)
            files[rest] = tar.extractfile(member).read()
    if top is None or "Chart.yaml" not in files:
        raise ChartError("chart_yaml_missing", "the archive has no <chart>/Chart.yaml")
    return ChartFiles(name=top, files=files)


def _gunzip_bounded(data: bytes, limits: Limits) -> bytes:
    if data[:2] != b"\x1f\x8b":
        raise ChartError("chart_archive_invalid", "the file is not gzip-compressed (expected a .tgz made by "
                         "`helm package`)")
    # Stop at whichever comes first: the absolute cap or the ratio cap.
    cap = min(limits.max_uncompressed, max(len(data), 1) * limits.max_ratio)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise ChartError("chart_archive_invalid", f"corrupt gzip stream ({exc})") from None
    if len(out) > cap:
        raise ChartError("chart_bomb", f"the archive expands beyond {cap} bytes (more than {limits.max_ratio}x "
                         f"its {len(data)} bytes, or over the {limits.max_uncompressed}-byte limit); refused as "
                         "a decompression bomb", compressed=len(data), limit=cap)
    if not inflater.eof:
        raise ChartError("chart_archive_invalid", "truncated gzip stream")
    return out


def _safe_name(name: str) -> str:
    if name.startswith("/") or "\\" in name or "\x00" in name or (len(name) > 1 and name[1] == ":"):
        raise ChartError("chart_path_traversal", f"{name!r} is an absolute or non-POSIX path", path=name)
    normal = posixpath.normpath(name)
    if normal in {".", ".."} or normal.startswith("../") or ".." in name.split("/"):
        raise ChartError("chart_path_traversal", f"{name!r} leaves the chart directory", path=name)
    return normal


def _text(files: dict[str, bytes], path: str) -> str:
    try:
        return files[path].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChartError("chart_not_utf8", f"{path} is not valid UTF-8 (byte {exc.start})", path=path) from None


def _yaml(files: dict[str, bytes], path: str, code: str):
    try:
        return yaml.load(_text(files, path), Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ChartError(code, f"{path} is not valid YAML: {str(exc)[:300]}", path=path) from None


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TEXT_SUFFIXES = (".yaml", ".yml", ".tpl", ".txt", ".json", ".md")


def inspect(data: bytes, *, limits: Limits = Limits()) -> ChartInfo:
    """Read and validate an uploaded chart. Everything except `helm lint`/`helm template`."""
    chart = read_archive(data, limits=limits)
    files = chart.files
    for path in files:  # templates and metadata are text; a chart with Latin-1 YAML renders garbage
        if path.endswith(TEXT_SUFFIXES) and not path.startswith("charts/"):
            _text(files, path)
    meta = _yaml(files, "Chart.yaml", "chart_yaml_invalid")
    if not isinstance(meta, dict):
        raise ChartError("chart_yaml_invalid", "Chart.yaml must be a mapping")
    api_version = meta.get("apiVersion")
    if api_version != "v2":
        raise ChartError("chart_api_version", f"Chart.yaml apiVersion is {api_version!r}; uploads need v2 "
                         "(Helm 3)", api_version=str(api_version))
    name = meta.get("name")
    if not isinstance(name, str) or not name or len(name) > CHART_NAME_MAX or not _is_chart_name(name):
        raise ChartError("chart_name_invalid", f"chart name {name!r} must be lowercase letters, digits and '-' "
                         f"(at most {CHART_NAME_MAX})", name=str(name))
    if name != chart.name:
        raise ChartError("chart_layout_invalid", f"the chart directory is {chart.name!r} but Chart.yaml names "
                         f"{name!r}")
    version = semver.parse(meta.get("version"))
    chart_type = meta.get("type") or "application"
    if chart_type == "library":
        raise ChartError("chart_library", "library charts cannot be installed; upload the application chart that "
                         "depends on it")
    if chart_type != "application":
        raise ChartError("chart_yaml_invalid", f"Chart.yaml type {chart_type!r} is neither application nor library")
    values = _yaml(files, "values.yaml", "chart_values_yaml_invalid") if "values.yaml" in files else {}
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ChartError("chart_values_yaml_invalid", "values.yaml must be a mapping")
    schema = _schema(files, values)
    warnings = [] if schema is not None else ["no values.schema.json: install forms cannot validate values"]
    if "README.md" not in files:
        warnings.append("no README.md")
    return ChartInfo(
        name=name, version=str(version), prerelease=version.is_prerelease,
        app_version=str(meta.get("appVersion") or "")[:64], api_version=api_version, type=chart_type,
        description=str(meta.get("description") or "")[:500], kube_version=str(meta.get("kubeVersion") or "")[:100],
        icon=str(meta.get("icon") or "")[:500], home=str(meta.get("home") or "")[:500],
        keywords=_strings(meta.get("keywords")), sources=_strings(meta.get("sources")),
        maintainers=maintainers(meta.get("maintainers")), dependencies=_dicts(meta.get("dependencies")),
        annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
        if isinstance(meta.get("annotations"), dict) else {},
        deprecated=bool(meta.get("deprecated")),
        values_yaml=files.get("values.yaml", b"").decode(), values_schema=schema,
        readme=_text(files, "README.md") if "README.md" in files else "",
        notes=_text(files, "templates/NOTES.txt") if "templates/NOTES.txt" in files else "",
        crd_files=sorted(p for p in files if p.startswith("crds/")),
        digest=hashlib.sha256(data).hexdigest(), size=len(data), file_count=len(files),
        uncompressed_size=sum(len(b) for b in files.values()), warnings=warnings)


def _schema(files: dict[str, bytes], values: dict) -> dict | None:
    if "values.schema.json" not in files:
        return None
    try:
        schema = json.loads(_text(files, "values.schema.json"))
        if not isinstance(schema, dict):
            raise ValueError("the top level must be a JSON object")
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        validator.check_schema(schema)
    except (ValueError, jsonschema.SchemaError) as exc:
        message = exc.message if isinstance(exc, jsonschema.SchemaError) else str(exc)
        raise ChartError("chart_schema_invalid", f"values.schema.json is not a valid JSON Schema: {message[:300]}"
                         ) from None
    unresolved = local_ref_problem(schema)
    if unresolved:
        raise ChartError("chart_schema_invalid", f"values.schema.json is not a valid JSON Schema: {unresolved}")
    try:
        errors = sorted(validator(schema).iter_errors(values), key=lambda e: [str(p) for p in e.absolute_path])
    except (Unresolvable, RecursionError) as exc:
        raise ChartError("chart_schema_invalid", "values.schema.json cannot be used to validate values: "
                         f"{schema_failure(exc)}") from None
    if errors:
        first = errors[0]
        pointer = "/" + "/".join(str(p) for p in first.absolute_path)
        raise ChartError("chart_values_invalid", f"values.yaml does not match values.schema.json at {pointer}: "
                         f"{first.message[:300]}", pointer=pointer, errors=len(errors))
    return schema


def _is_chart_name(name: str) -> bool:
    return name[0].isalnum() and all(c.islower() or c.isdigit() or c == "-" for c in name)


def _strings(value) -> list[str]:
    return [str(v)[:200] for v in value][:50] if isinstance(value, list) else []


def _dicts(value) -> list[dict]:
    return [v for v in value if isinstance(v, dict)][:50] if isinstance(value, list) else []


def maintainers(value) -> list[dict[str, str]]:
    return [{k: str(m.get(k, ""))[:200] for k in ("name", "email", "url") if m.get(k)}
            for m in _dicts(value)]


def gzip_tar(entries: dict[str, bytes]) -> bytes:
    """Pack ``{path: content}`` into a .tgz (used by tests and the demo loader)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path, content in entries.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def schema_failure(exc: Exception) -> str:
    """Why a schema failed while validating (an unresolvable ``$ref``, or one that loops)."""
    if isinstance(exc, RecursionError):
        return "its $refs loop without end"
    return f"a $ref cannot be resolved ({str(exc)[:200]})"


def local_ref_problem(schema: dict) -> str | None:
    """The first ``$ref`` to a JSON pointer inside the document ("#/…") that points nowhere, or None.

    Validation only follows the $refs the values reach, so a broken one under a property the
    defaults leave out would pass the upload and fail every install. Subschemas with their own
    ``$id`` change the base of "#" and are not followed."""
    stack = [(schema, True)]
    while stack:
        node, at_root = stack.pop()
        if isinstance(node, dict):
            if not at_root and "$id" in node:
                continue
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#") and not _pointer_exists(schema, ref[1:]):
                return f"$ref {ref[:100]!r} points nowhere in the document"
            stack.extend((v, False) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, False) for v in node if isinstance(v, (dict, list)))
    return None


def _pointer_exists(document, pointer: str) -> bool:
    if pointer == "":
        return True
    if not pointer.startswith("/"):
        return True  # a plain-name fragment ("#foo", an $anchor): left to the validator
    node = document
    for part in pointer[1:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True

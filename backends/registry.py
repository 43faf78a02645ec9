"""OCI registries (distribution API v2) for Helm charts: the only module talking to them.

OCI has no index: a repository is registered with an explicit list of chart
repositories (``charts/redis``), and each tag is a chart version. A chart's manifest
has a config blob (``application/vnd.cncf.helm.config.v1+json`` = Chart.yaml as JSON)
and one content layer (the .tgz). Basic auth only (the Debian distribution server's
htpasswd); bearer-token registries are a later step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from django.conf import settings

from .egress import guarded_session
from .errors import BackendPermanentError, BackendTransientError

SYSTEM = "registry"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class ChartManifest:
    repository: str
    tag: str
    digest: str  # of the manifest
    config: dict  # Chart.yaml fields
    layer_digest: str
    layer_size: int


class RegistryClient:
    """Read-only chart access to one registry (``http(s)://host[:port]``)."""

    def __init__(self, base_url: str, *, username: str = "", password: str = "", verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = guarded_session(SYSTEM)  # a tenant names the registry: egress.py
        self.session.verify = verify
        if username:
            self.session.auth = (username, password)

    def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository``, following ``Link`` pagination."""
        url, tags = f"/v2/{repository}/tags/list?n=1000", []
        while url:
            response = self._get(url)
            tags.extend((response.json() or {}).get("tags") or [])
            url = response.links.get("next", {}).get("url", "")
        return tags

    def chart_manifest(self, repository: str, tag: str) -> ChartManifest:
        response = self._get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
        manifest = response.json()
        config_ref = manifest.get("config") or {}
        if config_ref.get("mediaType") != HELM_CONFIG:
            raise BackendPermanentError(f"{repository}:{tag} is not a Helm chart (config media type "
                                        f"{config_ref.get('mediaType')!r})", system=SYSTEM, reason="not_a_chart")
        layer = next((entry for entry in manifest.get("layers") or [] if entry.get("mediaType") == HELM_LAYER), None)
        if layer is None:
            raise BackendPermanentError(f"{repository}:{tag} has no chart layer", system=SYSTEM, reason="not_a_chart")
        config = json.loads(self.blob(repository, config_ref["digest"], max_bytes=1024 * 1024))
        return ChartManifest(repository=repository, tag=tag,
                             digest=response.headers.get("Docker-Content-Digest", ""), config=config,
                             layer_digest=layer["digest"], layer_size=int(layer.get("size") or 0))

    def blob(self, repository: str, digest: str, *, max_bytes: int) -> bytes:
        response = self._get(f"/v2/{repository}/blobs/{digest}", stream=True)
        data = b""
        for chunk in response.iter_content(64 * 1024):
            data += chunk
            if len(data) > max_bytes:
                raise BackendPermanentError(f"blob {digest} is larger than {max_bytes} bytes", system=SYSTEM,
                                            reason="too_large")
        return data

    def _get(self, path: str, **kwargs):
        url = urljoin(self.base_url + "/", path.lstrip("/"))
        try:
            response = self.session.get(url, timeout=settings.APPSTORE_HTTP_TIMEOUT, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise BackendTransientError(f"cannot reach the registry at {self.base_url}: {str(exc)[:200]}",
                                        system=SYSTEM) from None
        if response.status_code == 200:
            return response
        error = BackendTransientError if response.status_code >= 500 or response.status_code == 429 else \
            BackendPermanentError
        hint = {401: " (check the credentials)", 404: " (no such repository or tag)"}.get(response.status_code, "")
        raise error(f"registry answered HTTP {response.status_code} for {path.split('?')[0]}{hint}",
                    system=SYSTEM, status=response.status_code)

"""A real Helm HTTP chart repository on loopback: index.yaml + .tgz files served by http.server.

    repo = ChartRepoServer(root)           # started on a free 127.0.0.1 port
    repo.publish(path_to_tgz)               # adds the entry (name, version, sha256 digest) to index.yaml
    repo.stop(); repo.start()               # unreachable, then back on the same port

It records the paths it served, so a test can tell whether the portal fetched an archive.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import yaml


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, served: list[str], **kwargs):
        self.served = served
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.served.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


class ChartRepoServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.entries: dict[str, list[dict]] = {}
        self.served: list[str] = []
        self.port = 0
        self._server = None
        self._write_index()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        handler = functools.partial(_Handler, served=self.served, directory=str(self.root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def publish(self, archive: Path | bytes, *, name: str = "", version: str = "", digest: str | None = None,
                filename: str = "") -> str:
        """Serve ``archive`` and list it in index.yaml; name and version default to its Chart.yaml's.

        ``digest`` overrides the announced sha256 ('' announces none). Returns the file name.
        """
        data = archive if isinstance(archive, bytes) else archive.read_bytes()
        if not (name and version):
            meta = chart_yaml(data)
            name, version = name or meta["name"], version or str(meta["version"])
        filename = filename or f"{name}-{version}.tgz"
        (self.root / filename).write_bytes(data)
        entry = {"apiVersion": "v2", "name": name, "version": version, "urls": [filename],
                 "description": f"{name} from a loopback repository", "created": "2026-11-25T00:00:00Z"}
        announced = hashlib.sha256(data).hexdigest() if digest is None else digest
        if announced:
            entry["digest"] = announced
        self.entries.setdefault(name, []).insert(0, entry)
        self._write_index()
        return filename

    def fetches(self, filename: str) -> int:
        return sum(1 for path in self.served if path.lstrip("/") == filename)

    def _write_index(self) -> None:
        (self.root / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": self.entries}))


def chart_yaml(data: bytes) -> dict:
    """Chart.yaml of a well-formed .tgz (test helper; the portal's own reader is appstore.charts.archive)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
        return yaml.safe_load(tar.extractfile(member).read())

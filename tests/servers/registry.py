"""A real OCI registry for the test session: Debian's docker-registry (distribution 2.8) on loopback.

Recipe: /work/shared/reference/test-servers.md §2. Config and data live in a throwaway
directory; the registry listens on a free 127.0.0.1 port and is stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass

import pytest

from .keystone import free_port


@dataclass(frozen=True)
class RegistryServer:
    url: str  # http://127.0.0.1:PORT

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory) -> RegistryServer:
    if shutil.which("docker-registry") is None:
        pytest.fail("docker-registry is not installed: run `make test-deps`.", pytrace=False)
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    (root / "config.yml").write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
    log = root / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/v2/", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"docker-registry did not answer within 20 s:\n{log.read_text()[-3000:]}"
                                       ) from None
                time.sleep(0.1)
        yield RegistryServer(url=url)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

"""The helm binary: the only module that runs it.

Each call runs in a private, throwaway HOME/XDG directory so no user configuration,
repository list, plugin or registry login leaks in (or out), with a timeout. Helm is
used for what only Helm can judge faithfully: ``lint``, ``template`` (Go templates and
Sprig), ``package`` and OCI ``push``/``pull``. Reading archives is done in Python.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .errors import BackendPermanentError, BackendTransientError

SYSTEM = "helm"
OUTPUT_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class LintResult:
    ok: bool
    messages: list[str]


def binary() -> str:
    path = str(settings.HELM_BINARY)
    if not os.access(path, os.X_OK):
        raise BackendPermanentError(f"the helm binary is missing at {path}; run scripts/install-helm.sh "
                                    "(or set HELM_BINARY)", system=SYSTEM)
    return path


@contextmanager
def _sandbox():
    with tempfile.TemporaryDirectory(prefix="bluedock-helm-") as home:
        env = {"HOME": home, "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": f"{home}/config",
               "XDG_CACHE_HOME": f"{home}/cache", "XDG_DATA_HOME": f"{home}/data",
               "HELM_CONFIG_HOME": f"{home}/config/helm", "HELM_CACHE_HOME": f"{home}/cache/helm",
               "HELM_DATA_HOME": f"{home}/data/helm", "HELM_REGISTRY_CONFIG": f"{home}/config/registry.json",
               "KUBECONFIG": f"{home}/no-kubeconfig"}
        yield Path(home), env


def _run(args: list[str], *, env: dict, cwd: Path, timeout: int | None = None) -> subprocess.CompletedProcess:
    timeout = timeout or settings.HELM_TIMEOUT
    try:
        proc = subprocess.run([binary(), *args], env=env, cwd=cwd, capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise BackendTransientError(f"helm {args[0]} took longer than {timeout}s", system=SYSTEM) from None
    except OSError as exc:
        raise BackendPermanentError(f"cannot run helm: {exc}", system=SYSTEM) from None
    proc.stdout = proc.stdout[:OUTPUT_LIMIT].decode("utf-8", "replace")
    proc.stderr = proc.stderr[:OUTPUT_LIMIT].decode("utf-8", "replace")
    return proc


def _with_archive(archive: bytes, filename: str = "chart.tgz"):
    """Write the archive into a fresh sandbox; helm reads the .tgz itself (it never extracts to disk)."""

    @contextmanager
    def manager():
        with _sandbox() as (home, env):
            path = home / filename
            path.write_bytes(archive)
            yield home, env, path

    return manager()


def lint(archive: bytes) -> LintResult:
    """``helm lint`` of a packaged chart; messages are helm's [ERROR]/[WARNING] lines."""
    with _with_archive(archive) as (home, env, path):
        proc = _run(["lint", str(path)], env=env, cwd=home)
    lines = [line.strip() for line in (proc.stdout + "\n" + proc.stderr).splitlines()]
    messages = [line.replace(str(path), "chart.tgz") for line in lines
                if line.startswith(("[ERROR]", "[WARNING]", "Error:"))]
    return LintResult(ok=proc.returncode == 0, messages=messages[:50])


def template(archive: bytes, *, release: str = "preview", namespace: str = "preview",
             values_yaml: str | None = None) -> str:
    """Render the chart locally (``helm template --include-crds``); raises BackendPermanentError with helm's message."""
    with _with_archive(archive) as (home, env, path):
        args = ["template", release, str(path), "--namespace", namespace, "--include-crds"]
        if values_yaml is not None:
            (home / "values.yaml").write_text(values_yaml)
            args += ["--values", str(home / "values.yaml")]
        proc = _run(args, env=env, cwd=home)
    if proc.returncode:
        raise BackendPermanentError(proc.stderr.strip().replace(str(path), "chart.tgz")[-2000:] or "helm template "
                                    "failed", system=SYSTEM, reason="template_failed")
    return proc.stdout


def package(chart_dir: Path, destination: Path) -> Path:
    """``helm package`` a chart directory into ``destination``; returns the .tgz path."""
    with _sandbox() as (home, env):
        proc = _run(["package", str(chart_dir), "--destination", str(destination)], env=env, cwd=home)
    if proc.returncode:
        raise BackendPermanentError(proc.stderr.strip()[-2000:], system=SYSTEM)
    return Path(proc.stdout.strip().rsplit(": ", 1)[-1])


def push(archive_path: Path, oci_url: str, *, plain_http: bool = False, username: str = "",
         password: str = "") -> str:
    """``helm push`` a packaged chart to ``oci://host/path``; returns helm's "Pushed: …" reference."""
    with _sandbox() as (home, env):
        if username:
            _login(oci_url, username, password, env=env, cwd=home, plain_http=plain_http)
        args = ["push", str(archive_path), oci_url] + (["--plain-http"] if plain_http else [])
        proc = _run(args, env=env, cwd=home)
    if proc.returncode:
        raise _classify(proc.stderr)
    return next((line.split(":", 1)[1].strip() for line in (proc.stdout + proc.stderr).splitlines()
                 if line.startswith("Pushed:")), "")


def pull(oci_ref: str, version: str, *, plain_http: bool = False) -> bytes:
    """``helm pull oci://…/chart --version V``; returns the archive bytes."""
    with _sandbox() as (home, env):
        out = home / "out"
        out.mkdir()
        args = ["pull", oci_ref, "--version", version, "--destination", str(out)]
        proc = _run(args + (["--plain-http"] if plain_http else []), env=env, cwd=home)
        if proc.returncode:
            raise _classify(proc.stderr)
        return next(out.glob("*.tgz")).read_bytes()


def _login(oci_url: str, username: str, password: str, *, env: dict, cwd: Path, plain_http: bool) -> None:
    host = oci_url.removeprefix("oci://").split("/", 1)[0]
    args = ["registry", "login", host, "--username", username, "--password-stdin"]
    try:
        proc = subprocess.run([binary(), *args, *(["--insecure"] if plain_http else [])], env=env, cwd=cwd,
                              input=password.encode(), capture_output=True, timeout=settings.HELM_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise BackendTransientError("helm registry login timed out", system=SYSTEM) from None
    if proc.returncode:
        raise _classify(proc.stderr.decode("utf-8", "replace"))


def _classify(stderr: str) -> Exception:
    message = stderr.strip()[-2000:] or "helm failed"
    transient = any(s in message for s in ("connection refused", "i/o timeout", "503", "502", "504", "EOF"))
    return (BackendTransientError if transient else BackendPermanentError)(message, system=SYSTEM)

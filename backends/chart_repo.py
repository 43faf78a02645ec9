"""Helm HTTP chart repositories (``index.yaml`` + archives): the only module fetching them.

Reads are size-limited while streaming, so a hostile or broken repository cannot make
the portal download gigabytes; credentials go in an Authorization header and never in
error messages; a custom CA bundle (PEM text) is written to a temporary file for requests.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from django.conf import settings

from .egress import guarded_session
from .errors import BackendPermanentError, BackendTransientError

SYSTEM = "chart_repo"


@dataclass(frozen=True)
class RepoAuth:
    username: str = ""
    password: str = ""
    ca_bundle: str = ""  # PEM; empty = the system's trust store


def index_url(base_url: str) -> str:
    return urljoin(base_url.rstrip("/") + "/", "index.yaml")


def fetch_index(base_url: str, *, auth: RepoAuth = RepoAuth(), max_bytes: int | None = None) -> bytes:
    """The repository's index.yaml, raw."""
    return fetch(index_url(base_url), auth=auth, max_bytes=max_bytes or settings.APPSTORE_INDEX_MAX_BYTES)


def chart_url(base_url: str, url: str) -> str:
    """Index entries may hold relative URLs (relative to the repository)."""
    return urljoin(base_url.rstrip("/") + "/", url)


def fetch(url: str, *, auth: RepoAuth = RepoAuth(), max_bytes: int) -> bytes:
    with _verify(auth.ca_bundle) as verify:
        try:
            with guarded_session(SYSTEM) as session, session.get(
                    url, auth=(auth.username, auth.password) if auth.username else None, stream=True,
                    timeout=settings.APPSTORE_HTTP_TIMEOUT, verify=verify) as response:
                _check_status(response, url)
                chunks, total = [], 0
                for chunk in response.iter_content(64 * 1024):
                    total += len(chunk)
                    if total > max_bytes:
                        raise BackendPermanentError(f"{url} is larger than {max_bytes} bytes", system=SYSTEM,
                                                    reason="too_large")
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.exceptions.SSLError as exc:
            raise BackendPermanentError(f"TLS error fetching {url}: {_short(exc)}", system=SYSTEM) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise BackendTransientError(f"cannot reach {url}: {_short(exc)}", system=SYSTEM) from None
        except requests.RequestException as exc:
            raise BackendPermanentError(f"cannot fetch {url}: {_short(exc)}", system=SYSTEM) from None


def _check_status(response, url: str) -> None:
    if response.status_code == 200:
        return
    error = BackendTransientError if response.status_code >= 500 or response.status_code == 429 else \
        BackendPermanentError
    hint = " (check the repository's credentials)" if response.status_code in (401, 403) else ""
    raise error(f"{url} answered HTTP {response.status_code}{hint}", system=SYSTEM, status=response.status_code)


@contextmanager
def _verify(ca_bundle: str):
    if not ca_bundle:
        yield True
        return
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as handle:
        handle.write(ca_bundle)
        handle.flush()
        yield handle.name


def _short(exc: Exception) -> str:
    return str(exc)[:300]

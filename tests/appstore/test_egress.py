"""A tenant names a repository's address and the worker fetches it from inside the platform: the
cloud's metadata service (link-local) is never reached, not even through a redirect."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from backends import chart_repo
from backends.errors import BackendPermanentError
from backends.registry import RegistryClient


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 — http.server's name
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/iam/")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def redirecting():
    server = HTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_metadata_service_is_never_fetched():
    with pytest.raises(BackendPermanentError) as refused:
        chart_repo.fetch_index("http://169.254.169.254/latest/meta-data/")
    assert refused.value.reason == "blocked_address" and "169.254.169.254" in str(refused.value)


@pytest.mark.parametrize("url", [
    "http://[::ffff:169.254.169.254]/latest/meta-data/",  # IPv4-mapped: a dual-stack socket reaches it
    "http://[fe80::a9fe:a9fe%25eth0]/openstack/",  # OpenStack's IPv6 metadata address, with a zone
])
def test_the_metadata_service_is_not_reached_by_another_spelling(url):
    with pytest.raises(BackendPermanentError) as refused:
        chart_repo.fetch(url, max_bytes=1000)
    assert refused.value.reason == "blocked_address"


def test_an_address_that_does_not_parse_is_refused_not_let_through():
    from backends.egress import blocked_address

    assert blocked_address("http://[fe80::zz]/") == "[fe80::zz]"


def test_a_redirect_to_the_metadata_service_is_refused_before_it_is_followed(redirecting):
    with pytest.raises(BackendPermanentError) as refused:
        chart_repo.fetch(f"{redirecting}/index.yaml", max_bytes=1000)
    assert refused.value.reason == "blocked_address"


def test_operators_block_their_internal_networks_too(redirecting, settings):
    settings.EGRESS_BLOCKED_NETWORKS = [*settings.EGRESS_BLOCKED_NETWORKS, "127.0.0.0/8"]
    with pytest.raises(BackendPermanentError) as refused:
        chart_repo.fetch(f"{redirecting}/index.yaml", max_bytes=1000)
    assert refused.value.reason == "blocked_address" and "127.0.0.1" in str(refused.value)
    with pytest.raises(BackendPermanentError) as refused:
        RegistryClient(redirecting).tags("charts/x")
    assert refused.value.reason == "blocked_address"

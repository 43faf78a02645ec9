"""The Kubernetes backend's own care: a certificate it cannot verify is said so, not read as an
unreachable cluster; the PEM files it writes for the client go with it."""

from __future__ import annotations

import gc
import os
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from backends.errors import BackendPermanentError
from backends.kubernetes import Credentials, KubernetesBackend


class _Version(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 — http.server's name
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"major": "1", "minor": "31", "gitVersion": "v1.31.0"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server whose self-signed certificate no trust store knows."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = HTTPServer(("127.0.0.1", 0), _Version)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_certificate_that_cannot_be_verified_is_said_so_and_not_retried(tls_server):
    with pytest.raises(BackendPermanentError) as refused:
        KubernetesBackend(Credentials(api_url=tls_server), timeout=5).version()
    assert refused.value.reason == "tls" and "certificate was not accepted" in str(refused.value)


def test_the_pem_files_written_for_the_client_go_with_the_backend():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    backend = KubernetesBackend(Credentials(api_url="https://127.0.0.1:1", ca_cert=pem, client_cert=pem,
                                            client_key=pem))
    files = list(backend._files)
    assert len(files) == 3 and all(os.path.exists(f) for f in files)
    del backend
    gc.collect()
    assert not any(os.path.exists(f) for f in files)

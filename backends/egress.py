"""Where the portal's workers connect when a tenant names the address: chart repositories and OCI
registries (chart_repo.py, registry.py).

A tenant admin may add a repository, and the worker then fetches its URL — and every redirect and
index entry after it — from inside the platform's network. Without a guard that is a request
forgery: the cloud's metadata service (169.254.169.254 on OpenStack, AWS and most others) hands
instance credentials to whoever asks from there. So every connection, redirects included, is
checked against ``EGRESS_BLOCKED_NETWORKS`` before it is made: link-local and unspecified
addresses by default, to which operators add their internal ranges if tenants must not reach them.
The check resolves the host itself; a name that resolves differently a moment later (DNS
rebinding) is the residual risk, which an egress proxy or network policy closes for good.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import unquote, urlsplit

import requests
from django.conf import settings

from .errors import BackendPermanentError


def blocked_address(url: str) -> str | None:
    """The first address ``url``'s host resolves to that lies in a blocked network, or None.

    An IPv6 literal loses its zone (``fe80::a9fe:a9fe%25eth0`` is still OpenStack's metadata
    service) and an IPv4-mapped one counts as its IPv4 address (``::ffff:169.254.169.254``
    reaches 169.254.169.254 through a dual-stack socket); a literal that does not parse is
    refused rather than let through."""
    try:
        host = urlsplit(url).hostname
    except ValueError:  # a bracketed host that is no address
        return url.partition("//")[2].partition("/")[0] or url
    if not host:
        return None
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.EGRESS_BLOCKED_NETWORKS]
    if ":" in host:  # an IPv6 literal, never a name
        try:
            addresses = [ipaddress.ip_address(unquote(host).split("%")[0])]
        except ValueError:
            return host
    else:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            return None  # unresolvable: the connection itself fails, with the usual message
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address.version == network.version and address in network for network in networks):
            return str(address)
    return None


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """Refuses, before connecting, every request (each redirect is one) to a blocked address."""

    def __init__(self, system: str, **kwargs) -> None:
        self.system = system
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        address = blocked_address(request.url)
        if address is not None:
            host = urlsplit(request.url).hostname
            raise BackendPermanentError(f"{host} resolves to {address}, an address the portal does not connect to "
                                        f"for repositories (EGRESS_BLOCKED_NETWORKS)", system=self.system,
                                        reason="blocked_address")
        return super().send(request, **kwargs)


def guarded_session(system: str) -> requests.Session:
    session = requests.Session()
    adapter = GuardedAdapter(system)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session

"""What one viewer may read of the engine's explanations: other tenants stay anonymous.

The engine names requests (``<namespace>/<pod or gang>``) and tree nodes (``t<pk>``,
``t<pk>#self``, ``root``) in its messages and facts, and the cycle records them as written.
Everything a person reads of them goes through a ``Redactor`` made for that person: a node reads
as the tenant's path and a request keeps its id only when the viewer may see that tenant (its
own, or one below a tenant it holds an inherited role on); any other reads "another tenant" or
"another tenant's workload". Operators see everything. Numbers stay: amounts, owned and limits
explain a share, not who holds it; a message reads them in display units (units.py).
"""

from __future__ import annotations

import re

from tenants.access import Access, access_for
from tenants.models import Namespace, Tenant

from .snapshot import ROOT
from .units import in_display_units, request_readings

ANOTHER_TENANT = "another tenant"
ANOTHER_WORKLOAD = "another tenant's workload"
THE_CLUSTER = "the cluster"

# Engine node ids inside prose; not inside names such as the namespace "t1-apps" or "a/t2.x".
NODE_IN_TEXT = re.compile(r"(?<![\w\-/.])t(\d+)(#self)?(?![\w\-/]|\.\w)")
NODE = re.compile(r"t(\d+)(?:#self)?")
# A request id inside prose: a namespace (a DNS label, so no dots) and a pod or gang name.
REQUEST_IN_TEXT = re.compile(r"(?<![\w\-/.])([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)/([\w](?:[\w\-.]*\w)?)")
# Facts that hold nodes, and facts that hold request ids (the engine's own keys, explain.py).
NODE_FACTS = {"node", "via", "lender_scope", "victim_node", "preemptor_node", "lca", "leaf", "path"}
REQUEST_FACTS = {"request", "victim", "preemptor", "by", "victims", "released", "handed_back_to"}


class Redactor:
    """Engine ids as ``user`` may read them. Reads every tenant (three columns: the cycle reads
    them all each pass too) and each cluster's namespaces once, when first needed, so a page of
    rows costs the same few queries however many rows and tenants it names."""

    def __init__(self, user, *, access: Access | None = None) -> None:
        self.access = access or access_for(user)
        self._tenants: dict[int, Tenant] | None = None
        self._namespaces: dict[int, dict[str, int]] = {}
        self._visible: dict[int, bool] = {}

    @classmethod
    def for_operators(cls) -> Redactor:
        """Everything named: the console, which only operators reach."""
        return cls(None, access=Access(user_id=None, is_operator=True))

    # ------------------------------------------------------------ identities

    def node(self, node: str) -> str:
        """A node id as a tenant path (``the cluster`` for the root), or ``another tenant``."""
        if not node:
            return ""
        if node == ROOT:
            return THE_CLUSTER
        tenant = self._tenant_of_node(node)
        return tenant.full_slug if tenant is not None and self._can_see(tenant.pk) else ANOTHER_TENANT

    def request(self, cluster_id: int, key: str) -> str:
        """A request id, or ``another tenant's workload`` when its namespace is not the viewer's
        (or no longer known: the namespace may have gone, its requests' ids stay in history)."""
        if self.access.is_operator:
            return key
        tenant_id = self._namespaces_of(cluster_id).get(key.split("/", 1)[0])
        return key if tenant_id is not None and self._can_see(tenant_id) else ANOTHER_WORKLOAD

    # ------------------------------------------------------------ records

    def request_message(self, row) -> str:
        """A SchedulingRequest's latest word; its facts are those of the decision it came from, or
        the cycle's own when the word is the cycle's (a shrink's, shrinks.rows): either way they
        hold the request ids the message names."""
        message = in_display_units(row.message, row.facts, request_readings(row))
        return self.text(row.cluster_id, message, ids=[row.key, *_request_ids(row.facts)])

    def decision_message(self, d) -> str:
        message = in_display_units(d.message, d.facts, [(d.action, d.reason, d.request or None)])
        return self.text(d.cluster_id, message, ids=[d.request, d.victim, d.preemptor, *_request_ids(d.facts)])

    def text(self, cluster_id: int, text: str, *, ids=()) -> str:
        """Prose from the engine or the cycle, with node ids read as tenant paths and other
        tenants' request ids replaced. ``ids``: request ids the record is known to name; they are
        replaced whole even when a gang's name has characters a pod's has not."""
        if not text:
            return ""
        if not self.access.is_operator:
            hidden = sorted({k for k in ids if k and self.request(cluster_id, k) != k}, key=len, reverse=True)
            if hidden:
                named = re.compile(r"(?<![\w\-/.])(?:" + "|".join(map(re.escape, hidden)) + r")(?![\w\-/]|\.\w)")
                text = named.sub(ANOTHER_WORKLOAD, text)
            namespaces = self._namespaces_of(cluster_id)

            def request(m: re.Match) -> str:
                tenant_id = namespaces.get(m.group(1))
                return m.group(0) if tenant_id is None or self._can_see(tenant_id) else ANOTHER_WORKLOAD

            text = REQUEST_IN_TEXT.sub(request, text)
        return NODE_IN_TEXT.sub(self._node_in_text, text)

    def facts(self, cluster_id: int, value, key: str = ""):
        """Engine facts (or the engine's ``why``) as the viewer may read them: nodes as names,
        other tenants' request ids replaced, numbers as they are."""
        if isinstance(value, dict):  # keys may be nodes too (per_node)
            out: dict = {}
            for k, v in value.items():
                out[_unused(out, self._name(cluster_id, k, "") if isinstance(k, str) else k)] = self.facts(
                    cluster_id, v, k)
            return out
        if isinstance(value, list | tuple):
            return [self.facts(cluster_id, v, key) for v in value]
        if isinstance(value, str):
            return self._name(cluster_id, value, key)
        return value

    # ------------------------------------------------------------ internals

    def _name(self, cluster_id: int, value: str, key: str) -> str:
        if key in NODE_FACTS or NODE.fullmatch(value):
            return self.node(value)
        if key in REQUEST_FACTS or (REQUEST_IN_TEXT.fullmatch(value) and self._is_request(cluster_id, value)):
            return self.request(cluster_id, value)
        return self.text(cluster_id, value)

    def _is_request(self, cluster_id: int, value: str) -> bool:
        return value.split("/", 1)[0] in self._namespaces_of(cluster_id)

    def _node_in_text(self, m: re.Match) -> str:
        tenant = self._all_tenants().get(int(m.group(1)))
        if tenant is None:
            return m.group(0) if self.access.is_operator else ANOTHER_TENANT
        if not self._can_see(tenant.pk):
            return ANOTHER_TENANT
        return f"tenant {tenant.full_slug}" + (" (its own namespaces)" if m.group(2) else "")

    def _tenant_of_node(self, node: str) -> Tenant | None:
        m = NODE.fullmatch(node)
        return self._all_tenants().get(int(m.group(1))) if m else None

    def _can_see(self, tenant_id: int) -> bool:
        if self.access.is_operator:
            return True
        if tenant_id not in self._visible:
            tenant = self._all_tenants().get(tenant_id)
            self._visible[tenant_id] = tenant is not None and self.access.can_see(tenant)
        return self._visible[tenant_id]

    def _all_tenants(self) -> dict[int, Tenant]:
        if self._tenants is None:
            self._tenants = {t.pk: t for t in Tenant.objects.order_by().only("id", "path", "full_slug")}
        return self._tenants

    def _namespaces_of(self, cluster_id: int) -> dict[str, int]:
        if cluster_id not in self._namespaces:
            self._namespaces[cluster_id] = dict(Namespace.objects.filter(cluster_id=cluster_id)
                                                .values_list("name", "tenant_id"))
        return self._namespaces[cluster_id]


def _unused(taken: dict, name):
    """``name``, or ``name (2)``, ``(3)``… when two hidden nodes both read "another tenant"."""
    n, key = 1, name
    while key in taken:
        n += 1
        key = f"{name} ({n})"
    return key


def _request_ids(facts) -> list[str]:
    """The request ids a decision's facts name (``REQUEST_FACTS``: victim, preemptor, by, victims, …)."""
    found = []
    for key in REQUEST_FACTS:
        value = (facts or {}).get(key)
        found += [v for v in (value if isinstance(value, list | tuple) else [value]) if isinstance(v, str)]
    return found

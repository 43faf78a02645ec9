"""``manage.py load_demo``: the demo organisation ``make run`` starts with.

Everything is written through the services, acting as the operator, so the demo
has the same audit trail a real organisation would. Each object is looked up
first and only created (or its plan changed) when it differs, so a second run
changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from appstore.demo import load_demo_apps
from backends.kubernetes import Credentials
from scheduling.demo import TEAM_ONE, TEAM_TWO
from scheduling.seed_case import OWNED_CPU, T2_BORROW_CPU
from tenants.demo import OPERATOR, PEOPLE, demo_password
from tenants.models import Cluster, Membership, Namespace, ResourcePlan, Tenant
from tenants.services.clusters import cluster_create, cluster_credentials, cluster_set_credentials
from tenants.services.memberships import membership_create
from tenants.services.namespaces import namespace_create
from tenants.services.plans import PLAN_FIELDS, plan_update
from tenants.services.tenants import tenant_create

# (full_slug, name); parents come before their children.
TENANTS = [
    ("acme", "ACME Corp"),
    ("acme/platform", "Platform"),
    ("acme/platform/ci", "Platform CI"),
    ("acme/research", "Research"),
    ("acme/research/vision", "Vision"),
    ("acme/research/vision/training", "Vision Training"),
    ("acme/team-a", "Team A"),
    ("acme/team-a/dev", "Team A Dev"),
    ("acme/team-a/prod", "Team A Prod"),
    ("acme/team-b", "Team B"),
    # The scheduling demo's pair, the seed case's T1 and T2 (scheduling/demo.py).
    (TEAM_ONE.path, "Team One (T1)"),
    (TEAM_TWO.path, "Team Two (T2)"),
]

# (full_slug, username, role, inherited)
MEMBERSHIPS = [
    ("acme/team-a", "alice", "tenant-admin", True),
    ("acme/team-a", "bob", "member", True),
    ("acme/team-b", "charlie", "tenant-admin", True),
    ("acme/research/vision", "dana", "member", True),
]

CPU, MEM, PODS, GPU = "cpu", "memory", "pods", "gpu"


def _p(owned, limit=None, borrow_limit=None, lend_limit=None) -> dict:
    return {"owned": owned, "limit": limit, "borrow_limit": borrow_limit, "lend_limit": lend_limit}


# Parents before children: a child's owned must fit in what its parent already owns, and its
# limit under the parent's. Sibling owned sums stay at or below the parent's owned.
#
# acme owns no more than `make run`'s sandbox cluster (CLUSTER below) has: 4 nodes of 4 cpu,
# 16 GiB, 110 pods and 2 GPUs (scripts/run.py). Owning more would put every scheduling decision
# under degraded capacity. Its 16 cpu are the seed case's: team-one and team-two own 8
# each (team-two may borrow 4), so the other teams own no cpu; they may borrow what is idle, and
# their limits still apply.
PLANS = {
    "acme": {CPU: _p(16000, 32000), MEM: _p(65536, 131072), PODS: _p(400, 800), GPU: _p(8, 8)},
    "acme/platform": {CPU: _p(0, 8000), MEM: _p(8192, 16384), PODS: _p(80, 160)},
    "acme/platform/ci": {CPU: _p(0, 4000, borrow_limit=2000), MEM: _p(4096, 8192), PODS: _p(40, 80)},
    "acme/research": {CPU: _p(0, 16000), MEM: _p(24576, 49152), PODS: _p(120, 240), GPU: _p(8, 8)},
    "acme/research/vision": {CPU: _p(0, 16000), MEM: _p(16384, 32768), GPU: _p(6, 8)},
    "acme/research/vision/training": {CPU: _p(0, 16000, borrow_limit=8000), GPU: _p(4, 8, borrow_limit=2)},
    "acme/team-a": {CPU: _p(0, 8000), MEM: _p(16384, 32768), PODS: _p(80, 160)},
    "acme/team-a/dev": {CPU: _p(0, 4000), MEM: _p(4096, 8192), PODS: _p(20, 40)},
    "acme/team-a/prod": {CPU: _p(0, 8000), MEM: _p(8192, 16384), PODS: _p(40, 80)},
    "acme/team-b": {CPU: _p(0, 8000), MEM: _p(8192, 16384), PODS: _p(40, 80)},
    TEAM_ONE.path: {CPU: _p(OWNED_CPU, 16000), MEM: _p(4096, 8192), PODS: _p(40, 80)},
    TEAM_TWO.path: {CPU: _p(OWNED_CPU, 16000, borrow_limit=T2_BORROW_CPU), MEM: _p(4096, 8192), PODS: _p(40, 80)},
}

CLUSTER = ("sandbox", "http://127.0.0.1:6443", "The local sandbox cluster (make run).")

# (full_slug, namespace name)
NAMESPACES = [
    ("acme/platform/ci", "platform-ci"),
    ("acme/research/vision/training", "vision-training"),
    ("acme/team-a/dev", "team-a-dev"),
    ("acme/team-a/prod", "team-a-prod"),
    ("acme/team-b", "team-b-apps"),
    (TEAM_ONE.path, TEAM_ONE.namespace),
    (TEAM_TWO.path, TEAM_TWO.namespace),
]


def _target(current: dict | None, target: dict) -> dict:
    return target


def _lowered(current: dict | None, target: dict) -> dict | None:
    """No higher than both the current plan and the target (None: no plan yet, nothing to lower)."""
    if current is None:
        return None
    owned = min(current["owned"], target["owned"])
    lend = _at_most(current["lend_limit"], target["lend_limit"])
    return {"owned": owned, "limit": _at_most(current["limit"], target["limit"]),
            "borrow_limit": current["borrow_limit"], "lend_limit": None if lend is None else min(lend, owned)}


def _at_most(a: int | None, b: int | None) -> int | None:
    """The stricter of two limits, None meaning "no limit"."""
    return b if a is None else a if b is None else min(a, b)


class Command(BaseCommand):
    help = "Load the demo organisation (idempotent): users, a 4-level tenant tree, plans, a cluster, namespaces."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-kubeconfig", default="",
                            help="Register the demo cluster with this kubeconfig (make run passes the sandbox's).")

    def handle(self, *args, sandbox_kubeconfig="", **options):
        self.changes: list[str] = []
        self.kubeconfig = Path(sandbox_kubeconfig).read_text() if sandbox_kubeconfig else ""
        with transaction.atomic():
            operator = self._users()
            self._tenants(operator)
            self._memberships(operator)
            self._plans(operator)
            self._cluster_and_namespaces(operator)
            self.changes += load_demo_apps(actor=operator)  # the app store's built-in demo repository
        if not self.changes:
            self.stdout.write("Demo data already loaded; nothing changed.")
            return
        for change in self.changes:
            self.stdout.write(f"  + {change}")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded ({len(self.changes)} changes)."))

    def _users(self):
        users = get_user_model().objects
        # There is no user service: accounts come from the IdP in production, this is the laptop stand-in.
        operator = users.filter(username=OPERATOR).first()
        if operator is None:
            operator = users.create_user(OPERATOR, email=f"{OPERATOR}@example.test", password=demo_password(OPERATOR),
                                         is_staff=True, is_superuser=True)
            self.changes.append(f"user {OPERATOR} (operator)")
        for name in PEOPLE:
            if not users.filter(username=name).exists():
                users.create_user(name, email=f"{name}@example.test", password=demo_password(name))
                self.changes.append(f"user {name}")
        return operator

    def _tenants(self, operator) -> None:
        for full_slug, name in TENANTS:
            if Tenant.objects.filter(full_slug=full_slug).exists():
                continue
            parent_slug, _, slug = full_slug.rpartition("/")
            # Fetched fresh: treebeard derives the next child path from the parent's stored row.
            parent = Tenant.objects.get(full_slug=parent_slug) if parent_slug else None
            tenant_create(name=name, slug=slug, parent=parent, actor=operator)
            self.changes.append(f"tenant {full_slug}")

    def _memberships(self, operator) -> None:
        for full_slug, username, role, inherited in MEMBERSHIPS:
            tenant = Tenant.objects.get(full_slug=full_slug)
            if Membership.objects.filter(tenant=tenant, user__username=username).exists():
                continue
            membership_create(tenant=tenant, actor=operator, role=role, inherited=inherited, username=username)
            self.changes.append(f"{username} is {role} of {full_slug}{' (inherited)' if inherited else ''}")

    def _plans(self, operator) -> None:
        """Lower first, deepest tenants first, then set every plan top-down: each step keeps the plan
        rules, so a database loaded with earlier, larger demo plans moves to these as well."""
        changed: dict[str, set[str]] = {}
        for step, order in ((_lowered, reversed(PLANS)), (_target, PLANS)):
            for full_slug in order:
                tenant = Tenant.objects.get(full_slug=full_slug)
                current = {p.resource: {f: getattr(p, f) for f in PLAN_FIELDS} for p in ResourcePlan.objects.filter(
                    tenant=tenant)}
                wanted = {r: step(current.get(r), values) for r, values in PLANS[full_slug].items()}
                changes = {r: values for r, values in wanted.items() if values is not None and current.get(r) != values}
                if changes:
                    plan_update(tenant=tenant, changes=changes, actor=operator)
                    changed.setdefault(full_slug, set()).update(changes)
        self.changes += [f"plan of {slug}: {', '.join(sorted(changed[slug]))}" for slug in PLANS if slug in changed]

    def _cluster_and_namespaces(self, operator) -> None:
        name, api_url, description = CLUSTER
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            cluster = cluster_create(name=name, api_url=api_url, description=description, actor=operator,
                                     kubeconfig=self.kubeconfig)
            self.changes.append(f"cluster {name}")
        elif self.kubeconfig and cluster_credentials(cluster) != Credentials.from_kubeconfig(self.kubeconfig):
            # The sandbox may come up on another port: follow it.
            cluster_set_credentials(cluster=cluster, kubeconfig=self.kubeconfig, actor=operator)
            self.changes.append(f"cluster {name} credentials")
        for full_slug, ns in NAMESPACES:
            if Namespace.objects.filter(cluster=cluster, name=ns).exists():
                continue
            namespace_create(tenant=Tenant.objects.get(full_slug=full_slug), cluster=cluster, name=ns, actor=operator)
            self.changes.append(f"namespace {name}/{ns} for {full_slug}")

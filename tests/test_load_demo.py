import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from tenants.demo import OPERATOR, PEOPLE, demo_password
from tenants.management.commands.load_demo import PLANS
from tenants.models import AuditEvent, Cluster, Membership, Namespace, ResourcePlan, Tenant
from tenants.services.plans import PLAN_FIELDS, plan_update

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    models = (get_user_model(), Tenant, Membership, ResourcePlan, Cluster, Namespace, AuditEvent)
    return {m.__name__: m.objects.count() for m in models}


def _load(capsys) -> str:
    call_command("load_demo")
    return capsys.readouterr().out


def test_second_run_changes_nothing_and_says_so(capsys):
    first = _load(capsys)
    after_first = _counts()
    second = _load(capsys)
    assert "Demo data loaded" in first
    assert "nothing changed" in second
    assert _counts() == after_first
    assert after_first["Tenant"] == 12 and after_first["Namespace"] == 7


def test_demo_tree_is_four_levels_and_consistent(capsys):
    _load(capsys)
    assert Tenant.objects.order_by("-depth").first().full_slug == "acme/research/vision/training"
    assert max(Tenant.objects.values_list("depth", flat=True)) == 4
    assert Tenant.objects.find_problems() == ([], [], [], [], [])
    for tenant in Tenant.objects.exclude(parent=None).select_related("parent"):
        assert tenant.full_slug == f"{tenant.parent.full_slug}/{tenant.slug}"


def test_demo_logins_work_and_roles_are_as_advertised(capsys, api):
    _load(capsys)
    for name in (OPERATOR, *PEOPLE):
        assert authenticate(username=name, password=demo_password(name)) is not None, name
    alice = get_user_model().objects.get(username="alice")
    slugs = {t["path"]: t["role"] for t in api(alice).get("/api/v1/users/me/").json()["tenants"]}
    assert slugs == {"acme/team-a": "tenant-admin"}
    listed = [t["full_slug"] for t in api(alice).get("/api/v1/tenants/").json()["results"]]
    assert listed == ["acme/team-a", "acme/team-a/dev", "acme/team-a/prod"]


def test_every_change_is_audited_as_the_operator(capsys):
    _load(capsys)
    actors = set(AuditEvent.objects.values_list("actor_name", flat=True))
    assert actors == {OPERATOR}
    assert AuditEvent.objects.filter(action="tenant.create").count() == Tenant.objects.count()
    assert AuditEvent.objects.filter(action="namespace.create").count() == Namespace.objects.count()


def test_demo_plans_follow_the_plan_rules(capsys):
    _load(capsys)
    plans = {(p.tenant_id, p.resource): p for p in ResourcePlan.objects.all()}
    for tenant in Tenant.objects.all():
        for resource in ("cpu", "memory", "pods", "gpu"):
            own = plans.get((tenant.pk, resource))
            children = [plans[(c.pk, resource)] for c in Tenant.objects.filter(parent=tenant)
                        if (c.pk, resource) in plans]
            owned = own.owned if own else 0
            assert sum(c.owned for c in children) <= owned, (tenant.full_slug, resource)
            if own and own.limit is not None:
                assert own.limit >= own.owned
                assert all(c.limit is None or c.limit <= own.limit for c in children), (tenant.full_slug, resource)
            if own and own.lend_limit is not None:
                assert own.lend_limit <= own.owned
    # The service's own validation accepts every plan as it stands.
    operator = get_user_model().objects.get(username=OPERATOR)
    for (tenant_id, resource), plan in plans.items():
        unchanged = {resource: {f: getattr(plan, f) for f in PLAN_FIELDS}}
        plan_update(tenant=Tenant.objects.get(pk=tenant_id), changes=unchanged, actor=operator)


def test_a_database_with_earlier_larger_plans_moves_to_the_current_ones(capsys):
    """Earlier demos owned 64 cpu under acme (16 of them in team-a, 4 lendable): lowering acme
    first would break the plan rules, so the children come down first."""
    _load(capsys)
    operator = get_user_model().objects.get(username=OPERATOR)
    for full_slug, cpu in (("acme", {"owned": 64000, "limit": 128000}),
                           ("acme/team-a", {"owned": 16000, "limit": 32000, "lend_limit": 4000}),
                           ("acme/team-a/prod", {"owned": 8000})):
        plan_update(tenant=Tenant.objects.get(full_slug=full_slug), changes={"cpu": cpu}, actor=operator)
    assert "plan of acme/team-a: cpu" in _load(capsys)
    for full_slug, resources in PLANS.items():
        for plan in ResourcePlan.objects.filter(tenant__full_slug=full_slug):
            assert {f: getattr(plan, f) for f in PLAN_FIELDS} == resources[plan.resource], (full_slug, plan.resource)
    assert "nothing changed" in _load(capsys)


def test_the_scheduling_demo_pair_owns_the_whole_sandbox_cpu(capsys):
    _load(capsys)
    cpu = {p.tenant.full_slug: p for p in ResourcePlan.objects.filter(resource="cpu").select_related("tenant")}
    assert cpu["acme"].owned == 16000  # the sandbox `make run` starts: 4 nodes × 4 cpu
    assert (cpu["acme/team-one"].owned, cpu["acme/team-one"].borrow_limit) == (8000, None)
    assert (cpu["acme/team-two"].owned, cpu["acme/team-two"].borrow_limit) == (8000, 4000)
    assert sum(p.owned for slug, p in cpu.items() if slug != "acme") == 16000
    namespaces = dict(Namespace.objects.values_list("name", "tenant__full_slug"))
    assert namespaces["team-one-apps"] == "acme/team-one" and namespaces["team-two-apps"] == "acme/team-two"

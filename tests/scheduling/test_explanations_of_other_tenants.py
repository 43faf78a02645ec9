"""What a tenant reads of the engine's explanations names no other tenant (redact.py).

The engine's decisions name other tenants' requests and tree nodes: a victim's EVICT names its
preemptor, a preemptor's RESERVE names its victims, a SHRINK names who the gang was shrunk for.
Here the real cycle makes those decisions in the sandbox, and every path that shows them is read
as a member of each side, as a member of the parent tenant, and as an operator.

    org            16 cpu    olga: member, inherited (sees both teams)
    ├── azure       8 cpu    ava: member       namespace azure-apps
    └── crimson     8 cpu    cole: member      namespace crimson-jobs (may borrow 4)
"""

from __future__ import annotations

import importlib
import json
import re

import pytest

from backends.kubernetes import Credentials, KubernetesBackend
from scheduling.cycle import scheduling_cycle
from scheduling.models import EngineSnapshot, SchedulingDecision, SchedulingRequest
from scheduling.redact import Redactor
from scheduling.units import cores
from tenants.models import Membership, Namespace, ResourcePlan, Role, Tenant
from tenants.services.clusters import cluster_create
from tests.scheduling.seed import cycle_until, deployment, gated, running, terminating
from tests.servers.sandbox import wait_for

pytestmark = pytest.mark.django_db
WORKLOAD = "another tenant's workload"
# What the engine says of crimson when one of its pods is evicted (it borrowed up to its limit), in cores.
CRIMSON_BORROWED = (r"was borrowing: it used ([\d.]+) of owned 8 \+ borrow limit 4 cpu before this eviction, "
                    r"([\d.]+) after\.")
RAW_NODE = re.compile(r"(?<![\w\-/.])t\d+(#self)?(?![\w\-])")  # an engine node id left unread


def _add(parent, slug):
    tenant = Tenant(parent=parent, name=slug.title(), slug=slug, full_slug=f"{parent.full_slug}/{slug}" if parent
                    else slug)
    if parent is None:
        return Tenant.objects.add_root(instance=tenant)
    return Tenant.objects.add_child(Tenant.objects.get(pk=parent.pk), instance=tenant)


@pytest.fixture
def teams(sandbox_api, operator, make_user):
    org = _add(None, "org")
    azure, crimson = _add(org, "azure"), _add(org, "crimson")
    ResourcePlan.objects.create(tenant=org, resource="cpu", owned=16000)
    ResourcePlan.objects.create(tenant=azure, resource="cpu", owned=8000)
    ResourcePlan.objects.create(tenant=crimson, resource="cpu", owned=8000, borrow_limit=4000)
    url, token = sandbox_api.url, "sandbox-admin-token"
    cluster = cluster_create(name="teams", api_url=url, actor=operator, token=token)
    backend = KubernetesBackend(Credentials(api_url=url, token=token))
    for tenant, ns in ((azure, "azure-apps"), (crimson, "crimson-jobs")):
        Namespace.objects.create(tenant=tenant, cluster=cluster, name=ns)
        backend.ensure_namespace(ns, labels={})
    users = {name: make_user(name) for name in ("ava", "cole", "olga")}
    for name, tenant in (("ava", azure), ("cole", crimson), ("olga", org)):
        Membership.objects.create(tenant=tenant, user=users[name], role=Role.MEMBER, inherited=True)
    return {"cluster": cluster, "backend": backend, "org": org, "azure": azure, "crimson": crimson, **users}


@pytest.fixture
def reclaimed(teams):
    """crimson borrows 4 cpu of azure's idle share; azure wants it back: 4 of crimson's pods are
    evicted (a long grace keeps them terminating while we look) and 4 of azure's wait for them."""
    cluster, backend = teams["cluster"], teams["backend"]
    backend.apply(deployment("crimson-batch", "crimson-jobs", 12, grace=60))
    wait_for(lambda: gated(backend, "crimson-jobs") == 12, timeout=10)
    cycle_until(cluster, lambda: running(backend, "crimson-jobs") == 12)
    backend.apply(deployment("web", "azure-apps", 8))
    cycle_until(cluster, lambda: terminating(backend, "crimson-jobs") == 4)
    scheduling_cycle(cluster=cluster)
    victim = SchedulingRequest.objects.filter(tenant=teams["crimson"], message__startswith="Evicting ").first()
    waiting = SchedulingRequest.objects.filter(tenant=teams["azure"], state="Reserved").first()
    assert victim is not None and waiting is not None
    return {**teams, "victim": victim, "waiting": waiting}


def pages(client, tenant: Tenant, request: SchedulingRequest) -> dict[str, str]:
    """Every place a member of ``tenant`` reads scheduling explanations, as text."""
    return {url: client.get(url).content.decode() for url in (
        f"/api/v1/scheduling/requests/{request.pk}/why/", f"/api/v1/scheduling/requests/{request.pk}/",
        "/api/v1/scheduling/requests/", f"/api/v1/tenants/{tenant.pk}/share/", "/api/v1/scheduling/bindings/",
        f"/tenants/{tenant.pk}/scheduling/")}


def assert_nothing_of(other: Tenant, backend, texts: dict[str, str]) -> None:
    """No request id, pod name, namespace, tenant slug or name, or engine node id of ``other``."""
    namespace = Namespace.objects.get(tenant=other).name
    secrets = {other.slug, other.full_slug, other.name.lower(), namespace,
               *(p.name for p in backend.list_pods(namespace))}
    for url, text in texts.items():
        for secret in secrets:
            assert secret not in text.lower(), (url, secret)
        assert not RAW_NODE.search(text), (url, RAW_NODE.search(text).group(0))


def test_the_evicted_tenants_member_learns_nothing_of_the_preemptor(reclaimed, api):
    victim, crimson = reclaimed["victim"], reclaimed["crimson"]
    client = api(reclaimed["cole"])
    why = client.get(f"/api/v1/scheduling/requests/{victim.pk}/why/").json()
    assert re.fullmatch(re.escape(f"Evicting {victim.key} (EVICT_RECLAIM_OWNED) for {WORKLOAD}: tenant org/crimson ")
                        + CRIMSON_BORROWED, why["message"])
    assert why["lender_scope"] == "another tenant"  # the pool it borrowed from is org's, which cole may not see
    assert any(re.search(r"by borrowing 1 cpu under another tenant \(tenant org/crimson uses [\d.]+ of owned 8 "
                         r"\+ borrow limit 4 cpu\)\.$", d["message"]) for d in why["decisions"])
    (listed,) = [r for r in client.get("/api/v1/scheduling/requests/", {"namespace": "crimson-jobs"}).json()["results"]
                 if r["key"] == victim.key]
    assert listed["message"] == why["message"]
    assert_nothing_of(reclaimed["azure"], reclaimed["backend"], pages(client, crimson, victim))


def test_the_preemptors_tenant_learns_nothing_of_its_victims(reclaimed, api):
    waiting, azure = reclaimed["waiting"], reclaimed["azure"]
    client = api(reclaimed["ava"])
    why = client.get(f"/api/v1/scheduling/requests/{waiting.pk}/why/").json()
    assert why["message"] == f"Reserved capacity for {waiting.key}; waiting for {WORKLOAD} to release."
    assert why["engine"]["victims"] == [WORKLOAD] and why["engine"]["request"] == waiting.key
    (share,) = client.get(f"/api/v1/tenants/{azure.pk}/share/").json()["clusters"]
    assert share["who_is_borrowing_from"] == [{"tenant": "another tenant", "borrowed": {"cpu": 4000},
                                               "lender_scope": ["another tenant"], "bindings": 4}]
    assert set(share["borrowed_by"]) == {"another tenant"}
    texts = pages(client, azure, waiting)
    assert f"Reserved capacity for {waiting.key}; waiting for another tenant&#x27;s workload to release." in (
        texts[f"/tenants/{azure.pk}/scheduling/"])
    assert_nothing_of(reclaimed["crimson"], reclaimed["backend"], texts)


@pytest.mark.parametrize("who", ["operator", "olga"])
def test_operators_and_members_of_the_parent_read_both_sides(reclaimed, api, operator, who):
    victim, waiting = reclaimed["victim"], reclaimed["waiting"]
    client = api(operator if who == "operator" else reclaimed["olga"])
    preemptor = SchedulingDecision.objects.get(action="EVICT", victim=victim.key).preemptor
    assert preemptor.startswith("azure-apps/")
    why = client.get(f"/api/v1/scheduling/requests/{victim.pk}/why/").json()
    assert re.fullmatch(re.escape(f"Evicting {victim.key} (EVICT_RECLAIM_OWNED) for {preemptor}: tenant org/crimson ")
                        + CRIMSON_BORROWED, why["message"])
    assert why["lender_scope"] == "org"
    assert [(d["role"], d["message"]) for d in why["decisions"] if d["action"] == "EVICT"] == [
        ("victim", why["message"])]
    engine = client.get(f"/api/v1/scheduling/requests/{waiting.pk}/why/").json()["engine"]
    assert [v.split("/")[0] for v in engine["victims"]] == ["crimson-jobs"]
    (share,) = client.get(f"/api/v1/tenants/{reclaimed['azure'].pk}/share/").json()["clusters"]
    assert share["who_is_borrowing_from"] == [{"tenant": "org/crimson", "borrowed": {"cpu": 4000},
                                               "lender_scope": ["org"], "bindings": 4}]
    assert set(share["borrowed_by"]) == {"org/crimson"}


def test_the_console_shows_a_decision_with_tenant_paths(reclaimed, client, operator):
    """The decision log keeps the engine's node ids; the operators' console names them."""
    evict = SchedulingDecision.objects.filter(action="EVICT", victim=reclaimed["victim"].key).get()
    assert f"t{reclaimed['crimson'].pk} was borrowing" in evict.message
    client.force_login(operator)
    page = client.get(f"/admin/scheduling/schedulingdecision/{evict.pk}/change/").content.decode()
    assert f"for {evict.preemptor}: tenant org/crimson was borrowing: it used " in page


@pytest.fixture
def shrunk(teams):
    """P4: crimson's elastic gang gives back the 4 cpu azure reclaims, one pod at a time: it is
    shrunk to 8 pods, the 4 beyond are terminating and azure's 4 new pods wait gated for them."""
    cluster, backend = teams["cluster"], teams["backend"]
    backend.apply(deployment("web", "azure-apps", 4))
    backend.apply(deployment("train", "crimson-jobs", 12, annotations={
        "bluedock.io/gang": "train", "bluedock.io/gang-size": "12", "bluedock.io/gang-min": "8"}))
    wait_for(lambda: gated(backend, "azure-apps") == 4 and gated(backend, "crimson-jobs") == 12, timeout=10)
    cycle_until(cluster, lambda: running(backend, "azure-apps") == 4 and running(backend, "crimson-jobs") == 12)
    backend.scale("apps/v1", "Deployment", "azure-apps", "web", 8)
    cycle_until(cluster, lambda: terminating(backend, "crimson-jobs") == 4)
    scheduling_cycle(cluster=cluster)
    train = SchedulingRequest.objects.get(key="crimson-jobs/train")
    held = SchedulingRequest.objects.filter(tenant=teams["azure"], state="Reserved").order_by("key")
    assert held.count() == 4
    last = SchedulingDecision.objects.filter(action="SHRINK", request=train.key).order_by("-id").first()
    return {**teams, "train": train, "held": list(held), "last_preemptor": last.preemptor}


def test_a_shrunk_gangs_tenant_learns_nothing_of_who_it_was_shrunk_for(shrunk, api):
    train, backend = shrunk["train"], shrunk["backend"]
    why = api(shrunk["cole"]).get(f"/api/v1/scheduling/requests/{train.pk}/why/").json()
    assert why["message"].startswith(f"Shrinking gang {train.key} to 8 of 12 pods by owned reclaim for {WORKLOAD}: "
                                     "4 pods beyond 8 being evicted")  # then how many replacements wait, gated
    shrinks = [d for d in why["decisions"] if d["action"] == "SHRINK"]
    assert len(shrinks) == 4 and {d["role"] for d in shrinks} == {"victim"}
    assert all(f"(EVICT_RECLAIM_OWNED) for {WORKLOAD} instead of evicting it" in d["message"] for d in shrinks)
    assert f"{WORKLOAD} stays gated until they are gone." in shrinks[0]["message"]
    assert_nothing_of(shrunk["azure"], backend, pages(api(shrunk["cole"]), shrunk["crimson"], train))


def test_the_preemptors_tenant_reads_the_gang_it_waits_for_as_another_tenants_workload(shrunk, api):
    backend = shrunk["backend"]
    client = api(shrunk["ava"])
    for held in shrunk["held"]:
        why = client.get(f"/api/v1/scheduling/requests/{held.pk}/why/").json()
        expected = (f"Capacity reserved for {held.key}: its pods stay gated until {WORKLOAD}, a gang shrunk for it, "
                    "is down to {} pods (it has 12).")
        assert why["message"] in {expected.format(n) for n in (8, 9, 10, 11)}  # each shrink frees one pod
        (shrink,) = [d for d in why["decisions"] if d["action"] == "SHRINK"]
        assert shrink["role"] == "preemptor" and shrink["message"].startswith(f"Shrinking {WORKLOAD} from ")
        assert f"for {held.key} instead of evicting it: another tenant was borrowing: it used " in shrink["message"]
        assert_nothing_of(shrunk["crimson"], backend, pages(client, shrunk["azure"], held))
    assert client.get(f"/api/v1/scheduling/requests/{shrunk['train'].pk}/why/").status_code == 404

    # Once the gang is down to 8, the preemptors run; the gang stays unnamed in what they read.
    cycle_until(shrunk["cluster"], lambda: running(backend, "azure-apps") == 8)
    lifted = SchedulingRequest.objects.get(pk=shrunk["held"][0].pk)
    why = client.get(f"/api/v1/scheduling/requests/{lifted.pk}/why/").json()
    assert why["message"].startswith(f"Admitted {lifted.key} on the capacity {WORKLOAD} gave up by shrinking: ")


@pytest.mark.parametrize("who", ["operator", "olga"])
def test_operators_and_members_of_the_parent_read_the_shrunk_gang_and_its_preemptor_named(shrunk, api, operator,
                                                                                          who):
    client = api(operator if who == "operator" else shrunk["olga"])
    train, preemptor = shrunk["train"], shrunk["last_preemptor"]
    assert preemptor.startswith("azure-apps/web-")
    why = client.get(f"/api/v1/scheduling/requests/{train.pk}/why/").json()
    assert why["message"].startswith(f"Shrinking gang {train.key} to 8 of 12 pods by owned reclaim for {preemptor}: "
                                     "4 pods beyond 8 being evicted")  # then how many replacements wait, gated
    assert any(f"for {preemptor} instead of evicting it" in d["message"] for d in why["decisions"])
    for held in shrunk["held"]:
        message = client.get(f"/api/v1/scheduling/requests/{held.pk}/why/").json()["message"]
        assert message.startswith(f"Capacity reserved for {held.key}: its pods stay gated until {train.key}, a gang "
                                  "shrunk for it, is down to ")


def test_an_evicted_pods_why_lists_its_eviction_for_another_tenants_workload(reclaimed, api,
                                                                           django_assert_max_num_queries):
    victim = reclaimed["victim"]
    client = api(reclaimed["cole"])
    with django_assert_max_num_queries(8):  # session, user, memberships, request, snapshot, decisions, names (2)
        why = client.get(f"/api/v1/scheduling/requests/{victim.pk}/why/").json()
    (evict,) = [d for d in why["decisions"] if d["action"] == "EVICT"]
    assert evict["role"] == "victim" and evict["reason"] == "EVICT_RECLAIM_OWNED"
    assert re.fullmatch(re.escape(f"Evicting {victim.key} (EVICT_RECLAIM_OWNED) for {WORKLOAD}: tenant org/crimson ")
                        + CRIMSON_BORROWED, evict["message"])
    # Its history, newest pass first: the eviction after the admission it ended.
    actions = [d["action"] for d in why["decisions"]]
    assert actions.index("EVICT") < actions.index("ADMIT")
    assert [d["pass"] for d in why["decisions"]] == sorted((d["pass"] for d in why["decisions"]), reverse=True)
    assert api(reclaimed["ava"]).get(f"/api/v1/scheduling/requests/{victim.pk}/why/").status_code == 404


def test_the_preemptors_why_lists_the_evictions_made_for_it_with_the_victims_unnamed(reclaimed, api,
                                                                                    django_assert_max_num_queries):
    waiting = reclaimed["waiting"]
    made_for_it = SchedulingDecision.objects.filter(action="EVICT", preemptor=waiting.key)
    assert made_for_it.exists() and all(d.victim.startswith("crimson-jobs/") for d in made_for_it)
    why = api(reclaimed["ava"]).get(f"/api/v1/scheduling/requests/{waiting.pk}/why/").json()
    evictions = [d for d in why["decisions"] if d["action"] == "EVICT"]
    assert [d["pass"] for d in evictions] == [d.pass_seq for d in made_for_it]
    numbers = {d.victim: (cores(d.facts["used_before"]["cpu"]), cores(d.facts["used_after"]["cpu"]))
               for d in made_for_it}
    # The victim side's numbers stay (they explain the share; read in cores), its name goes.
    assert {(d["role"], d["message"]) for d in evictions} == {
        ("preemptor", f"Evicting {WORKLOAD} (EVICT_RECLAIM_OWNED) for {waiting.key}: another tenant was borrowing: "
                      f"it used {before} of owned 8 + borrow limit 4 cpu before this eviction, {after} after.")
        for before, after in numbers.values()}
    assert_nothing_of(reclaimed["crimson"], reclaimed["backend"], {"why": json.dumps(why)})
    # The parent's member reads the same rows with both sides named, at the same cost.
    client = api(reclaimed["olga"])
    with django_assert_max_num_queries(8):
        why = client.get(f"/api/v1/scheduling/requests/{waiting.pk}/why/").json()
    assert {d["message"] for d in why["decisions"] if d["action"] == "EVICT"} == {
        f"Evicting {v} (EVICT_RECLAIM_OWNED) for {waiting.key}: tenant org/crimson was borrowing: it used {before} of "
        f"owned 8 + borrow limit 4 cpu before this eviction, {after} after."
        for v, (before, after) in numbers.items()}


NAMES = [
    # (what the engine or the cycle wrote, the ids its record names, what cole reads)
    ("{azure_node}#self waits", (), "another tenant waits"),
    ("{crimson_node}#self and {crimson_node}", (), "tenant org/crimson (its own namespaces) and tenant org/crimson"),
    ("waiting for ['azure-apps/web-1', 'crimson-jobs/b-2']", (), f"waiting for ['{WORKLOAD}', 'crimson-jobs/b-2']"),
    ("behind azure-apps/big train (StrictFIFO)", ("azure-apps/big train",), f"behind {WORKLOAD} (StrictFIFO)"),
    ("behind gone-ns/web-1 (StrictFIFO)", ("gone-ns/web-1",), f"behind {WORKLOAD} (StrictFIFO)"),
    ("checks run: example.com/license-check, azure.io/x", (), "checks run: example.com/license-check, azure.io/x"),
    ("crimson-jobs/t1.x at root", (), "crimson-jobs/t1.x at root"),
]


@pytest.mark.parametrize(("written", "ids", "read"), NAMES, ids=[n[0][:30] for n in NAMES])
def test_names_in_prose_are_read_whole(teams, written, ids, read):
    """Ids the prose holds in tricky spots: a gang whose name has a space (known from the record's
    facts), the id of a namespace that is gone, gate names with a slash, names that look like node
    ids. The namespace named like a hidden tenant's domain (azure.io) is not a request id."""
    cluster = teams["cluster"]
    text = written.format(azure_node=f"t{teams['azure'].pk}", crimson_node=f"t{teams['crimson'].pk}")
    assert Redactor(teams["cole"]).text(cluster.pk, text, ids=ids) == read


def test_facts_keep_their_numbers_and_lose_other_tenants_names(teams):
    """The shape the engine's ADMIT and PENDING facts have (explain.py), read by cole: the nodes
    he may not see (org, azure) become "another tenant" without losing either's numbers."""
    org, azure, crimson = (f"t{teams[t].pk}" for t in ("org", "azure", "crimson"))
    facts = {"binding": {"node": org, "via": azure, "resource": "cpu", "available": 0, "needed": 1000,
                         "kind": "lend_limit", "used": 10000, "owned": 16000, "free": 0, "lend_limit": 2000,
                         "lender_unused": 6000},
             "path": [crimson, org, "root"], "victims": ["azure-apps/web-1", "crimson-jobs/b-2"],
             "handed_back_to": "azure-apps/web-2",
             "per_node": {crimson: {"owned": {"cpu": 8000}}, org: {"owned": {"cpu": 16000}},
                          azure: {"owned": {"cpu": 8000}}}}
    assert Redactor(teams["cole"]).facts(teams["cluster"].pk, facts) == {
        "binding": {"node": "another tenant", "via": "another tenant", "resource": "cpu", "available": 0,
                    "needed": 1000, "kind": "lend_limit", "used": 10000, "owned": 16000, "free": 0,
                    "lend_limit": 2000, "lender_unused": 6000},
        "path": ["org/crimson", "another tenant", "the cluster"], "victims": [WORKLOAD, "crimson-jobs/b-2"],
        "handed_back_to": WORKLOAD,
        "per_node": {"org/crimson": {"owned": {"cpu": 8000}}, "another tenant": {"owned": {"cpu": 16000}},
                     "another tenant (2)": {"owned": {"cpu": 8000}}}}
    assert Redactor(teams["olga"]).facts(teams["cluster"].pk, facts)["per_node"] == {
        "org/crimson": {"owned": {"cpu": 8000}}, "org": {"owned": {"cpu": 16000}},
        "org/azure": {"owned": {"cpu": 8000}}}


def _worded(teams, action: str, reason: str, request: str | None, facts: dict) -> tuple[dict, str]:
    """Facts shaped as the engine records them (``{org}`` etc. standing for the nodes' ids) and
    the engine's own message for them (wording.py): what the cycle stores."""
    from scheduling.engine.wording import message

    nodes = {"org": f"t{teams['org'].pk}", "azure": f"t{teams['azure'].pk}", "crimson": f"t{teams['crimson'].pk}"}
    facts = json.loads(json.dumps(facts).replace("{azure}", nodes["azure"]).replace("{crimson}", nodes["crimson"])
                       .replace("{org}", nodes["org"]))
    return facts, message(action, reason, request, facts)


def _pending(**binding) -> dict:
    return {"binding": {"resource": "cpu", "available": 0, "needed": 1000, **binding}}


def _evicted(**facts) -> dict:
    return {"victim": "crimson-jobs/b-2", "preemptor": "azure-apps/web-1", "victim_node": "{crimson}", "lca": "{org}",
            "used_before": {"cpu": 12000}, "used_after": {"cpu": 11000}, "owned": {"cpu": 8000},
            "borrow_limit": {"cpu": 4000}, **facts}


WORDING = [
    # (reader, action, reason, request, facts, what the reader reads)
    ("cole", "PENDING", "PENDING_BORROW_LIMIT", "crimson-jobs/b-1",
     _pending(node="{crimson}", kind="borrow_limit", used=12000, owned=8000, borrow_limit=4000),
     "crimson-jobs/b-1 waits: tenant org/crimson uses 12 of owned 8 + borrow limit 4 cpu; it needs 1, 0 available."),
    ("cole", "PENDING", "PENDING_BORROW_LIMIT", "crimson-jobs/b-1",  # the parent binds: its numbers, not its name
     _pending(node="{org}", kind="borrow_limit", used=16000, owned=16000, borrow_limit=0),
     "crimson-jobs/b-1 waits: another tenant uses 16 of owned 16 + borrow limit 0 cpu; it needs 1, 0 available."),
    ("cole", "PENDING", "PENDING_MAX", "crimson-jobs/b-1", _pending(node="{org}", kind="max", used=16000, max=16000),
     "crimson-jobs/b-1 waits: another tenant uses 16 of max 16 cpu; it needs 1, 0 available."),
    ("cole", "PENDING", "PENDING_NO_CAPACITY", "crimson-jobs/b-1",
     _pending(node="root", kind="capacity", used=16000, owned=16000, free=0),
     "crimson-jobs/b-1 waits: the cluster has 0 cpu free (16 used of 16); it needs 1."),
    ("cole", "PENDING", "PENDING_LEND_LIMIT", "crimson-jobs/b-1",  # the lender that holds back: unnamed
     _pending(node="root", kind="lend_limit", via="{azure}#self", used=10000, owned=16000, free=0, lend_limit=2000,
              lender_unused=6000),
     "crimson-jobs/b-1 waits: the cluster has 0 cpu free (10 used of 16) and another tenant may lend only "
     "2 of its 6 unused; it needs 1."),
    ("olga", "PENDING", "PENDING_LEND_LIMIT", "crimson-jobs/b-1",
     _pending(node="root", kind="lend_limit", via="{azure}#self", used=10000, owned=16000, free=0, lend_limit=2000,
              lender_unused=6000),
     "crimson-jobs/b-1 waits: the cluster has 0 cpu free (10 used of 16) and tenant org/azure (its own "
     "namespaces) may lend only 2 of its 6 unused; it needs 1."),
    ("cole", "ADMIT", "ADMITTED_BORROWING", "crimson-jobs/b-1",
     {"leaf": "{crimson}", "path": ["{crimson}", "{org}", "root"], "lender_scope": "{org}", "borrowed": {"cpu": 1000},
      "per_node": {"{crimson}": {"owned": {"cpu": 8000}, "used_after": {"cpu": 9000}, "borrow_limit": {"cpu": 4000}},
                   "{org}": {"owned": {"cpu": 16000}, "used_after": {"cpu": 9000}}}},
     "Admitted crimson-jobs/b-1 by borrowing 1 cpu under another tenant (tenant org/crimson uses 9 of owned "
     "8 + borrow limit 4 cpu)."),
    ("ava", "EVICT", "EVICT_RECLAIM_OWNED", None, _evicted(),  # the victim side: its numbers, neither pod nor name
     f"Evicting {WORKLOAD} (EVICT_RECLAIM_OWNED) for azure-apps/web-1: another tenant was borrowing: it used 12 "
     "of owned 8 + borrow limit 4 cpu before this eviction, 11 after."),
    ("cole", "EVICT", "EVICT_FAIR_SHARE", None,
     _evicted(drs_victim_side_before="1/4", drs_victim_side="3/16", preemptor_node="{azure}", drs_preemptor_side="1/8"),
     f"Evicting crimson-jobs/b-2 (EVICT_FAIR_SHARE) for {WORKLOAD}: tenant org/crimson was borrowing: it used 12 "
     f"of owned 8 + borrow limit 4 cpu before this eviction, 11 after; its DRS goes from 1/4 to 3/16, that "
     f"of another tenant with {WORKLOAD} is 1/8."),
    ("cole", "PENDING", "PENDING_NO_CAPACITY", "crimson-jobs/b-1",  # a reservation handed back to an owner
     {**_pending(node="root", kind="capacity", used=16000, owned=16000, free=0), "handed_back_to": "azure-apps/web-1"},
     "crimson-jobs/b-1 waits: the cluster has 0 cpu free (16 used of 16); it needs 1. It gave the capacity "
     f"reserved for it back to {WORKLOAD}, whose tenant owns it."),
    ("olga", "PENDING", "PENDING_NO_CAPACITY", "crimson-jobs/b-1",
     {**_pending(node="root", kind="capacity", used=16000, owned=16000, free=0), "handed_back_to": "azure-apps/web-1"},
     "crimson-jobs/b-1 waits: the cluster has 0 cpu free (16 used of 16); it needs 1. It gave the capacity "
     "reserved for it back to azure-apps/web-1, whose tenant owns it."),
    ("ava", "RESERVE", "PENDING_WAITING_FOR_VICTIMS", "azure-apps/web-1",
     {"victims": ["crimson-jobs/b-2", "crimson-jobs/b-3"]},
     f"Reserved capacity for azure-apps/web-1; waiting for {WORKLOAD}, {WORKLOAD} to release."),
]


@pytest.mark.parametrize(("who", "action", "reason", "key", "facts", "read"), WORDING,
                         ids=[f"{w[0]}-{w[2]}" for w in WORDING])
def test_what_the_engine_words_is_read_with_its_numbers_and_only_the_names_the_reader_may_see(
        teams, who, action, reason, key, facts, read):
    """The engine's messages (wording.py) as the cycle stores them: every node and request id is
    a word the reader's Redactor finds. The numbers stay (read in cores: units.py), names of
    tenants the reader may not see go (docs/scheduling-policy.md, "What a tenant reads of other
    tenants")."""
    facts, written = _worded(teams, action, reason, key, facts)
    record = SchedulingDecision(cluster=teams["cluster"], action=action, reason=reason, request=key or "",
                                victim=facts.get("victim", ""), preemptor=facts.get("preemptor", ""), facts=facts,
                                message=written)
    text = Redactor(teams[who]).decision_message(record)
    assert text == read
    assert not RAW_NODE.search(text)
    hidden = {"cole": ("azure",), "ava": ("crimson",), "olga": ()}[who]
    for name in hidden:
        assert name not in text.lower()


def test_eviction_facts_keep_their_numbers_and_lose_other_tenants_names(teams):
    """An EVICT's facts (X3: the victim side's numbers before and after, the DRS of both sides),
    read by the preemptor's member: the victim's node and pod go, the numbers stay."""
    facts, _ = _worded(teams, "EVICT", "EVICT_FAIR_SHARE", None, _evicted(
        drs_victim_side_before="1/4", drs_victim_side="3/16", preemptor_node="{azure}", drs_preemptor_side="1/8",
        borrowed_before={"cpu": 4000}, borrowed_after={"cpu": 3000}))
    read = Redactor(teams["ava"]).facts(teams["cluster"].pk, facts)
    assert read == {"victim": WORKLOAD, "preemptor": "azure-apps/web-1", "victim_node": "another tenant",
                    "lca": "another tenant", "used_before": {"cpu": 12000}, "used_after": {"cpu": 11000},
                    "owned": {"cpu": 8000}, "borrow_limit": {"cpu": 4000}, "drs_victim_side_before": "1/4",
                    "drs_victim_side": "3/16", "preemptor_node": "org/azure", "drs_preemptor_side": "1/8",
                    "borrowed_before": {"cpu": 4000}, "borrowed_after": {"cpu": 3000}}


def test_messages_recorded_before_read_the_same_way(teams):
    """Rows written when the cycle still named every tenant by its path get the engine's ids back
    (migration 0005), so they too are named for each reader."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = importlib.import_module("scheduling.migrations.0005_engine_ids_in_messages")
    # The models as the migration sees them (plain managers: the live ones refuse to update history).
    apps = MigrationExecutor(connection).loader.project_state(("scheduling", "0005_engine_ids_in_messages")).apps
    old = SchedulingDecision.objects.create(
        cluster=teams["cluster"], tenant=teams["crimson"], pass_seq=1, config_version=1, action="PENDING",
        reason="PENDING_LEND_LIMIT", request="crimson-jobs/b-1",
        message="crimson-jobs/b-1: PENDING_LEND_LIMIT at tenant org/azure (its own namespaces) (cpu: 0 available, "
                "1000 needed) under tenant org.")
    migration.paths_to_engine_ids(apps, None)
    old.refresh_from_db()
    org, azure = teams["org"].pk, teams["azure"].pk
    assert old.message == (f"crimson-jobs/b-1: PENDING_LEND_LIMIT at t{azure}#self (cpu: 0 available, 1000 needed) "
                           f"under t{org}.")
    assert Redactor(teams["cole"]).decision_message(old) == (
        "crimson-jobs/b-1: PENDING_LEND_LIMIT at another tenant (cpu: 0 available, 1000 needed) under another "
        "tenant.")


def test_shrinks_recorded_before_name_their_preemptor_again(teams):
    """The shrink ledger kept "" for a preemptor of another tenant; migration 0007 takes it back
    from the decision log (the gang's last SHRINK), so the gang's row names it to those who may
    see it from the next pass on. A gang with no SHRINK left in the log stays unnamed."""
    from django.apps import apps

    migration = importlib.import_module("scheduling.migrations.0007_shrink_ledger_names_preemptors")
    cluster = teams["cluster"]
    for seq, preemptor in ((3, "azure-apps/web-1"), (4, "azure-apps/web-2")):
        SchedulingDecision.objects.create(cluster=cluster, tenant=teams["crimson"], pass_seq=seq, config_version=1,
                                          action="SHRINK", reason="EVICT_RECLAIM_OWNED", request="crimson-jobs/train",
                                          preemptor=preemptor)
    entry = {"size": 12, "admitted_at": 1, "per_pod": {"cpu": 1000}, "pods": 10, "rule": "EVICT_RECLAIM_OWNED"}
    EngineSnapshot.objects.create(cluster=cluster, shrinks={"holds": {}, "gangs": {
        "crimson-jobs/train": {**entry, "by": ""}, "crimson-jobs/mine": {**entry, "by": "crimson-jobs/urgent"},
        "crimson-jobs/lost": {**entry, "by": ""}}})
    migration.preemptors_from_the_decision_log(apps, None)
    gangs = EngineSnapshot.objects.get(cluster=cluster).shrinks["gangs"]
    assert {g: e["by"] for g, e in gangs.items()} == {
        "crimson-jobs/train": "azure-apps/web-2", "crimson-jobs/mine": "crimson-jobs/urgent", "crimson-jobs/lost": ""}
    assert gangs["crimson-jobs/train"] == {**entry, "by": "azure-apps/web-2"}

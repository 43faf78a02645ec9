"""The scheduling policy API: who may read and change a tenant's policy and the cluster-wide settings,
what a change records, and that bad input is a specific 400 with nothing written."""

from __future__ import annotations

import pytest

from scheduling import policy
from scheduling.models import SchedulingSettings, TenantSchedulingPolicy
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def policy_url(tenant) -> str:
    return f"/api/v1/tenants/{tenant.pk}/scheduling-policy/"


SETTINGS_URL = "/api/v1/scheduling/settings/"


def stored() -> tuple:
    """Everything a refused change must leave as it was."""
    return (list(TenantSchedulingPolicy.objects.order_by("id").values()),
            list(SchedulingSettings.objects.values()),
            list(AuditEvent.objects.exclude(action="request.denied").values_list("id", flat=True)))


def assert_refused(response, code: str, message: str) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code and message in problem["detail"], problem


def test_a_tenant_without_a_policy_reads_the_engines_defaults(api, bob, tree):
    body = api(bob).get(policy_url(tree["a"])).json()
    assert body == {
        "tenant": tree["a"].pk, "tenant_path": "org/a", "is_default": True, "weight": "1", "share_tier": 0,
        "reclaim_policy": "Any", "within_policy": "LowerPriority",
        "borrow_preempt": {"policy": "Never", "max_priority_threshold": None}, "fence": False,
        "lendout_grace": None, "reclaim_delay": 0, "fairshare_delay": 30, "min_runtime_fairshare": None,
        "queueing": "BestEffortFIFO", "quota_preemption_delay": 0, "required_checks": [],
        "effective_required_checks": [], "updated_at": None}


def test_an_operator_changes_some_fields_and_the_change_is_audited(api, operator, tree):
    response = api(operator).patch(policy_url(tree["a"]), {"weight": "1.5", "queueing": "StrictFIFO",
                                                           "borrow_preempt": {"policy": "LowerPriority",
                                                                              "max_priority_threshold": 100}},
                                   format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["weight"], body["queueing"], body["is_default"]) == ("3/2", "StrictFIFO", False)
    assert body["borrow_preempt"] == {"policy": "LowerPriority", "max_priority_threshold": 100}
    assert body["fairshare_delay"] == 30  # untouched fields keep their value
    row = TenantSchedulingPolicy.objects.get(tenant=tree["a"])
    assert (row.weight, row.borrow_preempt_max_priority_threshold) == ("3/2", 100)

    api(operator).patch(policy_url(tree["a"]), {"borrow_preempt": {"max_priority_threshold": None}}, format="json")
    first, second = AuditEvent.objects.filter(action="scheduling.policy_update").order_by("id")
    assert first.actor_name == "operator" and first.tenant == tree["a"] and first.before["queueing"] == "BestEffortFIFO"
    assert first.after["queueing"] == "StrictFIFO" and first.after["weight"] == "3/2"
    assert second.before["borrow_preempt"] == {"policy": "LowerPriority", "max_priority_threshold": 100}
    assert second.after["borrow_preempt"] == {"policy": "LowerPriority", "max_priority_threshold": None}


def test_members_of_the_tenant_or_an_ancestor_read_it_but_may_not_change_it(api, alice, bob, tree):
    # alice is tenant-admin of a (inherited), bob a member: both read a and a/dev.
    assert api(bob).get(policy_url(tree["a_dev"])).status_code == 200
    before = stored()
    for user in (alice, bob):
        response = api(user).patch(policy_url(tree["a"]), {"weight": "10"}, format="json")
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
        assert "contract between tenants" in response.json()["detail"]
    assert stored() == before
    assert AuditEvent.objects.filter(action="request.denied", actor_name="bob").exists()


def test_a_refusal_for_lack_of_rights_comes_before_judging_the_body(api, bob, tree):
    response = api(bob).patch(policy_url(tree["a"]), {"weight": "-1"}, format="json")
    assert response.status_code == 403


def test_member_of_other_tenant_sees_nothing(api, charlie, tree):
    for method in ("get", "patch"):
        response = getattr(api(charlie), method)(policy_url(tree["a"]), {"weight": "2"}, format="json")
        assert response.status_code == 404 and "org/a" not in response.content.decode()
    assert api(charlie).get(policy_url(tree["b"])).status_code == 200


def test_an_unknown_tenant_is_the_same_404(api, operator, charlie, tree):
    assert api(charlie).get("/api/v1/tenants/999999/scheduling-policy/").status_code == 404
    assert api(operator).patch("/api/v1/tenants/999999/scheduling-policy/", {"fence": True},
                               format="json").status_code == 404


def test_anonymous_clients_read_nothing(api, tree):
    assert api().get(policy_url(tree["a"])).status_code in (401, 403)
    assert api().get(SETTINGS_URL).status_code in (401, 403)


def test_required_checks_add_up_along_the_tree(api, operator, bob, tree):
    api(operator).patch(policy_url(tree["org"]), {"required_checks": ["example.com/budget-approved"]}, format="json")
    api(operator).patch(policy_url(tree["a_dev"]), {"required_checks": ["scan.example.com/images",
                                                                        "example.com/budget-approved"]}, format="json")
    body = api(bob).get(policy_url(tree["a_dev"])).json()
    assert body["required_checks"] == ["scan.example.com/images", "example.com/budget-approved"]
    assert body["effective_required_checks"] == ["example.com/budget-approved", "scan.example.com/images"]
    assert api(bob).get(policy_url(tree["a"])).json()["effective_required_checks"] == ["example.com/budget-approved"]


POLICY_CASES = [
    ("empty body", {}, "policy_invalid", "Send an object"),
    ("not an object", ["weight"], "policy_invalid", "Send an object"),
    ("unknown field", {"wieght": "2"}, "unknown_field", "wieght: unknown field"),
    ("flat engine name", {"borrow_preempt_policy": "Never"}, "unknown_field", "borrow_preempt_policy"),
    ("read-only field", {"effective_required_checks": []}, "read_only_field", "is read-only"),
    ("negative weight", {"weight": -1}, "out_of_range", "weight: must be in [0, 1000]"),
    ("weight as words", {"weight": "two"}, "invalid_fraction", "weight: expected a fraction"),
    ("weight over zero", {"weight": "3/0"}, "invalid_fraction", "weight: expected a fraction"),
    ("weight too large", {"weight": "1001"}, "out_of_range", "weight: must be in [0, 1000]"),
    ("weight boolean", {"weight": True}, "invalid_fraction", "weight"),
    ("tier as string", {"share_tier": "1"}, "invalid_integer", "share_tier: expected a whole number"),
    ("unknown reclaim policy", {"reclaim_policy": "Sometimes"}, "invalid_choice", "Any, LowerPriority, Never"),
    ("lower-case queueing", {"queueing": "strictfifo"}, "invalid_choice", "BestEffortFIFO, StrictFIFO"),
    ("within policy null", {"within_policy": None}, "invalid_choice", "within_policy"),
    ("borrow preempt not an object", {"borrow_preempt": "LowerPriority"}, "policy_invalid", "borrow_preempt"),
    ("borrow preempt unknown key", {"borrow_preempt": {"threshold": 5}}, "unknown_field", "borrow_preempt.threshold"),
    ("borrow preempt bad policy", {"borrow_preempt": {"policy": "Always"}}, "invalid_choice",
     "borrow_preempt.policy"),
    ("threshold as float", {"borrow_preempt": {"max_priority_threshold": 1.5}}, "invalid_integer",
     "borrow_preempt.max_priority_threshold"),
    ("negative delay", {"reclaim_delay": -1}, "invalid_integer", "reclaim_delay: expected a whole number of seconds"),
    ("delay as float", {"fairshare_delay": 30.0}, "invalid_integer", "fairshare_delay"),
    ("delay null", {"fairshare_delay": None}, "invalid_integer", "fairshare_delay"),
    ("delay over a year", {"quota_preemption_delay": 10**9}, "invalid_integer", "between 0 and 31536000"),
    ("fence as string", {"fence": "yes"}, "invalid_boolean", "fence: expected true or false"),
    ("checks not a list", {"required_checks": "example.com/a"}, "invalid_check_name", "expected a list"),
    ("check with spaces", {"required_checks": ["budget approved"]}, "invalid_check_name", "qualified name"),
    ("check with bad prefix", {"required_checks": ["Example.COM/x"]}, "invalid_check_name", "qualified name"),
    ("check name too long", {"required_checks": ["example.com/" + "x" * 64]}, "invalid_check_name", "qualified"),
    ("check ending in a newline", {"required_checks": ["example.com/ok\n"]}, "invalid_check_name", "qualified name"),
    ("check prefix ending in a newline", {"required_checks": ["example.com\n/ok"]}, "invalid_check_name",
     "qualified name"),
    ("the admission gate", {"required_checks": ["bluedock.io/admission"]}, "reserved_check_name",
     "belong to the portal"),
    ("a duplicate check", {"required_checks": ["example.com/a", "example.com/a"]}, "duplicate_check_name",
     "listed twice"),
    ("too many checks", {"required_checks": [f"example.com/c{i}" for i in range(17)]}, "too_many_checks",
     "at most 16"),
    ("one bad field after good ones", {"weight": "2", "queueing": "StrictFIFO", "reclaim_delay": -5},
     "invalid_integer", "reclaim_delay"),
]


@pytest.mark.parametrize(("case", "body", "code", "message"), POLICY_CASES, ids=[c[0] for c in POLICY_CASES])
def test_bad_policy_input_is_refused_and_nothing_changes(api, operator, tree, case, body, code, message):
    TenantSchedulingPolicy.objects.create(tenant=tree["a"], weight="2")
    before = stored()
    assert_refused(api(operator).patch(policy_url(tree["a"]), body, format="json"), code, message)
    assert stored() == before


def test_settings_are_readable_by_anyone_signed_in_and_start_at_the_engines_defaults(api, charlie, tree):
    assert api(charlie).get(SETTINGS_URL).json() == {
        "is_default": True, "fair_share_preemption": False, "fs_strategies": ["S2a", "S2b"], "fs_epsilon": "0",
        "fs_budget": None, "fs_budget_window": 10, "release_slack": 10, "borrowing_preference": "BorrowOverPreempt",
        "preempted_priority_boost": 0, "updated_at": None}


def test_only_operators_change_the_settings_and_each_change_is_audited(api, operator, alice, tree):
    before = stored()
    assert api(alice).patch(SETTINGS_URL, {"fair_share_preemption": True}, format="json").status_code == 403
    assert stored() == before
    response = api(operator).patch(SETTINGS_URL, {"fair_share_preemption": True, "fs_budget": "0.1",
                                                  "fs_strategies": ["S2b", "S2a"]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["fair_share_preemption"], body["fs_budget"], body["fs_strategies"]) == (True, "1/10", ["S2a", "S2b"])
    api(operator).patch(SETTINGS_URL, {"fs_budget": None}, format="json")
    assert api(alice).get(SETTINGS_URL).json()["fs_budget"] is None
    first, second = AuditEvent.objects.filter(action="scheduling.settings_update").order_by("id")
    assert first.before["fs_budget"] is None and first.after["fs_budget"] == "1/10" and first.actor_name == "operator"
    assert second.before["fs_budget"] == "1/10" and second.after["fs_budget"] is None


SETTINGS_CASES = [
    ("empty body", {}, "policy_invalid", "Send an object"),
    ("unknown field", {"pass_interval": 2}, "unknown_field", "pass_interval: unknown field"),
    ("read-only field", {"updated_at": None}, "read_only_field", "is read-only"),
    ("fair share as string", {"fair_share_preemption": "true"}, "invalid_boolean", "fair_share_preemption"),
    ("no strategies", {"fs_strategies": []}, "invalid_strategies", "non-empty list"),
    ("unknown strategy", {"fs_strategies": ["S3"]}, "invalid_strategies", "S2a, S2b"),
    ("repeated strategy", {"fs_strategies": ["S2a", "S2a"]}, "invalid_strategies", "distinct"),
    ("epsilon of one", {"fs_epsilon": "1"}, "out_of_range", "fs_epsilon: must be in [0, 1)"),
    ("negative epsilon", {"fs_epsilon": -0.1}, "out_of_range", "fs_epsilon"),
    ("negative budget string", {"fs_budget": "-1/2"}, "out_of_range", "fs_budget: must be in (0, 1]"),
    ("epsilon as words", {"fs_epsilon": "small"}, "invalid_fraction", "fs_epsilon"),
    ("zero budget", {"fs_budget": "0"}, "out_of_range", "fs_budget: must be in (0, 1]"),
    ("budget above one", {"fs_budget": "3/2"}, "out_of_range", "fs_budget"),
    ("empty budget string", {"fs_budget": ""}, "invalid_fraction", "fs_budget"),
    ("zero window", {"fs_budget_window": 0}, "invalid_integer", "between 1 and 86400"),
    ("negative slack", {"release_slack": -1}, "invalid_integer", "release_slack"),
    ("unknown preference", {"borrowing_preference": "Borrow"}, "invalid_choice", "BorrowOverPreempt"),
    ("negative boost", {"preempted_priority_boost": -1}, "invalid_integer", "preempted_priority_boost"),
]


@pytest.mark.parametrize(("case", "body", "code", "message"), SETTINGS_CASES, ids=[c[0] for c in SETTINGS_CASES])
def test_bad_settings_are_refused_and_nothing_changes(api, operator, tree, case, body, code, message):
    before = stored()
    assert_refused(api(operator).patch(SETTINGS_URL, body, format="json"), code, message)
    assert stored() == before


def test_borrow_preemption_and_fair_share_preemption_exclude_each_other(api, operator, tree):
    client = api(operator)
    assert client.patch(policy_url(tree["a"]), {"borrow_preempt": {"policy": "LowerPriority"}},
                        format="json").status_code == 200
    before = stored()
    response = client.patch(SETTINGS_URL, {"fair_share_preemption": True}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "policy_conflict"
    assert response.json()["tenants"] == ["org/a"] and stored() == before

    client.patch(policy_url(tree["a"]), {"borrow_preempt": {"policy": "Never"}}, format="json")
    assert client.patch(SETTINGS_URL, {"fair_share_preemption": True}, format="json").status_code == 200
    before = stored()
    response = client.patch(policy_url(tree["b"]), {"borrow_preempt": {"policy": "LowerPriority"}}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "policy_conflict"
    assert response.json()["field"] == "borrow_preempt.policy" and stored() == before


def test_what_the_engine_would_refuse_is_not_saved(operator, tree):
    """The last line: a value that slipped past the field checks (here by calling the service with an
    unparsed value) is caught by the engine's own validation, and nothing is written."""
    before = stored()
    with pytest.raises(policy.InvalidInput) as refused:
        policy.tenant_policy_update(tenant=tree["a"], changes={"share_tier": "high"}, actor=operator)
    assert refused.value.code == "engine_rejected"
    assert refused.value.extra["violations"] == [{"rule": "V4", "message": f"t{tree['a'].pk}: share_tier must be "
                                                                            "an integer"}]
    assert stored() == before

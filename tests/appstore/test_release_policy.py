"""What a chart may not create, how pods are counted and gated, and what bad input gets (pure, no database)."""

from __future__ import annotations

import datetime

import pytest

from appstore.charts import ChartError, semver
from appstore.releases import render
from backends.quantities import cpu_millicores, parse_quantity

RBAC = "rbac.authorization.k8s.io/v1"
DEFAULT_REQUEST = {"cpu": 100, "memory": 128}


def obj(kind, name="x", api_version="apps/v1", **spec):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def pod_spec(resources=None):
    return {"containers": [{"name": "c", "image": "nginx", "resources": resources or {}}]}


def prepare(objects):
    return render.prepare(objects, release_name="web", release_id=7, tenant_id=3, namespace="team-a")


def refused(objects) -> render.RenderError:
    with pytest.raises(render.RenderError) as err:
        prepare(objects)
    return err.value


def binding(role_kind, role_name, name="mine", **extra):
    return {"apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}], **extra}


def role(*rules, name="r"):
    return {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": name}, "rules": list(rules)}


# --- objects the portal keeps for itself --------------------------------------------------
@pytest.mark.parametrize(("manifest", "code"), [
    ({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "bluedock-quota"},
      "spec": {"hard": {"requests.cpu": "100000"}}}, "reserved_kind"),
    ({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "mine"}, "spec": {}}, "reserved_kind"),
    ({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bluedock-defaults"}, "spec": {}},
     "reserved_kind"),
    ({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
      "metadata": {"name": "bluedock-default-deny-ingress"}, "spec": {"podSelector": {}}}, "reserved_name"),
    (binding("ClusterRole", "view", name="bluedock.member.user-bob"), "reserved_name"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bluedock-anything"}}, "reserved_name"),
])
def test_the_portals_quota_defaults_policy_and_bindings_cannot_be_rendered(manifest, code):
    error = refused([obj("ConfigMap", name="fine", api_version="v1"), manifest])
    assert error.code == code and error.facts["name"] == manifest["metadata"]["name"]


# --- RBAC ---------------------------------------------------------------------------------
@pytest.mark.parametrize("manifest", [
    binding("ClusterRole", "cluster-admin"),
    binding("ClusterRole", "system:controller:namespace-controller"),
    binding("Role", "r", subjects=[{"kind": "ServiceAccount", "name": "default", "namespace": "team-b"}]),
    role({"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["update"]}),
    role({"apiGroups": [""], "resources": ["limitranges"], "verbs": ["delete"]}),
    role({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]}),
    role({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
    role({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}),
    # a Role in X covers namespaces/X itself: relabel or delete the namespace
    role({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch", "delete"]}),
    # Kubernetes' own identities: everyone, anyone, or another namespace's pods
    binding("ClusterRole", "edit", subjects=[{"kind": "Group", "name": "system:unauthenticated"}]),
    binding("ClusterRole", "view", subjects=[{"kind": "Group", "name": "system:authenticated"}]),
    binding("Role", "r", subjects=[{"kind": "Group", "name": "system:serviceaccounts:team-b"}]),
    binding("Role", "r", subjects=[{"kind": "User", "name": "system:serviceaccount:team-b:default"}]),
    binding("Role", "r", subjects=[{"kind": "User", "name": "system:kube-controller-manager"}]),
])
def test_rbac_that_grants_more_than_a_tenant_admin_holds_is_refused(manifest):
    assert refused([manifest]).code == "rbac_escalation"


@pytest.mark.parametrize("manifest", [
    binding("ClusterRole", "view"), binding("ClusterRole", "edit"), binding("ClusterRole", "admin"),
    binding("Role", "r", subjects=[{"kind": "ServiceAccount", "name": "default"}]),
    binding("Role", "r", subjects=[{"kind": "User", "name": "system:serviceaccount:team-a:default"}]),
    binding("Role", "r", subjects=[{"kind": "Group", "name": "system:serviceaccounts:team-a"}]),
    role({"apiGroups": [""], "resources": ["configmaps", "pods"], "verbs": ["get", "list", "watch"]}),
    role({"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["get", "list"]}),
])
def test_rbac_within_the_tenant_admins_own_roles_passes_the_render(manifest):
    [prepared] = prepare([manifest])
    assert prepared["metadata"]["namespace"] == "team-a"


def test_rbac_objects_are_named_for_the_role_check():
    from appstore.releases import policy
    objects = [binding("ClusterRole", "view"), role(), obj("ConfigMap", api_version="v1")]
    assert policy.rbac_objects(objects) == ["RoleBinding/mine", "Role/r"]


# --- pods: gated and counted, or refused ----------------------------------------------------
def test_a_replication_controller_is_gated_and_counted():
    rc = obj("ReplicationController", api_version="v1", replicas=20, selector={"app": "rc"},
             template={"metadata": {"labels": {"app": "rc"}}, "spec": pod_spec({"requests": {"cpu": "2"}})})
    [prepared] = prepare([rc])
    assert prepared["spec"]["template"]["spec"]["schedulingGates"] == [{"name": render.ADMISSION_GATE}]
    assert render.requests([rc]) == {"cpu": 40000, "memory": 0, "gpu": 0, "pods": 20}


@pytest.mark.parametrize("manifest", [
    obj("Rollout", api_version="argoproj.io/v1alpha1", replicas=5, template={"spec": pod_spec()}),
    obj("Deployment", api_version="example.com/v1", template={"spec": pod_spec()}),  # not apps/v1
    obj("PodTemplate", api_version="v1", template={"spec": pod_spec()}),
    obj("Workflow", api_version="argoproj.io/v1alpha1", templates=[{"name": "t", "container": {},
                                                                     "steps": [{"containers": []}]}]),
    obj("ScheduledThing", api_version="example.com/v1",
        jobTemplate={"spec": {"template": {"spec": pod_spec()}}}),
])
def test_an_unknown_object_carrying_a_pod_template_is_refused(manifest):
    error = refused([manifest])
    assert error.code == "unsupported_workload" and error.facts["kind"] == manifest["kind"]


@pytest.mark.parametrize("replicas", [-40, 1.5, "3", True])
def test_replica_counts_must_be_whole_numbers_of_at_least_zero(replicas):
    big = obj("Deployment", name="a-big", replicas=40, template={"spec": pod_spec({"requests": {"cpu": "1"}})})
    odd = obj("Deployment", name="z-odd", replicas=replicas, template={"spec": pod_spec({"requests": {"cpu": "1"}})})
    error = refused([big, odd])
    assert error.code == "invalid_replicas" and error.facts == {"kind": "Deployment", "name": "z-odd",
                                                                "field": "replicas"}
    with pytest.raises(render.RenderError):
        render.requests([big, odd])


@pytest.mark.parametrize(("resources", "expected"), [
    # requests default to limits, as the API server does
    ({"limits": {"cpu": "2", "memory": "1Gi"}}, {"cpu": 2000, "memory": 1024}),
    ({"limits": {"cpu": "2", "nvidia.com/gpu": "1"}}, {"cpu": 2000, "memory": 128, "gpu": 1}),
    # neither: the namespace LimitRange's defaultRequest
    ({}, {"cpu": 100, "memory": 128}),
    ({"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}}, {"cpu": 250, "memory": 128}),
])
def test_each_container_counts_what_the_namespace_will_admit(resources, expected):
    deployment = obj("Deployment", replicas=4, template={"spec": pod_spec(resources)})
    counted = render.requests([deployment], default_request=DEFAULT_REQUEST)
    assert counted == {"gpu": 0, **{k: v * 4 for k, v in expected.items()}, "pods": 4}


def test_an_autoscaled_workload_counts_its_autoscalers_max_replicas():
    deployment = obj("Deployment", name="web", replicas=2, template={"spec": pod_spec({"requests": {"cpu": "1"}})})
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 1, "maxReplicas": 10}}
    assert render.requests([deployment, hpa])["cpu"] == 10000
    other = {**hpa, "spec": {**hpa["spec"], "scaleTargetRef": {"kind": "Deployment", "name": "other"}}}
    assert render.requests([deployment, other])["cpu"] == 2000
    negative = {**hpa, "spec": {**hpa["spec"], "maxReplicas": -5}}
    assert refused([deployment, negative]).code == "invalid_replicas"


def test_a_daemonset_counts_a_pod_per_matching_node_when_the_nodes_are_known():
    daemonset = obj("DaemonSet", template={"spec": {**pod_spec({"requests": {"cpu": "1"}}),
                                                    "nodeSelector": {"pool": "gpu"}}})
    nodes = [{"pool": "gpu", "zone": "a"}, {"pool": "gpu"}, {"pool": "cpu"}]
    assert render.requests([daemonset], node_labels=nodes)["pods"] == 2
    assert render.requests([daemonset])["pods"] == 1  # nodes unknown: one pod, as before
    everywhere = obj("DaemonSet", template={"spec": pod_spec({"requests": {"cpu": "1"}})})
    assert render.requests([everywhere], node_labels=nodes)["cpu"] == 3000


# --- bad input is an error with a code, never an exception of another kind ---------------------
@pytest.mark.parametrize("cpu", ["lots", "NaN", "Infinity", "-Infinity", "1e1000000", "1_000", "", "0x10",
                                 "-100", "-1m"])
def test_bad_quantities_are_invalid_quantity(cpu):
    error = refused([obj("Deployment", template={"spec": pod_spec({"requests": {"cpu": cpu}})})])
    assert error.code == "invalid_quantity" and error.facts["name"] == "x"


@pytest.mark.parametrize("value", ["lots", "NaN", "nan", "Infinity", "inf", "1e1000000", "1e19", " ", "1_0", True])
def test_quantities_refuse_what_the_api_server_refuses_with_a_value_error(value):
    with pytest.raises(ValueError):
        parse_quantity(value)


@pytest.mark.parametrize(("value", "millicores"), [("500m", 500), ("1.5", 1500), ("1e3", 1000000), (".5", 500),
                                                   (2, 2000), ("+1", 1000), ("1e-9", 1)])
def test_good_quantities_still_parse(value, millicores):
    assert cpu_millicores(value) == millicores


@pytest.mark.parametrize("manifest", [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": "oops"},
    obj("Deployment", template="oops"),
    obj("Deployment", template={"spec": ["oops"]}),
    obj("Deployment", template={"spec": {"containers": "oops"}}),
    obj("Deployment", template={"spec": {"containers": ["oops"]}}),
    obj("Deployment", template={"spec": pod_spec({"requests": "oops"})}),
    obj("CronJob", api_version="batch/v1", jobTemplate="oops"),
    obj("Deployment", template={"spec": {**pod_spec(), "schedulingGates": "bluedock.io/admission"}}),
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": "oops"}},
])
def test_malformed_objects_are_invalid_object(manifest):
    assert refused([manifest]).code == "invalid_object"


@pytest.mark.parametrize("text", [
    "kind: 5\napiVersion: v1\nmetadata: {name: x}\n",
    "kind: ConfigMap\napiVersion: v1\nmetadata: oops\n",
    "kind: ConfigMap\napiVersion: v1\nmetadata: {name: 5}\n",
    "kind: [ConfigMapList]\napiVersion: v1\nmetadata: {name: x}\n",
])
def test_documents_with_non_string_identity_are_render_failed(text):
    with pytest.raises(render.RenderError) as err:
        render.split(text)
    assert err.value.code == "render_failed"


@pytest.mark.parametrize(("values", "where"), [
    ({"objects": [], 1: "x"}, "key '1'"), ({"when": datetime.date(2024, 1, 1)}, "/when"),
    ({"x": float("nan")}, "/x"), ({"a": [{"b": float("inf")}]}, "/a/0/b"), ({"s": {1, 2}}, "/s"),
])
def test_values_that_are_not_plain_json_are_named(values, where):
    assert where in render.values_problem(values)


def test_plain_values_pass():
    assert render.values_problem({"a": [1, 2.5, "x", None, True, {"b": {}}]}) is None


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"replicas": {"$ref": "#/definitions/nope"}}},
    {"$ref": "#"},
])
def test_a_schema_that_cannot_validate_is_an_error_with_a_code_at_install(schema):
    with pytest.raises(render.RenderError) as err:
        render.schema_errors(schema, {"replicas": 1})
    assert err.value.code == "chart_schema_invalid"


@pytest.mark.parametrize("text", ["1.0.0\n", "1.0.0-rc.1\n", "1.2.3+build\n"])
def test_semver_refuses_a_trailing_newline(text):
    with pytest.raises(ChartError) as err:
        semver.parse(text)
    assert err.value.code == "chart_semver_invalid"


# --- redaction --------------------------------------------------------------------------
def test_redaction_hides_secret_data_and_values_but_keeps_the_rest():
    from appstore.releases import redact
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
              "stringData": {"password": "s3cr3t"}, "data": {"token": "c2VjcmV0"}}
    text = render.manifest_text([obj("ConfigMap", name="cm", api_version="v1"), secret])
    shown = redact.manifest(text)
    assert "s3cr3t" not in shown and "c2VjcmV0" not in shown and "password: <redacted>" in shown
    assert shown.split("---\n")[1] == text.split("---\n")[1]  # other documents are unchanged
    assert redact.values({"db": {"password": "x", "port": 5432, "hosts": ["a"]}, "off": None}) == {
        "db": {"password": "<redacted>", "port": "<redacted>", "hosts": ["<redacted>"]}, "off": None}

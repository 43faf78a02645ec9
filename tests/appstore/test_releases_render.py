"""The pure release core: labels, gates, namespaces, requests and diffs (no database)."""

from __future__ import annotations

import pytest
import yaml

from appstore.releases import render

LABELS = {"app.kubernetes.io/instance": "web", "bluedock.io/release": "7", "bluedock.io/tenant": "3",
          "bluedock.io/managed-by": "release"}


def pod_spec(cpu="100m", memory="64Mi", init=None):
    spec = {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}
    if init:
        spec["initContainers"] = [{"name": "i", "image": "x", "resources": {"requests": init}}]
    return spec


def obj(kind, name="x", api_version="apps/v1", **spec):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def prepare(objects):
    return render.prepare(objects, release_name="web", release_id=7, tenant_id=3, namespace="team-a")


def template_of(o):
    return next(render.pod_templates(o))[0]


@pytest.mark.parametrize("manifest", [
    obj("Pod", api_version="v1", **pod_spec()),
    obj("Deployment", replicas=2, template={"spec": pod_spec()}),
    obj("StatefulSet", template={"metadata": {"labels": {"app": "x"}}, "spec": pod_spec()}),
    obj("DaemonSet", template={"spec": pod_spec()}),
    obj("ReplicaSet", template={"spec": pod_spec()}),
    obj("Job", api_version="batch/v1", template={"spec": pod_spec()}),
    obj("CronJob", api_version="batch/v1", schedule="* * * * *",
        jobTemplate={"spec": {"template": {"spec": pod_spec()}}}),
])
def test_every_pod_template_gets_the_gate_and_the_labels(manifest):
    [prepared] = prepare([manifest])
    template = template_of(prepared)
    assert template["spec"]["schedulingGates"] == [{"name": "bluedock.io/admission"}]
    assert LABELS.items() <= template["metadata"]["labels"].items()
    assert LABELS.items() <= prepared["metadata"]["labels"].items()
    assert prepared["metadata"]["namespace"] == "team-a"
    assert "schedulingGates" not in str(manifest)  # the input is left alone


def test_existing_labels_and_gates_are_kept_and_the_gate_is_not_doubled():
    gates = [{"name": "other"}, {"name": render.ADMISSION_GATE}]
    manifest = obj("Deployment", template={"metadata": {"labels": {"app": "x"}},
                                           "spec": {**pod_spec(), "schedulingGates": gates}})
    manifest["metadata"].update(labels={"keep": "me", "bluedock.io/tenant": "forged"}, namespace="elsewhere")
    [prepared] = prepare([manifest])
    assert prepared["metadata"]["labels"]["keep"] == "me"
    assert prepared["metadata"]["labels"]["bluedock.io/tenant"] == "3"
    assert prepared["metadata"]["namespace"] == "team-a"
    assert template_of(prepared)["spec"]["schedulingGates"] == [{"name": "other"}, {"name": render.ADMISSION_GATE}]
    assert template_of(prepared)["metadata"]["labels"]["app"] == "x"


def test_required_checks_become_gates_once_each_before_the_admission_gate():
    gates = [{"name": "other"}, {"name": "example.com/budget-approved"}]
    manifest = obj("Deployment", template={"spec": {**pod_spec(), "schedulingGates": gates}})
    [prepared] = render.prepare([manifest], release_name="web", release_id=7, tenant_id=3, namespace="team-a",
                                checks=["example.com/budget-approved", "scan.example.com/images"])
    assert template_of(prepared)["spec"]["schedulingGates"] == [
        {"name": "other"}, {"name": "example.com/budget-approved"}, {"name": "scan.example.com/images"},
        {"name": render.ADMISSION_GATE}]


@pytest.mark.parametrize("kind", ["ClusterRole", "CustomResourceDefinition", "Namespace", "PriorityClass"])
def test_cluster_scoped_kinds_are_a_policy_violation(kind):
    with pytest.raises(render.RenderError) as err:
        prepare([obj("ConfigMap", api_version="v1"), obj(kind, name="big", api_version="v1")])
    assert err.value.code == "policy_violation" and err.value.facts == {"kind": kind, "name": "big"}


@pytest.mark.parametrize(("objects", "expected"), [
    ([], {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0}),
    ([obj("Deployment", replicas=3, template={"spec": pod_spec("250m", "1Gi")})],
     {"cpu": 750, "memory": 3072, "gpu": 0, "pods": 3}),
    ([obj("Deployment", template={"spec": pod_spec()})], {"cpu": 100, "memory": 64, "gpu": 0, "pods": 1}),
    ([obj("Deployment", replicas=0, template={"spec": pod_spec()})], {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0}),
    # an init container larger than the containers sets the pod's request
    ([obj("Pod", api_version="v1", **pod_spec("100m", "64Mi", init={"cpu": "1", "nvidia.com/gpu": "1"}))],
     {"cpu": 1000, "memory": 64, "gpu": 1, "pods": 1}),
    ([obj("Job", api_version="batch/v1", parallelism=4, template={"spec": pod_spec("1", "1Mi")}),
      obj("ConfigMap", api_version="v1")], {"cpu": 4000, "memory": 4, "gpu": 0, "pods": 4}),
    ([obj("CronJob", api_version="batch/v1", jobTemplate={"spec": {"parallelism": 2,
                                                                   "template": {"spec": pod_spec("500m")}}})],
     {"cpu": 1000, "memory": 128, "gpu": 0, "pods": 2}),
])
def test_requests_are_summed_over_replicas(objects, expected):
    assert render.requests(objects) == expected


def test_split_drops_empty_documents_and_refuses_nameless_ones():
    text = "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
    assert [o["metadata"]["name"] for o in render.split(text)] == ["a"]
    with pytest.raises(render.RenderError) as err:
        render.split("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    assert err.value.code == "render_failed"


def test_the_manifest_is_deterministic_and_sorted():
    objects = [obj("Service", name="b", api_version="v1"), obj("Deployment", name="a")]
    one = render.manifest_text(prepare(objects))
    assert one == render.manifest_text(prepare(list(reversed(objects))))
    assert [d["kind"] for d in yaml.safe_load_all(one)] == ["Deployment", "Service"]
    assert len(render.manifest_digest(one)) == 64


def test_manifest_diff_is_unified():
    diff = render.manifest_diff("a: 1\nb: 2\n", "a: 1\nb: 3\n")
    assert "--- current" in diff and "-b: 2" in diff and "+b: 3" in diff
    assert render.manifest_diff("same\n", "same\n") == ""


@pytest.mark.parametrize(("old", "new", "expected"), [
    ({}, {}, []),
    ({"replicas": 1}, {"replicas": 3}, [{"path": "/replicas", "op": "changed", "from": 1, "to": 3}]),
    ({"a": {"b": 1}}, {"a": {"b": 1, "c/d": 2}}, [{"path": "/a/c~1d", "op": "added", "to": 2}]),
    ({"image": "x", "keep": True}, {"keep": True}, [{"path": "/image", "op": "removed", "from": "x"}]),
    ({"list": [1, 2]}, {"list": [1, 2]}, []),
])
def test_values_diff_uses_json_pointers(old, new, expected):
    assert render.values_diff(old, new) == expected


def test_merge_values_follows_helm_coalescing():
    defaults = {"replicas": 2, "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}, "extra": 1}
    merged = render.merge_values(defaults, {"resources": {"requests": {"cpu": "1"}}, "extra": None, "new": [1]})
    assert merged == {"replicas": 2, "resources": {"requests": {"cpu": "1", "memory": "64Mi"}}, "new": [1]}
    assert defaults["resources"]["requests"]["cpu"] == "100m"


def test_schema_errors_name_json_pointers():
    schema = {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1},
                                               "resources": {"type": "object",
                                                             "properties": {"cpu": {"type": "string"}}}}}
    errors = render.schema_errors(schema, {"replicas": 0, "resources": {"cpu": 1}})
    assert [e["path"] for e in errors] == ["/replicas", "/resources/cpu"]
    assert render.schema_errors(None, {"anything": 1}) == []

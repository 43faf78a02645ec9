"""Simulated controllers: workloads create pods, placement binds them, the kubelet runs them,
the HPA scales, nodes come and go through the admin endpoint."""

import pytest
from kubernetes import client, config

from sandbox.testing import running_sandbox
from tests.sandbox.conftest import deployment_manifest, pod_manifest
from tests.servers.sandbox import wait_for


def running(k8s, namespace, selector=""):
    return [p for p in k8s.core.list_namespaced_pod(namespace, label_selector=selector,
                                                    field_selector="status.phase=Running").items]


def test_deployment_creates_replicaset_and_running_pods(k8s, namespace):
    k8s.apps.create_namespaced_deployment(namespace, deployment_manifest("web", replicas=3))
    wait_for(lambda: k8s.apps.read_namespaced_deployment("web", namespace).status.ready_replicas == 3)
    (rs,) = k8s.apps.list_namespaced_replica_set(namespace).items
    assert rs.metadata.owner_references[0].kind == "Deployment" and rs.spec.replicas == 3
    pods = running(k8s, namespace, "app=web")
    assert len(pods) == 3 and all(p.spec.node_name and p.metadata.owner_references[0].name == rs.metadata.name
                                  for p in pods)
    log = k8s.core.read_namespaced_pod_log(pods[0].metadata.name, namespace)
    assert "starting container app" in log


def test_template_change_rolls_out_a_new_replicaset(k8s, namespace):
    k8s.apps.create_namespaced_deployment(namespace, deployment_manifest("web", replicas=2))
    wait_for(lambda: k8s.apps.read_namespaced_deployment("web", namespace).status.ready_replicas == 2)
    k8s.apps.patch_namespaced_deployment("web", namespace, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:1.28"}]}}}})

    def rolled():
        pods = running(k8s, namespace, "app=web")
        return len(pods) == 2 and {p.spec.containers[0].image for p in pods} == {"nginx:1.28"}

    wait_for(rolled)
    sizes = sorted(rs.spec.replicas for rs in k8s.apps.list_namespaced_replica_set(namespace).items)
    assert sizes == [0, 2]


def test_scheduling_gates_keep_a_pod_pending_until_removed(k8s, namespace):
    k8s.core.create_namespaced_pod(namespace, pod_manifest("gated", cpu="100m", gates=["bluedock.io/admission"]))
    pod = k8s.core.read_namespaced_pod("gated", namespace)
    assert pod.status.phase == "Pending" and pod.status.conditions[0].reason == "SchedulingGated"
    k8s.core.patch_namespaced_pod("gated", namespace, {"spec": {"schedulingGates": None}},
                                  _content_type="application/merge-patch+json")
    pod = wait_for(lambda: running(k8s, namespace))[0]
    assert pod.metadata.name == "gated" and pod.spec.node_name == "node-1"


def test_pod_that_fits_nowhere_stays_pending_as_unschedulable(k8s, namespace):
    k8s.core.create_namespaced_pod(namespace, pod_manifest("huge", cpu="64"))

    def condition():
        conds = k8s.core.read_namespaced_pod("huge", namespace).status.conditions or []
        return next((c for c in conds if c.type == "PodScheduled" and c.reason == "Unschedulable"), None)

    assert wait_for(condition).message == "0/4 nodes are available: 4 Insufficient cpu."


def test_placement_honours_node_selector_and_taints(sandbox_api, k8s, namespace):
    sandbox_api.admin("POST", "/sandbox/nodes", {"name": "gpu-1", "cpu": "8", "labels": {"pool": "gpu"},
                                                 "taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]})
    k8s.core.create_namespaced_pod(namespace, pod_manifest("intolerant", nodeSelector={"pool": "gpu"}))
    k8s.core.create_namespaced_pod(namespace, pod_manifest("tolerant", nodeSelector={"pool": "gpu"}, tolerations=[
        {"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}]))
    wait_for(lambda: running(k8s, namespace))
    assert k8s.core.read_namespaced_pod("tolerant", namespace).spec.node_name == "gpu-1"
    assert k8s.core.read_namespaced_pod("intolerant", namespace).spec.node_name is None


def test_an_evicted_pod_terminates_for_its_grace_then_goes(k8s, namespace):
    k8s.core.create_namespaced_pod(namespace, pod_manifest("victim", cpu="1", terminationGracePeriodSeconds=1))
    wait_for(lambda: running(k8s, namespace))
    k8s.core.create_namespaced_pod_eviction("victim", namespace, client.V1Eviction(
        metadata=client.V1ObjectMeta(name="victim", namespace=namespace)))
    terminating = k8s.core.read_namespaced_pod("victim", namespace)
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.metadata.deletion_grace_period_seconds == 1
    # Still on its node and holding its cpu: a 4-cpu pod does not fit on that node meanwhile.
    assert terminating.status.phase == "Running" and terminating.spec.node_name

    def gone():
        try:
            k8s.core.read_namespaced_pod("victim", namespace)
        except client.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, timeout=3)


def test_a_delete_with_grace_zero_or_of_an_unbound_pod_is_immediate(k8s, namespace):
    k8s.core.create_namespaced_pod(namespace, pod_manifest("bound"))
    k8s.core.create_namespaced_pod(namespace, pod_manifest("gated", gates=["x.io/wait"]))
    wait_for(lambda: running(k8s, namespace))
    k8s.core.delete_namespaced_pod("gated", namespace)  # no node, no kubelet to wait for: 30 s grace ignored
    k8s.core.delete_namespaced_pod("bound", namespace)  # 30 s grace: Terminating
    assert k8s.core.read_namespaced_pod("bound", namespace).metadata.deletion_grace_period_seconds == 30
    k8s.core.delete_namespaced_pod("bound", namespace, grace_period_seconds=60)  # may only shorten: unchanged
    assert k8s.core.read_namespaced_pod("bound", namespace).metadata.deletion_grace_period_seconds == 30
    k8s.core.delete_namespaced_pod("bound", namespace, grace_period_seconds=0)
    assert k8s.core.list_namespaced_pod(namespace).items == []


def test_a_terminating_pod_is_replaced_at_once_and_the_admin_endpoint_ends_its_grace(sandbox_api, k8s, namespace):
    k8s.apps.create_namespaced_deployment(namespace, deployment_manifest("web", replicas=1))
    (first,) = wait_for(lambda: running(k8s, namespace, "app=web"))
    k8s.core.delete_namespaced_pod(first.metadata.name, namespace)
    pods = wait_for(lambda: len(k8s.core.list_namespaced_pod(namespace).items) == 2
                    and k8s.core.list_namespaced_pod(namespace).items)
    assert sum(1 for p in pods if p.metadata.deletion_timestamp) == 1
    assert sandbox_api.admin("POST", "/sandbox/terminations", {"namespace": namespace}) == {"finished": 1}
    assert [p.metadata.name for p in k8s.core.list_namespaced_pod(namespace).items] != [first.metadata.name]
    assert len(k8s.core.list_namespaced_pod(namespace).items) == 1


def test_binding_assigns_a_node(k8s, namespace):
    k8s.core.create_namespaced_pod(namespace, pod_manifest("bound", schedulerName="bluedock"))
    k8s.core.create_namespaced_binding(namespace, client.V1Binding(
        metadata=client.V1ObjectMeta(name="bound"), target=client.V1ObjectReference(kind="Node", name="node-3")),
        _preload_content=False)
    pod = wait_for(lambda: running(k8s, namespace))[0]
    assert pod.spec.node_name == "node-3"


def test_hpa_scales_a_deployment_when_utilisation_is_high(sandbox_api, k8s, namespace):
    k8s.apps.create_namespaced_deployment(namespace, deployment_manifest("web", replicas=2))
    k8s.autoscaling.create_namespaced_horizontal_pod_autoscaler(namespace, {
        "metadata": {"name": "web"}, "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 50}}}]}})
    wait_for(lambda: len(running(k8s, namespace, "app=web")) == 2)
    sandbox_api.admin("POST", "/sandbox/cpu", {"namespace": namespace, "labelSelector": "app=web", "utilization": 100})
    # desired = ceil(2 × 100 / 50) = 4
    wait_for(lambda: k8s.apps.read_namespaced_deployment("web", namespace).spec.replicas == 4)
    hpa = k8s.autoscaling.read_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert hpa.status.desired_replicas == 4


def test_nodes_are_added_and_removed_through_the_admin_endpoint(sandbox_api, k8s, namespace):
    sandbox_api.admin("POST", "/sandbox/nodes", {"name": "extra", "cpu": "2", "memory": "4Gi"})
    node = k8s.core.read_node("extra")
    assert node.status.allocatable["cpu"] == "2" and node.status.conditions[0].status == "True"
    sandbox_api.admin("DELETE", "/sandbox/nodes/extra")
    assert "extra" not in {n.metadata.name for n in k8s.core.list_node().items}


def test_hpa_written_as_v1_reads_back_as_v2_and_v1(k8s, namespace):
    v1 = client.AutoscalingV1Api(k8s.raw)
    v1.create_namespaced_horizontal_pod_autoscaler(namespace, {"metadata": {"name": "web"}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "maxReplicas": 3, "targetCPUUtilizationPercentage": 70}})
    as_v2 = k8s.autoscaling.read_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert as_v2.spec.metrics[0].resource.target.average_utilization == 70 and as_v2.spec.min_replicas == 1
    assert v1.read_namespaced_horizontal_pod_autoscaler("web", namespace).spec.target_cpu_utilization_percentage == 70


def test_gpu_pods_go_to_nodes_with_free_gpus(sandbox_api, k8s, namespace):
    sandbox_api.admin("POST", "/sandbox/nodes", {"name": "gpu-1", "extended": {"nvidia.com/gpu": "1"}})
    for name in ("train-1", "train-2"):
        body = pod_manifest(name)
        body["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
        k8s.core.create_namespaced_pod(namespace, body)
    wait_for(lambda: running(k8s, namespace))
    assert k8s.core.read_namespaced_pod("train-1", namespace).spec.node_name == "gpu-1"
    waiting = wait_for(lambda: k8s.core.read_namespaced_pod("train-2", namespace).status.conditions)
    assert waiting[0].message == "0/5 nodes are available: 5 Insufficient nvidia.com/gpu."


def test_the_sandbox_can_start_with_gpus_on_every_node():
    # As `make run` starts it, so that the demo's GPU plans are not above the cluster's capacity.
    with running_sandbox(nodes=2, gpu=2) as sb:
        nodes = client.CoreV1Api(config.new_client_from_config(config_file=sb.kubeconfig)).list_node().items
    assert [n.status.allocatable.get("nvidia.com/gpu") for n in nodes] == ["2", "2"]


def test_priority_class_sets_pod_priority(k8s, namespace):
    client.SchedulingV1Api(k8s.raw).create_priority_class({"metadata": {"name": "high"}, "value": 1000})
    assert k8s.core.create_namespaced_pod(namespace, pod_manifest("p", priorityClassName="high")).spec.priority == 1000
    with pytest.raises(client.ApiException) as exc:
        k8s.core.create_namespaced_pod(namespace, pod_manifest("q", priorityClassName="missing"))
    assert exc.value.status == 403 and "no PriorityClass with name missing was found" in exc.value.body


def test_starting_a_deployment_records_the_events_a_real_cluster_records(k8s, namespace):
    k8s.apps.create_namespaced_deployment(namespace, deployment_manifest("web", replicas=1))
    wait_for(lambda: k8s.apps.read_namespaced_deployment("web", namespace).status.ready_replicas == 1)
    (pod,) = running(k8s, namespace, "app=web")

    def events_of(kind, name):
        return [e for e in k8s.core.list_namespaced_event(namespace).items
                if (e.involved_object.kind, e.involved_object.name) == (kind, name)]

    started = wait_for(lambda: len(events_of("Pod", pod.metadata.name)) == 4 and events_of("Pod", pod.metadata.name))
    by_reason = {e.reason: e for e in started}
    assert sorted(by_reason) == ["Created", "Pulled", "Scheduled", "Started"]
    assert by_reason["Scheduled"].source.component == "default-scheduler"
    assert by_reason["Scheduled"].message == f"Successfully assigned {namespace}/{pod.metadata.name} to node-1"
    pulled, created = by_reason["Pulled"], by_reason["Created"]
    assert pulled.message == 'Container image "nginx:1.27" already present on machine'
    assert (created.message, created.type, created.count) == ("Created container: app", "Normal", 1)
    assert (created.source.component, created.source.host, created.reporting_instance) == ("kubelet", "node-1",
                                                                                           "node-1")
    assert created.involved_object.field_path == "spec.containers{app}"
    assert created.involved_object.uid == pod.metadata.uid
    (scaled,) = events_of("Deployment", "web")
    assert scaled.reason == "ScalingReplicaSet" and scaled.message.startswith("Scaled up replica set web-")
    (rs,) = k8s.apps.list_namespaced_replica_set(namespace).items
    assert [e.reason for e in events_of("ReplicaSet", rs.metadata.name)] == ["SuccessfulCreate"]

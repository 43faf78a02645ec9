"""StatefulSets, DaemonSets, Jobs, garbage collection, and custom resources stored as-is."""

from kubernetes import client

from tests.sandbox.conftest import deployment_manifest
from tests.servers.sandbox import wait_for

TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}}


def pods(k8s, namespace):
    return k8s.core.list_namespaced_pod(namespace).items


def test_statefulset_creates_ordinal_pods_in_order(k8s, namespace):
    k8s.apps.create_namespaced_stateful_set(namespace, {"metadata": {"name": "db"}, "spec": {
        "replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "x"}}, "template": TEMPLATE}})
    wait_for(lambda: k8s.apps.read_namespaced_stateful_set("db", namespace).status.ready_replicas == 3)
    assert sorted(p.metadata.name for p in pods(k8s, namespace)) == ["db-0", "db-1", "db-2"]
    k8s.apps.patch_namespaced_stateful_set_scale("db", namespace, {"spec": {"replicas": 1}})
    wait_for(lambda: [p.metadata.name for p in pods(k8s, namespace)] == ["db-0"])


def test_daemonset_runs_one_pod_per_node_it_tolerates(sandbox_api, k8s, namespace):
    sandbox_api.admin("POST", "/sandbox/nodes", {"name": "tainted", "taints": [
        {"key": "dedicated", "value": "db", "effect": "NoSchedule"}]})
    k8s.apps.create_namespaced_daemon_set(namespace, {"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "x"}}, "template": TEMPLATE}})
    wait_for(lambda: k8s.apps.read_namespaced_daemon_set("agent", namespace).status.number_ready == 4)
    assert sorted(p.spec.node_name for p in pods(k8s, namespace)) == ["node-1", "node-2", "node-3", "node-4"]


def test_job_pods_complete_and_the_job_succeeds(k8s, namespace):
    template = {"metadata": {"annotations": {"sandbox.bluedock.io/run-seconds": "0"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "busybox"}]}}
    client.BatchV1Api(k8s.raw).create_namespaced_job(namespace, {"metadata": {"name": "migrate"}, "spec": {
        "completions": 2, "parallelism": 1, "template": template}})
    job = wait_for(lambda: (j := client.BatchV1Api(k8s.raw).read_namespaced_job("migrate", namespace)).status.succeeded
                   == 2 and j)
    assert job.status.conditions[0].type == "Complete"
    assert {p.status.phase for p in pods(k8s, namespace)} == {"Succeeded"}


def test_deleting_a_deployment_garbage_collects_its_replicasets_and_pods(k8s, namespace):
    k8s.apps.create_namespaced_deployment(namespace, deployment_manifest("web", replicas=2))
    wait_for(lambda: len(pods(k8s, namespace)) == 2)
    k8s.apps.delete_namespaced_deployment("web", namespace)
    wait_for(lambda: not pods(k8s, namespace) and not k8s.apps.list_namespaced_replica_set(namespace).items)


def test_custom_resources_are_served_once_their_crd_exists(k8s, namespace):
    custom = client.CustomObjectsApi(k8s.raw)
    client.ApiextensionsV1Api(k8s.raw).create_custom_resource_definition({
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
                 "names": {"plural": "servicemonitors", "kind": "ServiceMonitor", "singular": "servicemonitor"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object"}}}]}})
    body = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "web"},
            "spec": {"endpoints": [{"port": "http", "interval": "30s"}]}}
    custom.create_namespaced_custom_object("monitoring.coreos.com", "v1", namespace, "servicemonitors", body)
    (item,) = custom.list_namespaced_custom_object("monitoring.coreos.com", "v1", namespace,
                                                   "servicemonitors")["items"]
    assert item["spec"] == body["spec"] and item["metadata"]["uid"]

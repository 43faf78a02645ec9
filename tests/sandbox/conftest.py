import pytest
from kubernetes import client


@pytest.fixture
def k8s(sandbox_api):
    """Typed API groups of the official client, all talking to the sandbox."""
    api_client = sandbox_api.client()

    class Apis:
        core = client.CoreV1Api(api_client)
        apps = client.AppsV1Api(api_client)
        policy = client.PolicyV1Api(api_client)
        autoscaling = client.AutoscalingV2Api(api_client)
        raw = api_client

    yield Apis
    api_client.close()


@pytest.fixture
def namespace(k8s):
    k8s.core.create_namespace({"metadata": {"name": "team-a"}})
    return "team-a"


def pod_manifest(name, *, cpu=None, memory=None, gates=None, labels=None, **spec):
    resources = {"requests": {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}} if (cpu or memory) else {}
    body = {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "resources": resources}], **spec}}
    if gates:
        body["spec"]["schedulingGates"] = [{"name": g} for g in gates]
    return body


def deployment_manifest(name, replicas=2, *, cpu="100m"):
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                           "resources": {"requests": {"cpu": cpu}}}]}}}}

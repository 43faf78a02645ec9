"""What a pod asks, as the scheduler and the quota count it: the engine's demand must be no less,
or an admitted pod cannot be placed (an init container of 4 cpu beside an app of 100m)."""

from __future__ import annotations

import pytest

from backends.kubernetes import _pod_info


def _container(cpu: str, **extra) -> dict:
    return {"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu}}, **extra}


POD_REQUESTS = [  # (spec, cpu in millicores)
    ("containers add up", {"containers": [_container("100m"), _container("200m")]}, 300),
    ("a larger init container sets the peak", {"containers": [_container("100m")],
                                                "initContainers": [_container("4")]}, 4000),
    ("a smaller init container changes nothing", {"containers": [_container("1")],
                                                   "initContainers": [_container("500m")]}, 1000),
    ("a sidecar runs beside the containers", {"containers": [_container("1")],
                                              "initContainers": [_container("250m", restartPolicy="Always")]}, 1250),
    ("an init container after a sidecar runs beside it",
     {"containers": [_container("100m")],
      "initContainers": [_container("1", restartPolicy="Always"), _container("2")]}, 3000),
    ("the runtime's overhead is added", {"containers": [_container("1")], "overhead": {"cpu": "250m"}}, 1250),
]


@pytest.mark.parametrize(("spec", "cpu"), [p[1:] for p in POD_REQUESTS], ids=[p[0] for p in POD_REQUESTS])
def test_a_pod_asks_what_kubernetes_counts(spec, cpu):
    pod = {"metadata": {"name": "p", "namespace": "n"}, "spec": spec, "status": {"phase": "Pending"}}
    assert _pod_info(pod).requests["cpu"] == cpu

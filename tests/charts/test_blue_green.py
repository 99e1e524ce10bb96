"""The blue-green steps CI runs (trademesh_devstack.bluegreen) against a real API server.

There is no controller manager or kubelet here, so nothing ever becomes available by
itself: the tests write the Deployments' and StatefulSets' status the way those
controllers would once the pods are ready, and leave it unwritten to play a colour that
never comes up.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from trademesh_devstack import charts
from trademesh_devstack._proc import DevStackError
from trademesh_devstack.bluegreen import BlueGreen, workload_state
from trademesh_devstack.kube import KubeClient

from .conftest import make_namespace

pytestmark = pytest.mark.kube

NO_HOOKS = ("--no-hooks",)  # hook Jobs never complete without a kubelet


@pytest.fixture
def stack(kube: KubeClient, built_charts: Path) -> Iterator[BlueGreen]:
    namespace = make_namespace(kube, "bluegreen")
    kube.helm("install", "trademesh", str(charts.UMBRELLA), "--namespace", namespace, *NO_HOOKS)
    yield BlueGreen(kube, namespace)
    for release in ("trademesh-green", "trademesh"):
        kube.helm("uninstall", release, "--namespace", namespace, *NO_HOOKS, check=False)


def mark_available(kube: KubeClient, namespace: str, release: str) -> int:
    """Writes the status the controllers would once every replica is ready; returns how many
    workloads it marked."""
    listed = kube.kubectl(
        "get", "deployments,statefulsets", "-n", namespace,
        "-l", f"app.kubernetes.io/instance={release}", "-o", "json",
    )  # fmt: skip
    items = json.loads(listed.stdout)["items"]
    for item in items:
        replicas = item["spec"].get("replicas", 1)
        status = {
            "observedGeneration": item["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
        kube.kubectl(
            "patch", item["kind"].lower(), item["metadata"]["name"], "-n", namespace,
            "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}),
        )  # fmt: skip
    return len(items)


def deploy_in_background(stack: BlueGreen, **kwargs: object) -> Future[str]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(stack.deploy, helm_args=NO_HOOKS, **kwargs)  # type: ignore[arg-type]
    pool.shutdown(wait=False)
    return future


def wait_for_release(stack: BlueGreen, release: str, future: Future[str]) -> None:
    """Until helm has created the release's workloads (the deploy is then waiting on them)."""
    for _ in range(300):
        listed = stack.kube.kubectl(
            "get", "deployments", "-n", stack.namespace,
            "-l", f"app.kubernetes.io/instance={release}", "-o", "name",
        )  # fmt: skip
        if future.done() or listed.stdout.strip():
            return
        time.sleep(0.2)
    pytest.fail(f"helm did not create {release}'s workloads")


def bring_up(stack: BlueGreen, release: str, deploying: Future[str]) -> str:
    """Plays the controllers until the deploy sees the release available (helm may still be
    applying objects, or bumping generations, after a first pass); the deploy's result."""
    deadline = time.monotonic() + 120
    while not deploying.done() and time.monotonic() < deadline:
        mark_available(stack.kube, stack.namespace, release)
        time.sleep(1)
    return deploying.result(timeout=5)


def test_a_deploy_goes_to_the_idle_colour_and_the_cutover_moves_the_traffic(stack: BlueGreen):
    assert stack.live_colour() == "blue"
    assert mark_available(stack.kube, stack.namespace, "trademesh") > 0

    deploying = deploy_in_background(stack, sets=["global.image.tag=2.0.0"], timeout=120)
    wait_for_release(stack, "trademesh-green", deploying)
    assert stack.live_colour() == "blue"  # nothing moves while green comes up
    assert bring_up(stack, "trademesh-green", deploying) == "green"

    gateway = stack.kube.get("deployment", "trademesh-green-gateway", stack.namespace)
    assert gateway["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2.0.0")
    assert stack.live_colour() == "blue"

    stack.cutover("green")
    assert stack.live_colour() == "green"
    assert stack.rollback() == "blue"
    assert stack.live_colour() == "blue"


def test_the_next_deploy_upgrades_blue_and_keeps_green_live(stack: BlueGreen):
    mark_available(stack.kube, stack.namespace, "trademesh")
    green = deploy_in_background(stack, timeout=120)
    assert bring_up(stack, "trademesh-green", green) == "green"
    stack.cutover("green")

    blue = deploy_in_background(stack, sets=["global.image.tag=3.0.0"], timeout=120)
    assert bring_up(stack, "trademesh", blue) == "blue"
    gateway = stack.kube.get("deployment", "trademesh-gateway", stack.namespace)
    assert gateway["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":3.0.0")
    # The owner's upgrade carried the live choice along: green still takes the traffic.
    assert stack.live_colour() == "green"


def test_a_colour_that_never_comes_up_fails_the_deploy_and_takes_no_traffic(stack: BlueGreen):
    with pytest.raises(DevStackError, match="green is not available after 3 s") as failed:
        stack.deploy(helm_args=NO_HOOKS, timeout=3)
    assert "Deployment/trademesh-green-gateway (0/" in str(failed.value)
    assert stack.live_colour() == "blue"
    with pytest.raises(DevStackError, match="not available"):
        stack.cutover("green", timeout=1)
    assert stack.live_colour() == "blue"


@pytest.mark.parametrize(
    ("status", "ready"),
    [
        ({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}, True),
        ({"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2}, False),
        ({"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 2}, False),
        ({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 1}, False),
        ({}, False),
    ],
)
def test_a_deployment_is_available_once_it_serves_its_current_spec_everywhere(status, ready):
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "gateway", "generation": 2},
        "spec": {"replicas": 2},
        "status": status,
    }
    assert workload_state(deployment).ready is ready


def cli(stack: BlueGreen, *args: str) -> subprocess.CompletedProcess[str]:
    """The command CI runs, with the test cluster as $KUBECONFIG and its tools on PATH."""
    kube = stack.kube
    path = os.pathsep.join([str(kube.kubectl_path.parent), str(kube.helm_path.parent)])
    return subprocess.run(
        [sys.executable, "-m", "trademesh_devstack", "blue-green", "-n", stack.namespace, *args],
        env={
            **os.environ,
            "KUBECONFIG": str(kube.kubeconfig),
            "PATH": path + os.pathsep + os.environ["PATH"],
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_command_ci_runs_reports_deploys_and_cuts_over(stack: BlueGreen):
    mark_available(stack.kube, stack.namespace, "trademesh")
    status = cli(stack, "status")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["live"] == "blue" and report["workloads"]["green"] == []
    assert all(w["ready"] for w in report["workloads"]["blue"])

    refused = cli(stack, "--timeout", "2", "deploy", "--helm-arg=--no-hooks")
    assert refused.returncode == 1
    assert "devstack: error: green is not available after 2 s" in refused.stderr

    mark_available(stack.kube, stack.namespace, "trademesh-green")
    switched = cli(stack, "cutover", "green")
    assert switched.returncode == 0, switched.stderr
    assert json.loads(switched.stdout) == {"live": "green"}
    back = cli(stack, "rollback")
    assert json.loads(back.stdout) == {"live": "blue"}

"""Two operator replicas, as the chart runs them: one acts, the other stands by, and the
stand-by takes over when the active one dies without a word (SIGKILL). Each replica is a
real `kopf run` process against the real kube-apiserver and Kafka; which one scaled is read
from each replica's own /metrics."""

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from trademesh_devstack import free_port

pytestmark = [pytest.mark.kube, pytest.mark.integration]

CRDS = Path(__file__).resolve().parents[3] / "charts" / "operator" / "crds"
POLL = 2
# kopf refreshes a replica's peering entry every `lifetime - 10` seconds: a short lifetime
# keeps the failover (and this test) quick.
PEERING_LIFETIME = 15
FAILOVER_DEADLINE = PEERING_LIFETIME + 30


def wait_for(what, probe, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class Replica:
    """One `kopf run` process of the operator with a fixed peering priority."""

    def __init__(self, kube_api, peering: str, priority: int, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {
            **os.environ,
            **kube_api.env(),
            "TRADEMESH_QAS_OPS_HOST": "127.0.0.1",
            "TRADEMESH_QAS_OPS_PORT": str(self.port),
            "TRADEMESH_QAS_PEERING_LIFETIME_SECONDS": str(PEERING_LIFETIME),
        }
        command = [
            *(sys.executable, "-m", "kopf", "run", "--all-namespaces"),
            *(f"--peering={peering}", f"--priority={priority}"),
            *("-m", "trademesh_queue_autoscaler.handlers"),
        ]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def scales(self) -> float:
        """Scale patches this replica made (0 when it never made one or is not serving)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return 0.0
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("queue_autoscaler_scales_total{")
        )

    def serving(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def replicas(kube_api, tmp_path) -> Iterator[tuple[Replica, Replica]]:
    kube_api.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    kube_api.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/queueautoscalers.autoscaling.trademesh.dev",
        "crd/clusterkopfpeerings.kopf.dev",
    )
    peering = f"qas-failover-{uuid.uuid4().hex[:6]}"
    kube_api.apply(
        {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": peering}}
    )
    active = Replica(kube_api, peering, priority=200, log=tmp_path / "active.log")
    standby = Replica(kube_api, peering, priority=100, log=tmp_path / "standby.log")
    try:
        for replica in (active, standby):
            wait_for("the replica's ops endpoint", replica.serving, 60)
        yield active, standby
    finally:
        for replica in (active, standby):
            replica.stop()
        kube_api.kubectl("delete", "clusterkopfpeering", peering, "--ignore-not-found")


def test_one_replica_scales_and_the_other_takes_over_when_it_dies(kube_api, kafka, replicas):
    active, standby = replicas
    ns = f"qas-{uuid.uuid4().hex[:8]}"
    kube_api.kubectl("create", "namespace", ns)
    labels = {"app": "consumer"}
    kube_api.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "consumer", "namespace": ns},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "consumer:test"}]},
                },
            },
        }
    )
    topic = kafka.topic(partitions=8)
    kube_api.apply(
        {
            "apiVersion": "autoscaling.trademesh.dev/v1alpha1",
            "kind": "QueueAutoscaler",
            "metadata": {"name": "qas", "namespace": ns},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "consumer",
                },
                "kafka": {
                    "bootstrapServers": kafka.bootstrap,
                    "consumerGroup": f"group-{uuid.uuid4().hex[:8]}",
                    "topics": [topic],
                },
                "lagPerReplica": 100,
                "offsetPolicy": "earliest",
                "minReplicas": 1,
                "maxReplicas": 8,
                "pollIntervalSeconds": POLL,
            },
        }
    )

    def replicas_now() -> int:
        return kube_api.get("deployment", "consumer", ns)["spec"]["replicas"]

    kafka.produce(topic, {0: 150, 1: 150})
    wait_for("the scale-up to 3", lambda: replicas_now() == 3, 30)
    assert active.scales() >= 1
    assert standby.scales() == 0, "the stand-by replica scaled while the active one was alive"

    active.kill()
    kafka.produce(topic, {2: 150, 3: 150})
    wait_for("the stand-by's scale-up to 6", lambda: replicas_now() == 6, FAILOVER_DEADLINE)
    assert standby.scales() >= 1

"""The operator end to end: kopf's KopfRunner in-process against a real kube-apiserver + etcd
and a real Kafka broker. A Deployment here never gets pods (no controller-manager), which is
all the operator needs: it reads and patches the /scale subresource."""

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from kopf.testing import KopfRunner

from trademesh_devstack._proc import DevStackError

pytestmark = [pytest.mark.kube, pytest.mark.integration]

CRDS = Path(__file__).resolve().parents[3] / "charts" / "operator" / "crds"
POLL = 2  # seconds: short, so the suite stays bounded in time
TICK = 1  # the operator's timer tick (TRADEMESH_QAS_TICK_SECONDS default)


def wait_for(what, probe, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def crds(kube_api):
    """The chart's CRDs: QueueAutoscaler and kopf's peerings."""
    kube_api.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    kube_api.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/queueautoscalers.autoscaling.trademesh.dev",
        "crd/clusterkopfpeerings.kopf.dev",
    )


@pytest.fixture(scope="module")
def operator(kube_api, crds):
    """The operator in-process, cluster-wide and peering (as the chart runs it)."""
    kube_api.apply(
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": "qas-tests"},
        }
    )
    saved = dict(os.environ)
    os.environ.update(kube_api.env())
    os.environ["TRADEMESH_QAS_OPS_PORT"] = "-1"
    args = [
        "run",
        "--all-namespaces",
        "--peering=qas-tests",
        "-m",
        "trademesh_queue_autoscaler.handlers",
    ]
    try:
        with KopfRunner(args, timeout=60) as runner:
            yield runner
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert runner.exception is None, runner.output


class Cluster:
    """One test's namespace with a Deployment and helpers around it."""

    def __init__(self, kube_api, kafka):
        self.kube = kube_api
        self.kafka = kafka
        self.ns = f"qas-{uuid.uuid4().hex[:8]}"
        self.group = f"group-{uuid.uuid4().hex[:8]}"
        kube_api.kubectl("create", "namespace", self.ns)

    def deployment(self, name="consumer", replicas=1):
        labels = {"app": name}
        self.kube.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": self.ns},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "c", "image": "consumer:test"}]},
                    },
                },
            }
        )

    def replicas(self, name="consumer"):
        return self.kube.get("deployment", name, self.ns)["spec"]["replicas"]

    def autoscaler(self, topic, name="qas", **spec):
        body = {
            "apiVersion": "autoscaling.trademesh.dev/v1alpha1",
            "kind": "QueueAutoscaler",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "consumer",
                },
                "kafka": {
                    "bootstrapServers": self.kafka.bootstrap,
                    "consumerGroup": self.group,
                    "topics": [topic],
                },
                "lagPerReplica": 100,
                # the group has not committed yet: count from the log start, as its
                # consumers (auto.offset.reset=earliest) will
                "offsetPolicy": "earliest",
                "minReplicas": 1,
                "maxReplicas": 10,
                "pollIntervalSeconds": POLL,
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}},
                **spec,
            },
        }
        self.kube.apply(body)

    def status(self, name="qas"):
        return self.kube.get("queueautoscaler", name, self.ns).get("status", {})

    def condition(self, kind, name="qas"):
        for c in self.status(name).get("conditions", []):
            if c["type"] == kind:
                return c
        return None

    def event_reasons(self):
        """Reasons of the Events posted about QueueAutoscalers in the namespace."""
        listing = json.loads(self.kube.kubectl("get", "events", "-n", self.ns, "-o", "json").stdout)
        return [
            e["reason"]
            for e in listing["items"]
            if e["involvedObject"]["kind"] == "QueueAutoscaler"
        ]

    def polled(self, name="qas"):
        """Wait for the operator's first poll of the CR."""
        wait_for("the first poll", lambda: "currentReplicas" in self.status(name), 30)


@pytest.fixture
def cluster(kube_api, kafka, operator):
    return Cluster(kube_api, kafka)


def test_backlog_scales_up_within_two_poll_intervals(cluster, kafka):
    topic = kafka.topic(4)
    cluster.deployment(replicas=1)
    cluster.autoscaler(topic)
    cluster.polled()
    kafka.produce(topic, {p: 200 for p in range(4)})
    # 800 lag / 100 per replica = 8, capped at the 4 partitions
    wait_for("scale to 4", lambda: cluster.replicas() == 4, 2 * POLL)
    wait_for("status", lambda: cluster.status().get("desiredReplicas") == 4, 2 * POLL)
    status = cluster.status()
    assert status["totalLag"] == 800
    assert status["observedGeneration"] == 1
    assert cluster.condition("ScalingLimited")["reason"] == "PartitionCap"
    assert cluster.condition("Active")["status"] == "True"
    assert cluster.condition("Ready")["status"] == "True"
    wait_for("a ScaledUp event", lambda: cluster.event_reasons().count("ScaledUp") == 1, 10)


def test_consumed_backlog_scales_down_only_after_the_window(cluster, kafka):
    window = 5 * POLL
    topic = kafka.topic(4)
    cluster.deployment(replicas=1)
    cluster.autoscaler(topic, behavior={"scaleDown": {"stabilizationWindowSeconds": window}})
    cluster.polled()
    kafka.produce(topic, {p: 100 for p in range(4)})
    wait_for("scale up", lambda: cluster.replicas() == 4, 2 * POLL + TICK)
    kafka.commit(cluster.group, topic, {p: 100 for p in range(4)})  # the consumers caught up
    consumed = time.monotonic()
    wait_for("lag seen as 0", lambda: cluster.status().get("totalLag") == 0, 2 * POLL + TICK)
    # The window holds the highest recommendation of its last `window` seconds; the last
    # high one came at most one poll (+ tick) before the commit.
    while time.monotonic() < consumed + window - POLL - TICK:
        assert cluster.replicas() == 4
        time.sleep(0.5)
    wait_for("scale down", lambda: cluster.replicas() == 1, 2 * POLL + 2 * TICK + POLL)
    wait_for("a ScaledDown event", lambda: "ScaledDown" in cluster.event_reasons(), 10)


def test_unreachable_kafka_falls_back(cluster):
    cluster.deployment(replicas=5)
    cluster.kube.apply(
        {
            "apiVersion": "autoscaling.trademesh.dev/v1alpha1",
            "kind": "QueueAutoscaler",
            "metadata": {"name": "qas", "namespace": cluster.ns},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "consumer",
                },
                # a closed loopback port: nothing listens there
                "kafka": {"bootstrapServers": "127.0.0.1:9", "consumerGroup": "g", "topics": ["t"]},
                "lagPerReplica": 100,
                "maxReplicas": 10,
                "pollIntervalSeconds": 1,
                "fallback": {"replicas": 3, "failureThreshold": 2},
            },
        }
    )
    wait_for("fallback replicas", lambda: cluster.replicas() == 3, 30)
    wait_for(
        "Fallback condition",
        lambda: (cluster.condition("Fallback") or {}).get("status") == "True",
        10,
    )
    assert cluster.condition("Ready")["reason"] == "KafkaUnreachable"
    wait_for("a FallbackScaled event", lambda: "FallbackScaled" in cluster.event_reasons(), 10)


def test_min_zero_scales_to_zero_and_back(cluster, kafka):
    topic = kafka.topic(2)
    cluster.deployment(replicas=2)
    cluster.autoscaler(topic, minReplicas=0)
    wait_for("scale to zero", lambda: cluster.replicas() == 0, 3 * POLL)
    assert cluster.condition("Active")["status"] == "False"
    kafka.produce(topic, {0: 30})
    wait_for("wake from zero", lambda: cluster.replicas() == 1, 2 * POLL + TICK)
    assert cluster.condition("Active")["status"] == "True"


def test_deleting_the_autoscaler_leaves_the_workload_alone(cluster, kafka):
    topic = kafka.topic(4)
    cluster.deployment(replicas=1)
    cluster.autoscaler(topic)
    cluster.polled()
    kafka.produce(topic, {p: 100 for p in range(4)})
    wait_for("scale up", lambda: cluster.replicas() == 4, 2 * POLL + TICK)
    cluster.kube.kubectl(
        "delete", "queueautoscaler", "qas", "-n", cluster.ns, "--wait=true", "--timeout=20s"
    )
    kafka.commit(cluster.group, topic, {p: 100 for p in range(4)})  # lag gone: would scale down
    time.sleep(3 * POLL)
    deployment = cluster.kube.get("deployment", "consumer", cluster.ns)
    assert deployment["spec"]["replicas"] == 4
    assert not deployment["metadata"].get("finalizers")
    assert not [a for a in deployment["metadata"].get("annotations", {}) if "kopf" in a]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"minReplicas": 5, "maxReplicas": 2}, "minReplicas must not exceed maxReplicas"),
        ({"activationLag": -1}, "activationLag must be >= 0"),
        ({"kafka": {"bootstrapServers": "k:9092", "consumerGroup": "g", "topics": []}}, "topics"),
        ({"lagMode": "total"}, "lagMode total needs targetTotalLag"),
        ({"fallback": {"replicas": 50}}, "fallback.replicas must not exceed maxReplicas"),
        (
            {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 100000}}},
            "stabilizationWindowSeconds",
        ),
        ({"replicaCap": "sometimes"}, "replicaCap"),
    ],
)
def test_the_api_server_refuses_an_invalid_spec(kube_api, crds, change, message):
    ns = "default"
    body = {
        "apiVersion": "autoscaling.trademesh.dev/v1alpha1",
        "kind": "QueueAutoscaler",
        "metadata": {"name": f"bad-{uuid.uuid4().hex[:6]}", "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
            "kafka": {"bootstrapServers": "k:9092", "consumerGroup": "g", "topics": ["t"]},
            "lagPerReplica": 100,
            "maxReplicas": 10,
            **change,
        },
    }
    with pytest.raises(DevStackError, match=message):
        kube_api.apply(body)

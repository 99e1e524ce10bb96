"""What both operator benchmarks run on: a real kube-apiserver + etcd, real Kafka, the CRDs
from the chart and the operator as its own process (`python -m trademesh_queue_autoscaler`).

Attaches to running stacks when TRADEMESH_KUBE_ENV_FILE / TRADEMESH_DEVSTACK_ENV_FILE are set.
"""

import base64
import contextlib
import json
import os
import ssl
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

from confluent_kafka.admin import AdminClient, NewTopic

from trademesh_devstack._proc import ManagedProcess, free_port, wait_for
from trademesh_devstack.kube import AttachedKube, KubeApiServer, KubeClient
from trademesh_devstack.stack import AttachedStack, DevStack

ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "charts" / "operator" / "crds"


class Api:
    """Direct GETs against the API server with the admin kubeconfig (cheaper than kubectl)."""

    def __init__(self, kubeconfig: Path, scratch: Path) -> None:
        config = json.loads(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self.server = cluster["server"]
        cert, key = scratch / "client.crt", scratch / "client.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        key.chmod(0o600)
        self.context = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
        self.context.load_cert_chain(cert, key)

    def get(self, path: str) -> dict[str, Any]:
        with urlopen(Request(self.server + path), context=self.context, timeout=10) as response:
            return json.loads(response.read())


@dataclass
class OperatorStack:
    kube: KubeClient
    api: Api
    bootstrap: str
    operator: ManagedProcess
    ops_port: int
    namespace: str

    def create_topic(self, name: str, partitions: int) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)

    def deployment(self, name: str, replicas: int = 1) -> dict[str, Any]:
        labels = {"app": name}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "consumer:bench"}]},
                },
            },
        }

    def autoscaler(self, name: str, target: str, topic: str, group: str, **spec: Any) -> dict:
        return {
            "apiVersion": "autoscaling.trademesh.dev/v1alpha1",
            "kind": "QueueAutoscaler",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "kafka": {
                    "bootstrapServers": self.bootstrap,
                    "consumerGroup": group,
                    "topics": [topic],
                },
                "maxReplicas": 10,
                "lagPerReplica": 100,
                "offsetPolicy": "earliest",  # the group never commits: count the whole log
                **spec,
            },
        }

    def replicas(self, name: str) -> int:
        path = f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{name}/scale"
        return int(self.api.get(path)["spec"].get("replicas", 0))

    def autoscalers(self) -> list[dict[str, Any]]:
        path = (
            f"/apis/autoscaling.trademesh.dev/v1alpha1/namespaces/{self.namespace}/queueautoscalers"
        )
        return self.api.get(path)["items"]


def _kube(stack: contextlib.ExitStack) -> KubeClient:
    env_file = os.environ.get("TRADEMESH_KUBE_ENV_FILE")
    if env_file:
        return AttachedKube.from_env_file(Path(env_file))
    server = KubeApiServer()
    server.start()
    stack.callback(server.stop)
    return server


def _bootstrap(stack: contextlib.ExitStack) -> str:
    env_file = os.environ.get("TRADEMESH_DEVSTACK_ENV_FILE")
    if env_file:
        return AttachedStack.from_env_file(Path(env_file)).env()["TRADEMESH_KAFKA_BOOTSTRAP"]
    devstack = DevStack()
    devstack.start()
    stack.callback(devstack.stop)
    return devstack.env()["TRADEMESH_KAFKA_BOOTSTRAP"]


@contextlib.contextmanager
def operator_stack() -> Iterator[OperatorStack]:
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qas-bench-")))
        kube = _kube(stack)
        bootstrap = _bootstrap(stack)
        kube.kubectl("apply", "--server-side", "-f", str(CRDS))
        kube.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/queueautoscalers.autoscaling.trademesh.dev",
        )
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        kube.kubectl("create", "namespace", namespace)
        stack.callback(kube.kubectl, "delete", "namespace", namespace, "--wait=false", check=False)
        ops_port = free_port()
        operator = ManagedProcess(
            "queue-autoscaler",
            [sys.executable, "-m", "trademesh_queue_autoscaler"],
            log_path=scratch / "operator.log",
            env={
                **os.environ,
                **kube.env(),
                "TRADEMESH_QAS_STANDALONE": "1",
                "TRADEMESH_QAS_OPS_PORT": str(ops_port),
                "TRADEMESH_QAS_OPS_HOST": "127.0.0.1",
                "TRADEMESH_LOG_LEVEL": "WARNING",
            },
        )
        operator.start()
        stack.callback(operator.stop)
        wait_for(
            "operator ops port",
            lambda: _ok(f"http://127.0.0.1:{ops_port}/healthz"),
            timeout=60,
            proc=operator,
            logs=[operator.log_path],
        )
        yield OperatorStack(
            kube, Api(kube.kubeconfig, scratch), bootstrap, operator, ops_port, namespace
        )


def _ok(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False

"""The operator's chart installed into the real kube-apiserver: CRDs, RBAC, the Deployment
admitted under the `restricted` Pod Security level, the default QueueAutoscalers valid."""

import json
import uuid

import pytest

pytestmark = pytest.mark.kube


def test_chart_installs_with_restricted_pod_security_and_default_autoscalers(
    kube_api, built_charts
):
    suffix = uuid.uuid4().hex[:8]
    ns, release = f"qas-chart-{suffix}", f"tm{suffix}"  # cluster-scoped names differ per run
    name = f"{release}-queue-autoscaler"
    kube_api.kubectl("create", "namespace", ns)
    kube_api.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    kube_api.helm(
        "install", release, str(built_charts / "operator"), "--namespace", ns,
        "--set", "defaultAutoscalers.bootstrapServers=kafka.trademesh:9092",
        "--set", f"peering.name=qas-{suffix}",
    )  # fmt: skip
    listing = json.loads(kube_api.kubectl("get", "queueautoscalers", "-n", ns, "-o", "json").stdout)
    # Named like the release's workloads they scale (common.fullnameFor).
    autoscalers = {
        q["metadata"]["name"].removeprefix(f"{release}-"): q["spec"] for q in listing["items"]
    }
    assert set(autoscalers) == {"matching", "order"}
    assert autoscalers["matching"]["scaleTargetRef"]["name"] == f"{release}-matching"
    assert autoscalers["matching"]["kafka"]["topics"] == ["orders"]
    assert autoscalers["order"]["kafka"]["consumerGroup"] == "order"
    assert autoscalers["matching"]["pollIntervalSeconds"] == 5

    deployment = kube_api.get("deployment", name, ns)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["replicas"] == 2
    kube_api.get("clusterkopfpeering", f"qas-{suffix}")

    role = kube_api.get("clusterrole", name)
    rules = [
        (tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in role["rules"]
    ]
    assert (("apps",), ("deployments/scale", "statefulsets/scale"), ("get", "patch")) in rules
    # never the workloads themselves, nor any Secret unless named
    granted = {res for _, resources, _ in rules for res in resources}
    assert "deployments" not in granted
    assert "secrets" not in granted

    sa = f"system:serviceaccount:{ns}:{name}"

    def can(verb, resource, *extra):
        result = kube_api.kubectl(
            "auth", "can-i", verb, resource, *extra, "--as", sa, "-n", ns, check=False
        )
        return result.stdout.strip() == "yes"

    assert can("patch", "deployments.apps", "--subresource=scale")
    assert not can("patch", "deployments.apps")
    assert can("patch", "queueautoscalers.autoscaling.trademesh.dev", "--subresource=status")
    assert not can("get", "secrets")

    # Pod Security `restricted` is enforced on pods, not on Deployments: the pod the
    # Deployment would make must pass the API server's admission.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "operator-pod", "namespace": ns},
        "spec": deployment["spec"]["template"]["spec"],
    }
    kube_api.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod))

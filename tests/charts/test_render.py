"""What the umbrella renders, for every values file in charts/trademesh/ci/: labels,
Pod Security, secrets, the data tier switch, blue-green and monitoring."""

import json
from pathlib import Path

import pytest

from trademesh_common.kafka import Topics
from trademesh_devstack import charts
from trademesh_devstack.charts import Render, ci_values
from trademesh_matching.settings import MatchingSettings
from trademesh_order.executions import CONSUMER_GROUP as ORDER_CONSUMER_GROUP

CI_VALUES = charts.ci_values_files()

pytestmark = pytest.mark.kube

SERVICES = ("gateway", "auth", "order", "matching", "market", "social", "news")
DATA_TIER = ("kafka", "redis", "postgres")
POSTGRES_USERS = ("auth", "order", "market", "social", "news")
RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)


def env_of(objects: list[charts.Obj], deployment: str) -> dict[str, charts.Obj]:
    container = charts.named(objects, "Deployment", deployment)["spec"]["template"]["spec"][
        "containers"
    ][0]
    return {entry["name"]: entry for entry in container["env"]}


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_every_object_carries_the_recommended_labels(render: Render, values: Path):
    for obj in render([values]):
        labels = obj["metadata"].get("labels", {})
        missing = [key for key in RECOMMENDED_LABELS if key not in labels]
        assert not missing, f"{obj['kind']} {obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/part-of"] == "trademesh"


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_every_pod_meets_pod_security_restricted(render: Render, values: Path):
    pods = charts.pod_templates(render([values]))
    assert pods
    problems = {pod.workload: list(charts.restricted_violations(pod)) for pod in pods}
    assert {name: found for name, found in problems.items() if found} == {}


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_no_secret_value_appears_outside_a_secret(render: Render, values: Path):
    objects = render([values])
    secrets = {value for value in charts.secret_values(objects) if len(value) >= 8}
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        text = json.dumps(obj)
        leaked = [value[:4] + "..." for value in secrets if value in text]
        assert not leaked, f"{obj['kind']} {obj['metadata']['name']} holds secret values"


def test_the_defaults_bring_the_data_tier_up_in_cluster(render: Render):
    objects = render()
    statefulsets = {o["metadata"]["name"] for o in charts.of_kind(objects, "StatefulSet")}
    assert statefulsets == {f"trademesh-{name}" for name in DATA_TIER}
    deployments = {o["metadata"]["name"] for o in charts.of_kind(objects, "Deployment")}
    assert deployments == {f"trademesh-{name}" for name in (*SERVICES, "queue-autoscaler")}
    # Generated passwords: never in values, so they are in the Secrets only.
    users = charts.named(objects, "Secret", "trademesh-postgres-users")
    assert set(users["data"]) == {f"{c}-{k}" for c in POSTGRES_USERS for k in ("password", "dsn")}
    order = env_of(objects, "trademesh-order")
    assert order["TRADEMESH_POSTGRES_DSN"]["valueFrom"]["secretKeyRef"] == {
        "name": "trademesh-postgres-users",
        "key": "order-dsn",
    }
    assert order["TRADEMESH_KAFKA_BOOTSTRAP"]["value"] == "trademesh-kafka.trademesh.svc:9092"
    assert order["TRADEMESH_GRPC_PORT"]["value"] == "50051"
    assert order["TRADEMESH_HTTP_HOST"]["value"] == "0.0.0.0"


def test_external_dependencies_render_no_in_cluster_copy(render: Render):
    objects = render([ci_values("external")])
    for obj in objects:
        name = obj["metadata"].get("labels", {}).get("app.kubernetes.io/name")
        assert name not in DATA_TIER, f"{obj['kind']} {obj['metadata']['name']} is rendered"
        assert obj["kind"] != "Secret", f"Secret {obj['metadata']['name']} is rendered"
    assert not charts.of_kind(objects, "StatefulSet")
    market = env_of(objects, "trademesh-market")
    assert market["TRADEMESH_KAFKA_BOOTSTRAP"]["valueFrom"]["secretKeyRef"] == {
        "name": "trademesh-kafka-endpoint",
        "key": "bootstrap",
    }
    assert market["TRADEMESH_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "trademesh-redis-endpoint",
        "key": "redis-url",
    }
    assert market["TRADEMESH_POSTGRES_DSN"]["valueFrom"]["secretKeyRef"] == {
        "name": "trademesh-postgres-dsns",
        "key": "market-dsn",
    }
    # Topics are still created, on the managed Kafka, with its replication factor.
    topics = charts.named(objects, "Job", "trademesh-topics")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in topics["containers"][0]["env"]}
    assert env["REPLICATION_FACTOR"]["value"] == "3"
    assert "TRADEMESH_KAFKA_BOOTSTRAP" in env


def test_without_cert_manager_nothing_asks_for_it(render: Render):
    objects = render([ci_values("no-cert-manager")])
    assert not [o for o in objects if o["apiVersion"].startswith("cert-manager.io/")]
    assert "TRADEMESH_TLS_CERT_FILE" not in env_of(objects, "trademesh-order")
    with_tls = render()
    certificates = {o["metadata"]["name"] for o in charts.of_kind(with_tls, "Certificate")}
    assert {f"trademesh-{name}" for name in SERVICES} <= certificates
    order_tls = charts.named(with_tls, "Certificate", "trademesh-order")["spec"]
    assert "trademesh-order.trademesh.svc" in order_tls["dnsNames"]
    assert order_tls["uris"] == ["spiffe://trademesh.local/ns/trademesh/sa/trademesh-order"]
    assert env_of(with_tls, "trademesh-order")["TRADEMESH_TLS_CA_FILE"]["value"].endswith("ca.crt")


def test_monitoring_renders_monitors_rules_and_dashboards(render: Render):
    assert not [o for o in render() if o["apiVersion"].startswith("monitoring.coreos.com/")]
    objects = render([ci_values("monitoring")])
    monitors = {o["metadata"]["name"] for o in charts.of_kind(objects, "ServiceMonitor")}
    assert monitors == {f"trademesh-{name}" for name in SERVICES}
    for monitor in charts.of_kind(objects, "ServiceMonitor"):
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    rule_files = sorted((charts.UMBRELLA / "files" / "rules").glob("*.yaml"))
    expected_groups = [
        group["name"] for path in rule_files for group in charts.load_yaml(path)["groups"]
    ]
    slo = charts.named(objects, "PrometheusRule", "trademesh-slo-rules")
    assert [group["name"] for group in slo["spec"]["groups"]] == expected_groups
    dashboards = [
        o
        for o in charts.of_kind(objects, "ConfigMap")
        if "grafana_dashboard" in o["metadata"]["labels"]
    ]
    files = sorted((charts.UMBRELLA / "files" / "dashboards").glob("*.json"))
    assert sorted(key for d in dashboards for key in d["data"]) == [f.name for f in files]
    for dashboard in dashboards:
        assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
        for text in dashboard["data"].values():
            json.loads(text)


def test_a_green_release_joins_the_blue_stack_without_its_shared_parts(render: Render):
    objects = render([ci_values("green")], release="trademesh-green")
    assert not charts.of_kind(objects, "StatefulSet")
    assert not charts.of_kind(objects, "Issuer")
    # Its own schema migrations; the stack's databases and topics jobs are the owner's.
    jobs = {o["metadata"]["name"] for o in charts.of_kind(objects, "Job")}
    assert jobs == {f"trademesh-green-{name}-migrate" for name in POSTGRES_USERS}
    for pod in charts.pod_templates(objects):
        assert pod.labels["trademesh.io/color"] == "green"
        assert pod.labels["trademesh.io/stack"] == "trademesh"
    gateway = env_of(objects, "trademesh-green-gateway")
    assert gateway["TRADEMESH_ORDER_TARGET"]["value"] == "trademesh-green-order:50051"
    # The shared data tier is the blue release's.
    order = env_of(objects, "trademesh-green-order")
    assert order["TRADEMESH_POSTGRES_DSN"]["valueFrom"]["secretKeyRef"]["name"] == (
        "trademesh-postgres-users"
    )
    assert order["TRADEMESH_KAFKA_BOOTSTRAP"]["value"] == "trademesh-kafka.trademesh.svc:9092"
    own = charts.named(objects, "Service", "trademesh-green-gateway")
    assert own["spec"]["selector"]["trademesh.io/color"] == "green"


def test_the_live_gateway_service_selects_the_active_colour_of_the_stack(render: Render):
    blue = charts.named(render(), "Service", "trademesh-gateway-live")["spec"]["selector"]
    assert blue == {
        "app.kubernetes.io/name": "gateway",
        "trademesh.io/stack": "trademesh",
        "trademesh.io/color": "blue",
    }
    cut_over = render(sets=["liveService.activeColor=green"])
    selector = charts.named(cut_over, "Service", "trademesh-gateway-live")["spec"]["selector"]
    assert selector["trademesh.io/color"] == "green"


def test_migrations_run_as_hooks_after_the_databases_exist(render: Render):
    jobs = {o["metadata"]["name"]: o for o in charts.of_kind(render(), "Job")}
    assert set(jobs) == {
        "trademesh-databases",
        "trademesh-topics",
        *(f"trademesh-{name}-migrate" for name in POSTGRES_USERS),
    }
    for name, job in jobs.items():
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "post-install,post-upgrade"
        weight = int(annotations["helm.sh/hook-weight"])
        assert weight == (0 if name.endswith("-migrate") else -10)
    order = jobs["trademesh-order-migrate"]["spec"]["template"]["spec"]["containers"][0]
    assert order["command"] == ["python", "-m", "trademesh_order", "migrate"]
    databases = jobs["trademesh-databases"]["spec"]["template"]["spec"]["containers"][0]
    assert sorted(databases["args"]) == [
        "auth=auth",
        "market=market",
        "news=news",
        "order=orders",
        "social=social",
    ]


def test_the_operator_scales_matching_and_order_on_the_stacks_kafka(render: Render):
    objects = render()
    scalers = {o["metadata"]["name"]: o["spec"] for o in charts.of_kind(objects, "QueueAutoscaler")}
    assert set(scalers) == {"trademesh-matching", "trademesh-order"}
    deployments = {o["metadata"]["name"] for o in charts.of_kind(objects, "Deployment")}
    # What the consumers really use, so a renamed group or topic fails here.
    expected = {
        "trademesh-matching": (MatchingSettings().consumer_group, [Topics.ORDERS]),
        "trademesh-order": (ORDER_CONSUMER_GROUP, [Topics.EXECUTIONS]),
    }
    for name, (group, topics) in expected.items():
        spec = scalers[name]
        assert spec["scaleTargetRef"]["name"] in deployments
        assert spec["kafka"] == {
            "bootstrapServers": "trademesh-kafka.trademesh.svc:9092",
            "consumerGroup": group,
            "topics": topics,
        }
    operator = charts.named(objects, "Deployment", "trademesh-queue-autoscaler")
    labels = operator["spec"]["template"]["metadata"]["labels"]
    assert labels["trademesh.io/kafka-client"] == "true"
    assert labels["trademesh.io/stack"] == "trademesh"
    # A second colour runs no second operator: it is cluster-wide.
    green = render([ci_values("green")], release="trademesh-green")
    assert not charts.of_kind(green, "QueueAutoscaler")
    assert not charts.of_kind(green, "ClusterKopfPeering")


def test_the_operator_is_optional(render: Render):
    objects = render(sets=["operator.enabled=false"])
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"QueueAutoscaler", "ClusterKopfPeering", "ClusterRole"}

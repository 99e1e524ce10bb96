"""Every Service's pods admit exactly the callers the architecture names, and every
workload reaches exactly what it uses: evaluated over the rendered NetworkPolicies for
each values file, from every rendered pod and from outside (a Prometheus in the monitoring
namespace, a pod in another namespace, an address outside the cluster)."""

from pathlib import Path

import pytest

from trademesh_devstack import charts
from trademesh_devstack.charts import Endpoint, Render, ci_values

pytestmark = pytest.mark.kube

POSTGRES_USERS = ("auth", "order", "market", "social", "news")
DATA_PORTS = {"kafka": 9092, "redis": 6379, "postgres": 5432}
# What each workload uses of the data tier (ARCHITECTURE.md's table, plus the jobs).
USES: dict[str, set[str]] = {
    "gateway": {"kafka", "redis"},
    "auth": {"postgres"},
    "order": {"kafka", "postgres"},
    "matching": {"kafka", "redis"},
    "market": {"kafka", "redis", "postgres"},
    "social": {"postgres", "redis"},
    "news": {"postgres"},
    "simulator": set(),
    # the QueueAutoscaler operator reads consumer lag
    "queue-autoscaler": {"kafka"},
    "databases": {"postgres"},
    "topics": {"kafka"},
    **{name: set() for name in DATA_PORTS},
    **{f"{name}-migrate": {"postgres"} for name in POSTGRES_USERS},
}
GRPC_CALLS = {"gateway": {"auth", "order", "matching", "market", "social", "news"}}
HTTP_CALLS = {"simulator": {"gateway"}}

SCRAPER = Endpoint(
    name="prometheus",
    namespace="monitoring",
    labels={"app.kubernetes.io/name": "prometheus"},
    namespace_labels={"kubernetes.io/metadata.name": "monitoring"},
)
STRANGER = Endpoint(
    name="stranger",
    namespace="elsewhere",
    labels={"app.kubernetes.io/name": "gateway", "trademesh.io/postgres-client": "true"},
    namespace_labels={"kubernetes.io/metadata.name": "elsewhere"},
)
INTERNET = Endpoint(name="internet", ip="203.0.113.7")
DNS = Endpoint(
    name="kube-dns",
    namespace="kube-system",
    labels={"k8s-app": "kube-dns"},
    namespace_labels={"kubernetes.io/metadata.name": "kube-system"},
)

MATRIX = [
    *(pytest.param([path], [], id=path.name) for path in charts.ci_values_files()),
    pytest.param([], ["simulator.enabled=true"], id="with-simulator"),
]


def ours(source: Endpoint) -> bool:
    return source.is_pod and source.namespace == "trademesh"


def calls(source: Endpoint, destination: str, port_name: str) -> bool:
    """The architecture's edges: does this workload of ours call that port?"""
    if port_name == "grpc":
        return destination in GRPC_CALLS.get(source.name, set())
    if port_name == "http":
        return destination in HTTP_CALLS.get(source.name, set())
    return destination in USES[source.name]


def admits(source: Endpoint, destination: str, port_name: str) -> bool:
    """Whom the destination's pods should admit: the gateway's HTTP port takes anyone;
    other HTTP ports the metrics scraper (and HTTP callers); the rest only their callers."""
    if destination == "gateway" and port_name == "http":
        return True
    if source is SCRAPER and port_name == "http":
        return True
    return ours(source) and calls(source, destination, port_name)


def render_matrix(render: Render, values: list[Path], sets: list[str]) -> list[charts.Obj]:
    release = "trademesh-green" if values and values[0].name == "green-values.yaml" else "trademesh"
    return render(values, sets, release=release)


@pytest.mark.parametrize(("values", "sets"), MATRIX)
def test_each_service_admits_exactly_its_callers(render: Render, values, sets):
    objects = render_matrix(render, values, sets)
    policies = charts.of_kind(objects, "NetworkPolicy")
    pods = charts.pod_templates(objects)
    sources = [*(Endpoint.of(pod) for pod in pods), SCRAPER, STRANGER, INTERNET]
    wrong: list[str] = []
    for service in charts.of_kind(objects, "Service"):
        selected = [pod for pod in pods if charts.service_selects(service, pod)]
        name = service["metadata"]["name"]
        assert selected, f"Service {name} selects no pod"
        for pod in selected:
            own = [
                p
                for p in policies
                if charts.selects(p["spec"]["podSelector"], pod.labels)
                and not p["metadata"]["name"].endswith("-default-deny")
            ]
            assert own, f"no NetworkPolicy of its own selects the pods of Service {name}"
            destination = Endpoint.of(pod)
            for port in service["spec"]["ports"]:
                number = pod.container_port(port["targetPort"])
                assert number is not None, f"{name}: no container port {port['targetPort']}"
                for source in sources:
                    # The callee admits exactly its callers, and a connection also needs the
                    # caller's egress: our workloads reach exactly what they call.
                    admitted = charts.ingress_allowed(policies, destination, source, number)
                    connected = charts.connection_allowed(policies, source, destination, number)
                    should_admit = admits(source, pod.app, port["name"])
                    should_connect = should_admit and (
                        not ours(source) or calls(source, pod.app, port["name"])
                    )
                    where = f"{name}:{port['name']} from {source.name}"
                    if admitted != should_admit:
                        wrong.append(f"{where}: admitted={admitted}")
                    if connected != should_connect:
                        wrong.append(f"{where}: connected={connected}")
    assert sorted(set(wrong)) == []


@pytest.mark.parametrize(("values", "sets"), MATRIX)
def test_every_workload_resolves_names(render: Render, values, sets):
    objects = render_matrix(render, values, sets)
    policies = charts.of_kind(objects, "NetworkPolicy")
    for pod in charts.pod_templates(objects):
        assert charts.connection_allowed(policies, Endpoint.of(pod), DNS, 53), pod.workload


def test_external_dependencies_are_reached_only_by_their_users(render: Render):
    objects = render([ci_values("external")])
    policies = charts.of_kind(objects, "NetworkPolicy")
    addresses = {"kafka": "10.20.0.9", "redis": "10.21.0.9", "postgres": "10.22.0.9"}
    ports = {**DATA_PORTS, "redis": 6380}
    for pod in charts.pod_templates(objects):
        for dependency, address in addresses.items():
            outside = Endpoint(name=dependency, ip=address)
            allowed = charts.connection_allowed(
                policies, Endpoint.of(pod), outside, ports[dependency]
            )
            assert allowed == (dependency in USES[pod.app]), f"{pod.app} -> {dependency}"
            elsewhere = Endpoint(name="elsewhere", ip="198.51.100.1")
            assert not charts.connection_allowed(
                policies, Endpoint.of(pod), elsewhere, ports[dependency]
            )


def test_with_networkpolicies_off_none_are_rendered(render: Render):
    objects = render(sets=["global.networkPolicy.enabled=false"])
    assert not charts.of_kind(objects, "NetworkPolicy")


# The API server as a pod reaches it: the `kubernetes` Service's address (443) and, after
# its DNAT, the control plane's endpoint (6443 on kind and kubeadm).
API_SERVER = [
    Endpoint(name="kubernetes", ip="10.96.0.1"),
    Endpoint(name="apiserver", ip="172.18.0.2"),
]


@pytest.mark.parametrize("values", [[], [ci_values("external")]], ids=["default", "external"])
def test_only_the_operator_reaches_the_api_server(render: Render, values):
    objects = render(values)
    policies = charts.of_kind(objects, "NetworkPolicy")
    pods = charts.pod_templates(objects)
    assert "queue-autoscaler" in {pod.app for pod in pods}
    for pod in pods:
        for server in API_SERVER:
            for port in (443, 6443):
                allowed = charts.connection_allowed(policies, Endpoint.of(pod), server, port)
                assert allowed == (pod.app == "queue-autoscaler"), f"{pod.app} -> {port}"
        assert not charts.connection_allowed(policies, Endpoint.of(pod), API_SERVER[0], 10250)


def test_the_api_server_egress_can_be_narrowed_to_the_control_plane(render: Render):
    objects = render(sets=["operator.networkPolicy.apiServer.to[0].ipBlock.cidr=172.18.0.0/24"])
    policies = charts.of_kind(objects, "NetworkPolicy")
    operator = next(p for p in charts.pod_templates(objects) if p.app == "queue-autoscaler")
    assert charts.connection_allowed(policies, Endpoint.of(operator), API_SERVER[1], 6443)
    assert not charts.connection_allowed(policies, Endpoint.of(operator), API_SERVER[0], 443)

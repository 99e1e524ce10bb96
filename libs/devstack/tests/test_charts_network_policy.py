"""The NetworkPolicy reading the chart tests rely on, on hand-written policies."""

from trademesh_devstack.charts import Endpoint, PodTemplate, connection_allowed, selects


def pod(name: str, namespace: str = "app", **labels: str) -> Endpoint:
    template = PodTemplate(
        workload=name,
        kind="Deployment",
        namespace=namespace,
        labels={"app.kubernetes.io/name": name, **labels},
        spec={"containers": [{"name": name, "ports": [{"name": "grpc", "containerPort": 50051}]}]},
    )
    return Endpoint.of(template)


def policy(selector: dict, **spec: object) -> dict:
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "app"},
        "spec": {"podSelector": selector, **spec},
    }


SERVER = pod("server")
CLIENT = pod("client")
OTHER = pod("other")
ISOLATE_SERVER = policy({"matchLabels": {"app.kubernetes.io/name": "server"}}, ingress=[])


def test_selectors_match_labels_and_expressions():
    labels = {"a": "1", "b": "2"}
    assert selects({}, labels)
    assert not selects(None, labels)
    assert selects({"matchLabels": {"a": "1"}}, labels)
    assert not selects({"matchLabels": {"a": "2"}}, labels)
    assert selects({"matchExpressions": [{"key": "b", "operator": "In", "values": ["2"]}]}, labels)
    assert not selects({"matchExpressions": [{"key": "c", "operator": "Exists"}]}, labels)
    assert selects({"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}, labels)


def test_an_unselected_pod_takes_anything_and_an_isolated_one_nothing():
    assert connection_allowed([], CLIENT, SERVER, 50051)
    assert not connection_allowed([ISOLATE_SERVER], CLIENT, SERVER, 50051)
    assert connection_allowed([ISOLATE_SERVER], SERVER, CLIENT, 50051)


def test_a_rule_admits_its_peer_on_its_named_port_only():
    admit_client = policy(
        {"matchLabels": {"app.kubernetes.io/name": "server"}},
        ingress=[
            {
                "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "client"}}}],
                "ports": [{"protocol": "TCP", "port": "grpc"}],
            }
        ],
    )
    assert connection_allowed([admit_client], CLIENT, SERVER, 50051)
    assert not connection_allowed([admit_client], CLIENT, SERVER, 8080)
    assert not connection_allowed([admit_client], OTHER, SERVER, 50051)
    # A pod selector alone means this namespace only.
    elsewhere = pod("client", namespace="elsewhere")
    assert not connection_allowed([admit_client], elsewhere, SERVER, 50051)


def test_namespace_and_pod_selectors_in_one_peer_must_both_match():
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mon"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    scraper_only = policy({}, ingress=[{"from": [peer]}])
    assert connection_allowed([scraper_only], pod("prometheus", namespace="mon"), SERVER, 8080)
    assert not connection_allowed([scraper_only], pod("grafana", namespace="mon"), SERVER, 8080)
    assert not connection_allowed([scraper_only], pod("prometheus"), SERVER, 8080)


def test_egress_needs_a_rule_and_ip_blocks_honour_their_exceptions():
    only_to_block = policy(
        {"matchLabels": {"app.kubernetes.io/name": "client"}},
        policyTypes=["Egress"],
        egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}],
    )
    assert connection_allowed([only_to_block], CLIENT, Endpoint("db", ip="10.2.0.1"), 5432)
    assert not connection_allowed([only_to_block], CLIENT, Endpoint("db", ip="10.1.0.1"), 5432)
    assert not connection_allowed([only_to_block], CLIENT, SERVER, 50051)

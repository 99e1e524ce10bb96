"""The authorization policy file: its format, its defaults, and that it covers the mesh."""

import importlib
from pathlib import Path

import pytest

import trademesh
from trademesh_common.authz import AuthorizationPolicy, PolicyError, peer_identity

GATEWAY = "spiffe://trademesh.local/ns/trademesh/sa/gateway"
PLACE_ORDER = "/trademesh.order.v1.OrderService/PlaceOrder"
# Operator actions: named in the policy, open to no service.
OPERATOR_ONLY = {"/trademesh.auth.v1.AuthService/RotateSigningKey"}


def mesh_methods() -> set[str]:
    """Every gRPC method declared in proto/ (the generated `*_pb2` modules)."""
    methods = set()
    # The stubs live in namespace packages (no __init__.py), which pkgutil does not walk.
    for root in map(Path, trademesh.__path__):
        for path in root.rglob("*_pb2.py"):
            module = ".".join(("trademesh", *path.relative_to(root).with_suffix("").parts))
            descriptor = importlib.import_module(module).DESCRIPTOR
            for service in descriptor.services_by_name.values():
                methods.update(f"/{service.full_name}/{m.name}" for m in service.methods)
    return methods


def test_the_proto_walk_finds_every_service_of_the_mesh():
    services = {method.rsplit("/", 1)[0] for method in mesh_methods()}
    areas = {service.split(".")[1] for service in services}
    assert areas == {"auth", "order", "matching", "market", "social", "news"}


def test_every_method_of_the_mesh_is_named_in_the_policy():
    # Named one by one, not through a service wildcard: a new RPC stays closed until the
    # policy says who may call it, and this test says it is missing.
    policy = AuthorizationPolicy.load()
    assert sorted(mesh_methods() - set(policy.rules)) == []


def test_the_policy_names_no_method_the_protos_do_not_declare():
    policy = AuthorizationPolicy.load()
    named = {method for method in policy.rules if not method.endswith("/*")}
    assert sorted(named - mesh_methods()) == []


def test_every_method_but_operator_actions_is_open_to_the_gateway():
    policy = AuthorizationPolicy.load()
    for method in mesh_methods() - OPERATOR_ONLY:
        assert policy.decide(method, GATEWAY) is None, method
    for method in OPERATOR_ONLY:
        assert policy.decide(method, GATEWAY) == f"{method} is not open to any caller"


def test_only_the_gateway_places_orders():
    policy = AuthorizationPolicy.load()
    assert policy.decide(PLACE_ORDER, GATEWAY) is None
    for other in ("matching", "social", "news", "market", "auth"):
        identity = f"spiffe://trademesh.local/ns/trademesh/sa/{other}"
        assert policy.decide(PLACE_ORDER, identity) == f"{identity} may not call {PLACE_ORDER}"


def test_identities_follow_the_namespace_the_services_run_in():
    policy = AuthorizationPolicy.load(namespace="prod")
    assert policy.decide(PLACE_ORDER, "spiffe://trademesh.local/ns/prod/sa/gateway") is None
    assert policy.decide(PLACE_ORDER, GATEWAY) is not None


def test_unknown_methods_and_anonymous_peers_are_denied():
    policy = AuthorizationPolicy.load()
    assert "not open to any caller" in (policy.decide("/x.v1.Admin/Drop", GATEWAY) or "")
    assert policy.decide("/trademesh.auth.v1.AuthService/RotateSigningKey", GATEWAY)
    assert policy.decide(PLACE_ORDER, None) == "the peer presented no SPIFFE identity"


def test_a_service_wildcard_and_any_peer():
    policy = AuthorizationPolicy.from_mapping(
        {"methods": {"/a.B/*": [GATEWAY], "/a.B/Open": ["*"]}}
    )
    assert policy.decide("/a.B/Any", GATEWAY) is None
    assert policy.decide("/a.B/Any", "spiffe://trademesh.local/ns/trademesh/sa/x") is not None
    assert policy.decide("/a.B/Open", "spiffe://trademesh.local/ns/trademesh/sa/x") is None


def test_the_policy_file_is_loaded_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "policy.yaml"
    path.write_text('methods:\n  "/a.B/C": ["spiffe://trademesh.local/ns/{namespace}/sa/d"]\n')
    monkeypatch.setenv("TRADEMESH_AUTHZ_POLICY_FILE", str(path))
    monkeypatch.setenv("TRADEMESH_AUTHZ_NAMESPACE", "staging")
    policy = AuthorizationPolicy.load()
    assert policy.rules == {"/a.B/C": frozenset({"spiffe://trademesh.local/ns/staging/sa/d"})}


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"methods": ["x"]},
        {"methods": {"PlaceOrder": ["*"]}},
        {"methods": {"/a.B/C": "spiffe://x"}},
        {"methods": {"/a.B/C": [1]}},
    ],
)
def test_a_malformed_policy_is_refused_at_start(data):
    with pytest.raises(PolicyError):
        AuthorizationPolicy.from_mapping(data)


def test_the_identity_comes_from_the_verified_uri_san():
    assert peer_identity({"peer_spiffe_id": [GATEWAY.encode()]}) == GATEWAY
    assert peer_identity({"peer_uri": [b"https://x", GATEWAY.encode()]}) == GATEWAY
    assert peer_identity({"transport_security_type": [b"ssl"]}) is None

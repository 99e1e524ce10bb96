"""The gRPC authorization policy as the chart carries it: one ConfigMap per release,
rendered from the services' own policy file, mounted into every service and naming
the identities the release's certificates carry."""

from pathlib import Path

import pytest
import yaml

from trademesh_common.authz import AuthorizationPolicy
from trademesh_devstack import charts
from trademesh_devstack.charts import Render, ci_values

pytestmark = pytest.mark.kube

SERVICES = ("gateway", "auth", "order", "matching", "market", "social", "news")
POLICY_FILE = Path(__file__).parents[2] / "libs/common/src/trademesh_common/authz_policy.yaml"
PLACE_ORDER = "/trademesh.order.v1.OrderService/PlaceOrder"
ROTATE_KEY = "/trademesh.auth.v1.AuthService/RotateSigningKey"


def container_of(objects: list[charts.Obj], deployment: str) -> charts.Obj:
    return charts.named(objects, "Deployment", deployment)["spec"]["template"]["spec"][
        "containers"
    ][0]


def env_of(objects: list[charts.Obj], deployment: str) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container_of(objects, deployment)["env"]}


def mounted_file(objects: list[charts.Obj], deployment: str, path: str) -> tuple[str, str]:
    """(kind:name of the volume's source, key) behind a file path in the container."""
    pod = charts.named(objects, "Deployment", deployment)["spec"]["template"]["spec"]
    for mount in container_of(objects, deployment)["volumeMounts"]:
        if path.startswith(mount["mountPath"] + "/"):
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            key = path.removeprefix(mount["mountPath"] + "/")
            if "configMap" in volume:
                return f"ConfigMap:{volume['configMap']['name']}", key
            return f"Secret:{volume['secret']['secretName']}", key
    raise AssertionError(f"{deployment}: nothing mounted at {path}")


def policy_of(objects: list[charts.Obj], deployment: str) -> AuthorizationPolicy:
    """The policy the service loads: the file its env names, from what is mounted there."""
    env = env_of(objects, deployment)
    source, key = mounted_file(objects, deployment, env["TRADEMESH_AUTHZ_POLICY_FILE"])
    kind, name = source.split(":")
    assert kind == "ConfigMap"
    text = charts.named(objects, "ConfigMap", name)["data"][key]
    return AuthorizationPolicy.from_mapping(yaml.safe_load(text), env["TRADEMESH_AUTHZ_NAMESPACE"])


def identity_of(objects: list[charts.Obj], release: str, service: str) -> str:
    (uri,) = charts.named(objects, "Certificate", f"{release}-{service}")["spec"]["uris"]
    return uri


@pytest.mark.parametrize("release", ["trademesh", "trademesh-green"])
def test_every_service_reads_the_policy_naming_the_identities_of_its_release(
    render: Render, release: str
):
    objects = render(release=release, namespace="prod")
    gateway = identity_of(objects, release, "gateway")
    assert gateway == f"spiffe://trademesh.local/ns/prod/sa/{release}-gateway"
    repository = AuthorizationPolicy.load(POLICY_FILE, namespace="prod")
    for service in SERVICES:
        policy = policy_of(objects, f"{release}-{service}")
        # The same rules as the services' built-in copy, for this release's identities.
        assert set(policy.rules) == set(repository.rules)
        for method in policy.rules:
            if method.endswith("/*") or method == ROTATE_KEY:
                continue
            assert policy.decide(method, gateway) is None, (service, method)
        assert policy.decide(ROTATE_KEY, gateway) is not None
        for other in SERVICES:
            if other != "gateway":
                denied = policy.decide(PLACE_ORDER, identity_of(objects, release, other))
                assert denied is not None and "may not call" in denied


def test_the_policy_grants_no_call_the_charts_call_graph_does_not_allow():
    # The policy and each chart's callers.grpc (its NetworkPolicy, and the service mesh's
    # authorization) must tell the same story: a grant the network forbids is a mistake.
    policy = AuthorizationPolicy.load(POLICY_FILE, namespace="trademesh")
    prefix = "spiffe://trademesh.local/ns/trademesh/sa/"
    for method, callers in policy.rules.items():
        area = method.split(".")[1]  # /trademesh.<area>.v1.Service/Method
        if area not in SERVICES:
            continue  # grpc.health: any peer
        values = yaml.safe_load((charts.CHARTS_DIR / area / "values.yaml").read_text())
        allowed = set(values["callers"]["grpc"])
        named = {caller.removeprefix(prefix) for caller in callers if caller != "*"}
        assert named <= allowed, f"{method}: {sorted(named - allowed)} not in {area}'s callers"


def test_a_service_account_and_trust_domain_of_your_own_are_followed(render: Render):
    objects = render(
        sets=[
            "gateway.serviceAccount.name=edge",
            "global.certManager.trustDomain=example.org",
        ]
    )
    gateway = identity_of(objects, "trademesh", "gateway")
    assert gateway == "spiffe://example.org/ns/trademesh/sa/edge"
    assert policy_of(objects, "trademesh-order").decide(PLACE_ORDER, gateway) is None


def test_without_cert_manager_your_own_secrets_keep_mutual_tls_and_the_policy(render: Render):
    objects = render([ci_values("existing-secrets")])
    assert charts.of_kind(objects, "Certificate") == []
    assert charts.of_kind(objects, "Issuer") == []
    for service in SERVICES:
        deployment = f"trademesh-{service}"
        env = env_of(objects, deployment)
        for variable, key in (
            ("TRADEMESH_TLS_CERT_FILE", "tls.crt"),
            ("TRADEMESH_TLS_KEY_FILE", "tls.key"),
            ("TRADEMESH_TLS_CA_FILE", "ca.crt"),
        ):
            assert mounted_file(objects, deployment, env[variable]) == (
                f"Secret:{deployment}-tls",
                key,
            )
        assert policy_of(objects, deployment).rules


def test_with_tls_off_there_is_no_policy_to_mount(render: Render):
    objects = render([ci_values("no-cert-manager")])
    names = [obj["metadata"]["name"] for obj in charts.of_kind(objects, "ConfigMap")]
    assert "trademesh-authz-policy" not in names
    for service in SERVICES:
        env = env_of(objects, f"trademesh-{service}")
        assert "TRADEMESH_TLS_CERT_FILE" not in env
        assert "TRADEMESH_AUTHZ_POLICY_FILE" not in env


MESH = ["global.certManager.enabled=false"]


def test_under_istio_only_the_gateway_reaches_the_services_grpc(render: Render):
    objects = render(sets=[*MESH, "global.serviceMesh.provider=istio"])
    policies = {p["metadata"]["name"]: p for p in charts.of_kind(objects, "AuthorizationPolicy")}
    assert set(policies) == {f"trademesh-{s}" for s in SERVICES if s != "gateway"}
    for name, policy in policies.items():
        grpc_rules = [rule for rule in policy["spec"]["rules"] if "from" in rule]
        gateway = "cluster.local/ns/trademesh/sa/trademesh-gateway"
        assert grpc_rules == [
            {
                "from": [{"source": {"principals": [gateway]}}],
                "to": [{"operation": {"ports": ["50051"]}}],
            }
        ], name
    (strict,) = charts.of_kind(objects, "PeerAuthentication")
    assert strict["spec"]["mtls"] == {"mode": "STRICT"}
    for service in SERVICES:
        labels = charts.named(objects, "Deployment", f"trademesh-{service}")["spec"]["template"][
            "metadata"
        ]["labels"]
        assert labels["sidecar.istio.io/inject"] == "true"
        assert charts.selects(strict["spec"]["selector"], labels)
        assert "TRADEMESH_TLS_CERT_FILE" not in env_of(objects, f"trademesh-{service}")


@pytest.mark.parametrize("app_tls", [False, True])
def test_under_linkerd_only_the_gateway_identity_is_authorized(render: Render, app_tls: bool):
    sets = ["global.serviceMesh.provider=linkerd"] + ([] if app_tls else MESH)
    objects = render(sets=sets)
    for service in SERVICES:
        deployment = f"trademesh-{service}"
        annotations = charts.named(objects, "Deployment", deployment)["spec"]["template"][
            "metadata"
        ]["annotations"]
        assert annotations["linkerd.io/inject"] == "enabled"
        if service == "gateway":
            continue
        # The application's own TLS passes through the proxy untouched.
        assert (annotations.get("config.linkerd.io/opaque-ports") == "50051") is app_tls
        server = charts.named(objects, "Server", f"{deployment}-grpc")
        assert server["spec"]["proxyProtocol"] == ("opaque" if app_tls else "gRPC")
        authn = charts.named(objects, "MeshTLSAuthentication", f"{deployment}-callers")
        assert authn["spec"]["identities"] == [
            "trademesh-gateway.trademesh.serviceaccount.identity.linkerd.cluster.local"
        ]
        policy = charts.named(objects, "AuthorizationPolicy", f"{deployment}-grpc")
        assert policy["spec"]["targetRef"]["name"] == server["metadata"]["name"]

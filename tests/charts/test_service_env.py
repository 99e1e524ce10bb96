"""Each service chart sets what its service reads: the environment rendered for a service's
pods (and its migration job) against the fields of the service's Settings class, so a
renamed setting, a typo in a chart or a dependency the chart forgot fails here."""

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from trademesh_auth.settings import AuthSettings
from trademesh_common.authz import NAMESPACE_ENV, POLICY_FILE_ENV
from trademesh_devstack import charts
from trademesh_devstack.charts import Render
from trademesh_gateway.settings import GatewaySettings
from trademesh_market.settings import MarketSettings
from trademesh_matching.settings import MatchingSettings
from trademesh_news.settings import NewsSettings
from trademesh_order.settings import OrderSettings
from trademesh_social.settings import SocialSettings

pytestmark = pytest.mark.kube

# The simulator has no Settings: it is a command line (python -m trademesh_simulator --help).
SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "auth": AuthSettings,
    "order": OrderSettings,
    "matching": MatchingSettings,
    "market": MarketSettings,
    "social": SocialSettings,
    "news": NewsSettings,
}
# Set by the charts for the OpenTelemetry SDK and for the gRPC authorization interceptor
# (trademesh_common.authz reads its two variables itself), not for the service's settings.
NOT_SETTINGS = {"OTEL_RESOURCE_ATTRIBUTES", POLICY_FILE_ENV, NAMESPACE_ENV}
LOOPBACK = ("127.0.0.1", "localhost")
ROOT = Path(__file__).resolve().parents[2]
SOURCES = {name: ROOT / "services" / name / "src" for name in SETTINGS} | {
    "common": ROOT / "libs" / "common" / "src"
}


def env_names(settings: type[BaseSettings]) -> dict[str, str]:
    """Environment variable -> field, nested settings (TLS) under their own prefix."""
    prefix = settings.model_config.get("env_prefix", "")
    names: dict[str, str] = {}
    for field, info in settings.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseSettings):
            names |= {name: f"{field}.{sub}" for name, sub in env_names(nested).items()}
        else:
            names[f"{prefix}{field}".upper()] = field
    return names


def fields_read(service: str) -> set[str]:
    """Settings fields the service's code (or the shared runtime) reads."""
    pattern = re.compile(r"settings\.([a-z_][a-z0-9_]*)")
    found: set[str] = set()
    for folder in (SOURCES[service], SOURCES["common"]):
        for path in folder.rglob("*.py"):
            found |= set(pattern.findall(path.read_text()))
    return found


def must_be_set(service: str, settings: type[BaseSettings]) -> set[str]:
    """Settings whose default is this machine's loopback (right only outside a cluster) and
    that the service reads: a pod left with them would talk to itself."""
    read = fields_read(service)
    return {
        name
        for name, field in env_names(settings).items()
        if "." not in field
        and field in read
        and isinstance(default := settings.model_fields[field].default, str)
        and any(host in default for host in LOOPBACK)
    }


def rendered_env(objects: list[charts.Obj], kind: str, name: str) -> set[str]:
    workload = charts.named(objects, kind, name)
    return {
        entry["name"]
        for container in workload["spec"]["template"]["spec"]["containers"]
        for entry in container.get("env", [])
    }


@pytest.mark.parametrize("values", charts.ci_values_files(), ids=lambda p: p.name)
@pytest.mark.parametrize("service", SETTINGS)
def test_every_variable_a_chart_sets_is_a_setting_of_its_service(render: Render, values, service):
    release = "trademesh-green" if values.name == "green-values.yaml" else "trademesh"
    objects = render([values], release=release)
    known = set(env_names(SETTINGS[service]))
    workloads = [("Deployment", f"{release}-{service}")]
    jobs = {job["metadata"]["name"] for job in charts.of_kind(objects, "Job")}
    if f"{release}-{service}-migrate" in jobs:
        workloads.append(("Job", f"{release}-{service}-migrate"))
    for kind, name in workloads:
        unknown = rendered_env(objects, kind, name) - known - NOT_SETTINGS
        assert unknown == set(), f"{kind} {name} sets what {service} never reads"


@pytest.mark.parametrize("service", SETTINGS)
def test_every_setting_a_service_reads_with_a_loopback_default_is_set(render: Render, service):
    objects = render()
    settings = SETTINGS[service]
    missing = must_be_set(service, settings) - rendered_env(
        objects, "Deployment", f"trademesh-{service}"
    )
    assert missing == set(), f"{service} would use its loopback default for {sorted(missing)}"


def test_the_rule_sees_each_services_dependencies():
    # The rule above is only as good as this reading of the sources.
    assert "postgres_dsn" in fields_read("auth")
    social = must_be_set("social", SocialSettings)
    assert {"TRADEMESH_REDIS_URL", "TRADEMESH_POSTGRES_DSN"} <= social
    gateway = must_be_set("gateway", GatewaySettings)
    for backend in ("AUTH", "ORDER", "MATCHING", "MARKET", "SOCIAL", "NEWS"):
        assert f"TRADEMESH_{backend}_TARGET" in gateway


def effective(objects: list[charts.Obj], service: str, field: str) -> object:
    """A setting's value in the rendered pod: its env value, else the Settings default."""
    deployment = charts.named(objects, "Deployment", f"trademesh-{service}")
    env = {
        entry["name"]: entry.get("value")
        for entry in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    return env.get(f"TRADEMESH_{field.upper()}", SETTINGS[service].model_fields[field].default)


@pytest.mark.parametrize("field", ["jwt_issuer", "jwt_audience"])
def test_the_gateway_accepts_the_tokens_auth_issues(render: Render, field):
    objects = render()
    assert effective(objects, "gateway", field) == effective(objects, "auth", field)

"""values.schema.json: one schema for every service chart, and helm refusing values that
break it with a message naming the field."""

from pathlib import Path

import pytest

from trademesh_devstack import charts

pytestmark = pytest.mark.kube


def test_every_service_chart_carries_the_one_service_schema():
    source = (charts.CHARTS_DIR / "service-values.schema.json").read_text()
    service_charts = charts.service_charts()
    assert [c.name for c in service_charts] == sorted(
        ["gateway", "auth", "order", "matching", "market", "social", "news", "simulator"]
    )
    for chart in service_charts:
        assert (chart / "values.schema.json").read_text() == source, (
            f"{chart.name}: run scripts/sync-chart-schemas"
        )


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("global.color=purple", "color"),
        ("liveService.activeColor=teal", "activeColor"),
        ("global.kafka.external.enabled=yes", "enabled"),
        ("order.replicaCount=-1", "replicaCount"),
        ("order.replicas=3", "replicas"),
        ("gateway.securityContext.privileged=true", "privileged"),
        ("matching.ports.grpc=9000", "grpc"),
        ("auth.callers.grpc[0]=internet", "grpc"),
        ("kafka.topics.partitions.orders=0", "orders"),
    ],
)
def test_schema_invalid_values_are_refused_with_the_field_named(
    helm: Path, built_charts: Path, setting: str, named: str
):
    proc = charts.template(helm, "--set", setting)
    assert proc.returncode != 0, f"{setting} was accepted"
    assert "values don't meet the specifications of the schema" in proc.stderr
    assert named in proc.stderr, proc.stderr


def test_external_postgres_without_its_secret_is_refused_clearly(helm: Path, built_charts: Path):
    proc = charts.template(helm, "--set", "global.postgres.external.enabled=true")
    assert proc.returncode != 0
    assert "/global/postgres/external/existingSecret" in proc.stderr, proc.stderr

"""Fixtures for the chart tests: helm (built by the devstack installer), the charts with
their file:// dependencies packaged, and renders of the umbrella for each values file in
charts/trademesh/ci/."""

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from trademesh_devstack import charts
from trademesh_devstack.kube import KubeClient

RESTRICTED = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
}


@pytest.fixture(scope="session")
def render(helm: Path, built_charts: Path) -> charts.Render:
    cache: dict[tuple[object, ...], list[charts.Obj]] = {}

    def rendered(
        values: Sequence[Path] = (),
        sets: Sequence[str] = (),
        release: str = "trademesh",
        namespace: str = "trademesh",
    ) -> list[charts.Obj]:
        key = (tuple(values), tuple(sets), release, namespace)
        if key not in cache:
            cache[key] = charts.render(
                helm, release=release, namespace=namespace, values=values, sets=sets
            )
        return cache[key]

    return rendered


@pytest.fixture(scope="module")
def kube(kube_api: KubeClient) -> KubeClient:
    """The API server with every CRD the charts render objects of."""
    kube_api.install_crds()
    # The charts' own CRDs (the operator's), which `helm template` does not render.
    files = [arg for path in charts.chart_crds() for arg in ("-f", str(path))]
    kube_api.kubectl("apply", "--server-side", "--force-conflicts", *files)
    kube_api.kubectl("wait", "--for=condition=Established", "--timeout=120s", *files)
    return kube_api


def make_namespace(kube: KubeClient, prefix: str) -> str:
    """A fresh namespace enforcing "restricted" (nothing deletes one here: no controllers)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    )
    return name

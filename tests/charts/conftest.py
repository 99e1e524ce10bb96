"""Fixtures for the chart tests: helm (built by the devstack installer), the charts with
their file:// dependencies packaged, and renders of the umbrella for each values file in
charts/trademesh/ci/."""

from collections.abc import Sequence
from pathlib import Path

import pytest

from trademesh_devstack import charts


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

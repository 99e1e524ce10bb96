"""`helm lint --strict` of every chart, and of the umbrella with each of its ci values."""

from pathlib import Path

import pytest

from trademesh_devstack import charts

pytestmark = pytest.mark.kube

CHARTS = sorted(p.parent for p in charts.CHARTS_DIR.glob("*/Chart.yaml"))


@pytest.mark.parametrize("chart", CHARTS, ids=lambda p: p.name)
def test_lint_strict(helm: Path, built_charts: Path, chart: Path):
    proc = charts.helm_lint(helm, chart)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("values", charts.ci_values_files(), ids=lambda p: p.name)
def test_lint_strict_with_ci_values(helm: Path, built_charts: Path, values: Path):
    proc = charts.helm_lint(helm, charts.UMBRELLA, values)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""What the generator makes of a spec: windows, thresholds, and the test-only time scale."""

from pathlib import Path

import pytest

from trademesh_observability import slo

SPEC = """
slo: demo-availability
service: demo
status: live
objective: 0.995
window: 30d
description: Demo.
sli:
  type: ratio
  metric: demo_requests_total
  selector: {route: /x}
  bad: {status: 5..}
  examples: {good: {status: "200"}, bad: {status: "500"}}
"""


@pytest.fixture
def spec(tmp_path: Path) -> slo.Slo:
    path = tmp_path / "demo.yaml"
    path.write_text(SPEC)
    return slo.load(path)


def _rules(spec: slo.Slo, time_scale: int = 1) -> list[dict]:
    return slo.rule_groups(spec, time_scale)["groups"][0]["rules"]


def test_alerts_use_the_workbook_windows_and_factors(spec):
    alerts = {
        (r["labels"]["long_window"], r["labels"]["short_window"]): r
        for r in _rules(spec)
        if "alert" in r
    }
    assert set(alerts) == {("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")}
    assert "> (14.4 * 0.005)" in alerts[("1h", "5m")]["expr"]
    assert "> (6.0 * 0.005)" in alerts[("6h", "30m")]["expr"]
    assert "> (3.0 * 0.005)" in alerts[("1d", "2h")]["expr"]
    assert "> (1.0 * 0.005)" in alerts[("3d", "6h")]["expr"]
    assert alerts[("1h", "5m")]["alert"] == "DemoAvailabilityBurnRatePage"
    assert alerts[("3d", "6h")]["labels"]["severity"] == "ticket"


def test_ratio_counts_no_failures_as_zero_not_as_no_data(spec):
    ratio = next(r for r in _rules(spec) if r["record"] == "slo:sli_error:ratio_rate5m")
    assert 'status=~"5.."' in ratio["expr"]
    assert "or vector(0)" in ratio["expr"]


def test_time_scale_shortens_every_window_and_for(spec):
    rules = _rules(spec, time_scale=60)
    ratio_1h = next(r for r in rules if r.get("record") == "slo:sli_error:ratio_rate1h")
    assert "[1m]" in ratio_1h["expr"]
    page = next(r for r in rules if r.get("alert") and r["labels"]["long_window"] == "1h")
    assert page["for"] == "2s"
    assert "TEST ONLY" in slo.render(spec, 60)


def test_bad_specs_are_refused_with_the_reason(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace("objective: 0.995", "objective: 99.5"))
    with pytest.raises(ValueError, match="objective must be a ratio"):
        slo.load(path)

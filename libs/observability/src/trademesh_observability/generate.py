"""Every generated observability file, by path relative to the repository root.

The rules and dashboards go to `observability/` (read by people, promtool and
the tests) and to the umbrella chart's `files/`, which renders them into
PrometheusRule objects and Grafana sidecar ConfigMaps; the collector
configuration is copied there too.
"""

from __future__ import annotations

from pathlib import Path

from trademesh_observability import dashboards, rule_tests, slo

SLO_DIR = Path("observability/slos")
RULES_DIR = Path("observability/rules")
RULE_TESTS_DIR = RULES_DIR / "tests"
DASHBOARDS_DIR = Path("observability/dashboards")
COLLECTOR_CONFIG = Path("observability/collector/otel-collector.yaml")
CHART_FILES = Path("charts/trademesh/files")


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest directory above `start` holding the SLO specs."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / SLO_DIR).is_dir():
            return candidate
    raise FileNotFoundError(f"no {SLO_DIR} above {here}")


def rule_file_name(spec: slo.Slo) -> str:
    return f"{spec.name}.rules.yaml"


def generated_files(root: Path) -> dict[Path, str]:
    files: dict[Path, str] = {}
    for spec in slo.load_all(root / SLO_DIR):
        rules = slo.render(spec)
        files[RULES_DIR / rule_file_name(spec)] = rules
        files[CHART_FILES / "rules" / rule_file_name(spec)] = rules
        # promtool resolves rule_files relative to the test file.
        for suite in rule_tests.SUITES:
            files[RULE_TESTS_DIR / rule_tests.test_file_name(spec, suite)] = rule_tests.render(
                spec, suite, f"../{rule_file_name(spec)}"
            )
    for name in dashboards.DASHBOARDS:
        body = dashboards.render(name)
        files[DASHBOARDS_DIR / f"{name}.json"] = body
        files[CHART_FILES / "dashboards" / f"{name}.json"] = body
    # Hand-written, copied for the chart (a chart cannot read files outside itself).
    files[CHART_FILES / "collector" / COLLECTOR_CONFIG.name] = (root / COLLECTOR_CONFIG).read_text()
    return files


def managed_dirs() -> list[Path]:
    return [
        RULES_DIR,
        RULE_TESTS_DIR,
        DASHBOARDS_DIR,
        CHART_FILES / "rules",
        CHART_FILES / "dashboards",
        CHART_FILES / "collector",
    ]


def stale_files(root: Path) -> list[Path]:
    """Generated files missing or different on disk, and leftovers nobody generates."""
    wanted = generated_files(root)
    stale = [
        path
        for path, body in wanted.items()
        if not (root / path).is_file() or (root / path).read_text() != body
    ]
    for directory in managed_dirs():
        for path in sorted((root / directory).glob("*.*")):
            relative = path.relative_to(root)
            if path.is_file() and relative not in wanted:
                stale.append(relative)
    return stale


def write(root: Path) -> list[Path]:
    """Writes what changed and removes leftovers; returns the paths touched."""
    touched = stale_files(root)
    wanted = generated_files(root)
    for path in touched:
        target = root / path
        if path in wanted:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(wanted[path])
        else:
            target.unlink()
    return touched


def write_scaled_rules(root: Path, directory: Path, time_scale: int) -> list[Path]:
    """Test-only rules with every window divided by `time_scale`, for a live Prometheus."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in slo.load_all(root / SLO_DIR):
        path = directory / rule_file_name(spec)
        path.write_text(slo.render(spec, time_scale))
        written.append(path)
    return written

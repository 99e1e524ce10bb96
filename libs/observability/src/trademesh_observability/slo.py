"""SLO specs (observability/slos/*.yaml) to Prometheus recording rules and
multi-window multi-burn-rate alerts, after the Google SRE workbook.

Every SLO gets its error ratio recorded over each window the alerts need
(`slo:sli_error:ratio_rate<window>`), its objective and error budget, and
the budget left over the SLO window. Alerts, per SLO: `<Slo>BurnRatePage` on
1h/5m at 14.4x and on 6h/30m at 6x the budget burn rate, `<Slo>BurnRateTicket`
on 1d/2h at 3x and on 3d/6h at 1x (the windows are labels of the alert). A
long window proves the burn is real, its short window that it is still going
on (the alert resets soon after the fault is fixed).

`time_scale` divides every window and `for` duration: a test-only variant
lets a real Prometheus walk through an hour of burn in a minute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

SliType = Literal["ratio", "latency"]
Status = Literal["live", "planned"]

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class BurnAlert:
    severity: Literal["page", "ticket"]
    long_window: str
    short_window: str
    factor: float
    for_: str


BURN_ALERTS = (
    BurnAlert("page", "1h", "5m", 14.4, "2m"),
    BurnAlert("page", "6h", "30m", 6.0, "2m"),
    BurnAlert("ticket", "1d", "2h", 3.0, "15m"),
    BurnAlert("ticket", "3d", "6h", 1.0, "15m"),
)


def seconds(duration: str) -> int:
    match = _DURATION.match(duration)
    if match is None:
        raise ValueError(f"not a duration like 5m, 1h or 30d: {duration!r}")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def duration(total_seconds: int) -> str:
    """The shortest Prometheus duration for a whole number of seconds."""
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if total_seconds % size == 0:
            return f"{total_seconds // size}{unit}"
    return f"{total_seconds}s"


def scaled(window: str, time_scale: int) -> str:
    total = seconds(window)
    if total % time_scale:
        raise ValueError(f"{window} is not a whole number of seconds divided by {time_scale}")
    return duration(total // time_scale)


@dataclass(frozen=True)
class Slo:
    name: str
    service: str
    status: Status
    objective: float
    window: str
    description: str
    sli_type: SliType
    metric: str
    selector: dict[str, str]
    # ratio SLIs: regex matchers picking the bad events among the selected ones
    bad: dict[str, str] = field(default_factory=dict)
    # ratio SLIs: label values of a good and a bad series, for synthetic test data
    examples: dict[str, dict[str, str]] = field(default_factory=dict)
    # latency SLIs: the histogram bucket bound, as written in the `le` label
    threshold: str = ""
    source: str = ""

    @property
    def error_budget(self) -> float:
        return round(1.0 - self.objective, 10)

    @property
    def camel_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))

    def windows(self) -> list[str]:
        """Every window a rule needs: the alerts' and the SLO's own."""
        found = {w for alert in BURN_ALERTS for w in (alert.long_window, alert.short_window)}
        return sorted({*found, self.window}, key=seconds)


def _matchers(equal: dict[str, str], regex: dict[str, str] | None = None) -> str:
    parts = [f'{key}="{value}"' for key, value in equal.items()]
    parts += [f'{key}=~"{value}"' for key, value in (regex or {}).items()]
    return "{" + ",".join(parts) + "}" if parts else ""


def load(path: Path) -> Slo:
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    sli = raw["sli"]
    slo = Slo(
        name=raw["slo"],
        service=raw["service"],
        status=raw["status"],
        objective=float(raw["objective"]),
        window=raw["window"],
        description=raw["description"],
        sli_type=sli["type"],
        metric=sli["metric"],
        selector={k: str(v) for k, v in (sli.get("selector") or {}).items()},
        bad={k: str(v) for k, v in (sli.get("bad") or {}).items()},
        examples=sli.get("examples") or {},
        threshold=str(sli.get("threshold", "")),
        source=path.name,
    )
    _validate(slo)
    return slo


def _validate(slo: Slo) -> None:
    problems = []
    if not re.fullmatch(r"[a-z][a-z0-9-]*", slo.name):
        problems.append("slo must be lower-case words joined by dashes")
    if not 0.5 <= slo.objective < 1.0:
        problems.append("objective must be a ratio in [0.5, 1), e.g. 0.999")
    if slo.status not in ("live", "planned"):
        problems.append("status must be live or planned")
    seconds(slo.window)
    if slo.sli_type == "ratio":
        if not slo.bad:
            problems.append("a ratio SLI needs `bad` matchers")
        if set(slo.examples) != {"good", "bad"}:
            problems.append("a ratio SLI needs `examples` with good and bad label values")
    elif slo.sli_type == "latency":
        try:
            float(slo.threshold)
        except ValueError:
            problems.append("a latency SLI needs a numeric `threshold` (the `le` bucket bound)")
    else:
        problems.append("sli.type must be ratio or latency")
    if problems:
        raise ValueError(f"{slo.source}: " + "; ".join(problems))


def load_all(directory: Path) -> list[Slo]:
    slos = [load(path) for path in sorted(directory.glob("*.yaml"))]
    names = [slo.name for slo in slos]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate SLO names in {directory}")
    return slos


def error_ratio_expr(slo: Slo, window: str) -> str:
    if slo.sli_type == "ratio":
        total = f"sum(rate({slo.metric}{_matchers(slo.selector)}[{window}]))"
        bad = f"sum(rate({slo.metric}{_matchers(slo.selector, slo.bad)}[{window}]))"
        # No bad series at all (nothing ever failed) means a ratio of 0, not no data.
        return f"({bad} or vector(0))\n/\n{total}"
    total = f"sum(rate({slo.metric}_count{_matchers(slo.selector)}[{window}]))"
    good_selector = _matchers({**slo.selector, "le": slo.threshold})
    good = f"sum(rate({slo.metric}_bucket{good_selector}[{window}]))"
    return f"({total} - {good})\n/\n{total}"


def _labels(slo: Slo) -> dict[str, str]:
    return {"slo": slo.name, "service": slo.service}


def alert_name(slo: Slo, severity: str) -> str:
    return f"{slo.camel_name}BurnRate{severity.capitalize()}"


def ratio_record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def rule_groups(slo: Slo, time_scale: int = 1) -> dict[str, Any]:
    """One Prometheus rule file (also a PrometheusRule's `spec`) for one SLO."""
    labels = _labels(slo)
    selector = _matchers({"slo": slo.name})
    records: list[dict[str, Any]] = [
        {
            "record": ratio_record(window),
            "expr": error_ratio_expr(slo, scaled(window, time_scale)),
            "labels": labels,
        }
        for window in slo.windows()
    ]
    records += [
        {"record": "slo:objective:ratio", "expr": f"vector({slo.objective})", "labels": labels},
        {
            "record": "slo:error_budget:ratio",
            "expr": f"vector({slo.error_budget})",
            "labels": labels,
        },
        {
            "record": "slo:error_budget_remaining:ratio",
            "expr": f"1 - {ratio_record(slo.window)}{selector} / {slo.error_budget}",
            "labels": labels,
        },
    ]
    alerts = []
    for burn in BURN_ALERTS:
        threshold = f"({burn.factor} * {slo.error_budget})"
        alerts.append(
            {
                "alert": alert_name(slo, burn.severity),
                "expr": (
                    f"{ratio_record(burn.long_window)}{selector} > {threshold}\n"
                    f"and\n{ratio_record(burn.short_window)}{selector} > {threshold}"
                ),
                "for": scaled(burn.for_, time_scale) if burn.for_ else "0s",
                "labels": {
                    **labels,
                    "severity": burn.severity,
                    "long_window": burn.long_window,
                    "short_window": burn.short_window,
                },
                "annotations": {
                    "summary": (
                        f"{slo.name}: error budget burning at {burn.factor}x or faster"
                        f" over {burn.long_window} and {burn.short_window}"
                    ),
                    "description": (
                        f"{slo.description} Objective {slo.objective:.4%} over {slo.window}."
                    ),
                    "dashboard": "trademesh-slo-overview",
                },
            }
        )
    # One group: its rules are evaluated in order, so the alerts always read the
    # ratios recorded in the same evaluation (separate groups run in any order).
    return {"groups": [{"name": f"slo:{slo.name}", "rules": records + alerts}]}


def render(slo: Slo, time_scale: int = 1) -> str:
    header = (
        f"# Generated from observability/slos/{slo.source} by `python -m trademesh_observability"
        " generate`.\n# Do not edit: change the spec and generate again.\n"
    )
    if time_scale != 1:
        header += f"# TEST ONLY: every window divided by {time_scale}.\n"
    body = yaml.safe_dump(rule_groups(slo, time_scale), sort_keys=False, width=100)
    return header + body

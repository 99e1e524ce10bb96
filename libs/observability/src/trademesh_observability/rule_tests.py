"""`promtool test rules` files for the generated SLO rules.

Each scenario feeds an SLO's metric 100 events a minute: a clean history
(so the windows under test are full), then an error ratio of `burn` times the
error budget (burn rate `burn`). Written that way the alert times do not
depend on the objective, and the expectations below are the workbook's
arithmetic done by hand: a long window W at factor F crosses after F/burn * W
of burning, its short window after F/burn of its own length, and the alert
fires `for` later (2m for pages, 15m for tickets).

Pages (6h of history, a sample and an evaluation every minute):
    burn 20: 1h/5m after 43m, 6h/30m after 108m
    burn 10: 1h/5m never (10 < 14.4), 6h/30m after 216m
    burn 0.9 for 6h: nothing
    burn 20 for an hour, then fixed: 1h/5m fires, and resets once its 5m window
        is clean although the 1h window is still over the threshold
Tickets (3 days of history, every 10 minutes: a 3d window at one-minute
resolution takes promtool minutes):
    burn 20: 1d/2h and 3d/6h after 216m
    burn 10: both after 432m
    burn 2: only 3d/6h, after 36h (1d/2h never: 2 < 3)
    burn 0.9 for a day: nothing

Checks sit well clear of each crossing: Prometheus extrapolates rates at the
edges of a window by up to one sample interval, and the evaluation step adds
up to one more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from trademesh_observability.slo import Slo, alert_name, rule_groups

EVENTS_PER_MINUTE = 100.0

PAGE_1H = ("page", "1h")
PAGE_6H = ("page", "6h")
TICKET_1D = ("ticket", "1d")
TICKET_3D = ("ticket", "3d")


@dataclass(frozen=True)
class Phase:
    minutes: int
    burn: float


@dataclass(frozen=True)
class Scenario:
    name: str
    phases: tuple[Phase, ...]
    # minutes after the clean history -> the alerts firing then: (severity, long window)
    expect: dict[int, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Suite:
    severity: str
    history_minutes: int
    step_minutes: int
    scenarios: tuple[Scenario, ...]


PAGE = Suite(
    "page",
    history_minutes=6 * 60,
    step_minutes=1,
    scenarios=(
        Scenario(
            "burn 20x pages on 1h/5m within the hour, then on 6h/30m",
            (Phase(130, 20),),
            {0: (), 40: (), 50: (PAGE_1H,), 100: (PAGE_1H,), 125: (PAGE_1H, PAGE_6H)},
        ),
        Scenario(
            "burn 10x pages on 6h/30m only",
            (Phase(300, 10),),
            {180: (), 230: (PAGE_6H,), 300: (PAGE_6H,)},
        ),
        Scenario("burn 0.9x for 6h stays quiet", (Phase(360, 0.9),), {120: (), 360: ()}),
        Scenario(
            "burn 20x for an hour then fixed: the page resets with its short window",
            (Phase(60, 20), Phase(30, 0)),
            {55: (PAGE_1H,), 75: ()},
        ),
    ),
)
TICKET = Suite(
    "ticket",
    history_minutes=3 * 24 * 60,
    step_minutes=10,
    scenarios=(
        Scenario(
            "burn 20x opens both tickets after 216m",
            (Phase(300, 20),),
            {180: (), 270: (TICKET_1D, TICKET_3D)},
        ),
        Scenario(
            "burn 10x opens both tickets after 432m",
            (Phase(500, 10),),
            {400: (), 480: (TICKET_1D, TICKET_3D)},
        ),
        Scenario(
            "burn 2x opens only the 3d/6h ticket, after 36h",
            (Phase(38 * 60, 2),),
            {20 * 60: (), 35 * 60: (), 37 * 60: (TICKET_3D,)},
        ),
        Scenario("burn 0.9x for a day stays quiet", (Phase(24 * 60, 0.9),), {24 * 60: ()}),
    ),
)
SUITES = (PAGE, TICKET)


def _counter(phases: list[tuple[int, float]], step: int) -> str:
    """promtool's expanding notation: a counter growing by `per_minute`, sampled every `step`."""
    segments, value = [], 0.0
    for minutes, per_minute in phases:
        increment = per_minute * step
        samples = minutes // step
        segments.append(f"{_num(value)}+{_num(increment)}x{samples - 1}")
        value += increment * samples
    return " ".join(segments)


def _num(value: float) -> str:
    return f"{round(value, 6):g}"


def _series_name(metric: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{metric}{{{inner}}}"


def input_series(slo: Slo, suite: Suite, scenario: Scenario) -> list[dict[str, str]]:
    timeline = [(suite.history_minutes, 0.0)] + [(p.minutes, p.burn) for p in scenario.phases]
    bad = [(m, EVENTS_PER_MINUTE * burn * slo.error_budget) for m, burn in timeline]
    good = [(m, EVENTS_PER_MINUTE - b) for m, b in bad]
    total = [(m, EVENTS_PER_MINUTE) for m, _ in timeline]
    step = suite.step_minutes
    if slo.sli_type == "ratio":
        return [
            {
                "series": _series_name(slo.metric, {**slo.selector, **slo.examples["good"]}),
                "values": _counter(good, step),
            },
            {
                "series": _series_name(slo.metric, {**slo.selector, **slo.examples["bad"]}),
                "values": _counter(bad, step),
            },
        ]
    bucket = {**slo.selector, "le": slo.threshold}
    return [
        {
            "series": _series_name(f"{slo.metric}_count", slo.selector),
            "values": _counter(total, step),
        },
        {"series": _series_name(f"{slo.metric}_bucket", bucket), "values": _counter(good, step)},
    ]


def _alert_rules(slo: Slo) -> dict[tuple[str, str], dict[str, Any]]:
    rules = rule_groups(slo)["groups"][0]["rules"]
    return {
        (rule["labels"]["severity"], rule["labels"]["long_window"]): rule
        for rule in rules
        if "alert" in rule
    }


def _ratio_check(slo: Slo) -> dict[str, Any]:
    """The recorded 1h ratio two hours into a 20x burn is 20 times the error budget."""
    labels = f'{{slo="{slo.name}"}}'
    return {
        "expr": (
            f"round(slo:sli_error:ratio_rate1h{labels} / slo:error_budget:ratio{labels}, 0.001)"
        ),
        "eval_time": f"{PAGE.history_minutes + 120}m",
        "exp_samples": [{"labels": f'{{service="{slo.service}",slo="{slo.name}"}}', "value": 20}],
    }


def unit_tests(slo: Slo, suite: Suite, rule_file: str) -> dict[str, Any]:
    rules = _alert_rules(slo)
    tests = []
    for scenario in suite.scenarios:
        test: dict[str, Any] = {
            "name": f"{slo.name}: {scenario.name}",
            "interval": f"{suite.step_minutes}m",
            "input_series": input_series(slo, suite, scenario),
            "alert_rule_test": [
                {
                    "eval_time": f"{suite.history_minutes + minute}m",
                    "alertname": alert_name(slo, suite.severity),
                    "exp_alerts": [
                        {
                            "exp_labels": rules[key]["labels"],
                            "exp_annotations": rules[key]["annotations"],
                        }
                        for key in firing
                    ],
                }
                for minute, firing in scenario.expect.items()
            ],
        }
        if scenario is PAGE.scenarios[0]:
            test["promql_expr_test"] = [_ratio_check(slo)]
        tests.append(test)
    return {
        "rule_files": [rule_file],
        "evaluation_interval": f"{suite.step_minutes}m",
        "tests": tests,
    }


def test_file_name(slo: Slo, suite: Suite) -> str:
    return f"{slo.name}.{suite.severity}.test.yaml"


def render(slo: Slo, suite: Suite, rule_file: str) -> str:
    header = (
        f"# Generated from observability/slos/{slo.source} by `python -m trademesh_observability"
        " generate`:\n# the scenarios and their expected alerts are in"
        " trademesh_observability/rule_tests.py.\n"
    )
    return header + yaml.safe_dump(unit_tests(slo, suite, rule_file), sort_keys=False, width=100)

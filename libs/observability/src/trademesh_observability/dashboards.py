"""Grafana dashboards as code (grafana-foundation-sdk), rendered to JSON.

Every panel queries the Prometheus data source picked by the `datasource`
template variable, so one JSON works in any Grafana. Queries use Grafana's
`$__rate_interval`; the integration test substitutes a window of its own.
Metrics of services not written yet (the autoscaler operator) start with a
prefix in PLANNED_METRIC_PREFIXES: their panels stay empty until it exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
)

PLANNED_METRIC_PREFIXES = ("trademesh_autoscaler_",)

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
Query = tuple[str, str]  # (PromQL, legend)


def _datasource_variable() -> db.DatasourceVariable:
    return (
        db.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(VariableOption(text="Prometheus", value="prometheus", selected=True))
    )


def _query_variable(name: str, label: str, query: str) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(DATASOURCE)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(text="All", value="$__all", selected=True))
    )


def _targets(
    panel: timeseries.Panel | stat.Panel, queries: Sequence[Query], exemplars: bool = False
) -> None:
    for index, (expr, legend) in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .expr(expr)
            .legend_format(legend)
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
        )
        if exemplars:
            target = target.exemplar(True)
        panel.with_target(target)


def _timeseries(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    *,
    exemplars: bool = False,
    width: int = 12,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(8)
    )
    _targets(panel, queries, exemplars)
    return panel


def _stat(title: str, description: str, queries: Sequence[Query], unit: str) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(8)
        .height(6)
    )
    _targets(panel, queries)
    return panel


def _dashboard(uid: str, title: str, description: str) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["trademesh"])
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("utc")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(_datasource_variable())
    )


def _rate(counter: str, by: str) -> str:
    return f"sum by ({by}) (rate({counter}[{RATE}]))"


def _p(quantile: float, histogram: str, by: str = "le", selector: str = "") -> str:
    return (
        f"histogram_quantile({quantile}, sum by ({by}) "
        f"(rate({histogram}_bucket{selector}[{RATE}])))"
    )


def slo_overview() -> db.Dashboard:
    selector = '{slo=~"$slo"}'

    def burn(window: str) -> Query:
        return (
            f"slo:sli_error:ratio_rate{window}{selector}"
            f" / on (slo, service) slo:error_budget:ratio{selector}",
            f"{{{{slo}}}} {window}",
        )

    return (
        _dashboard(
            "trademesh-slo-overview",
            "trademesh / SLO overview",
            "Error budgets and burn rates of every SLO in observability/slos/.",
        )
        .with_variable(_query_variable("slo", "SLO", "label_values(slo:objective:ratio, slo)"))
        .with_row(db.Row("Error budgets"))
        .with_panel(
            _stat(
                "Error budget remaining (SLO window)",
                "1 - error ratio over the SLO window / error budget; below 0 the SLO is missed.",
                [(f"slo:error_budget_remaining:ratio{selector}", "{{slo}}")],
                "percentunit",
            )
        )
        .with_panel(
            _stat(
                "Objective",
                "The target share of good events.",
                [(f"slo:objective:ratio{selector}", "{{slo}}")],
                "percentunit",
            )
        )
        .with_panel(
            _stat(
                "SLI (last hour)",
                "Share of good events over the last hour.",
                [(f"1 - slo:sli_error:ratio_rate1h{selector}", "{{slo}}")],
                "percentunit",
            )
        )
        .with_row(db.Row("Burn rates (1 = spending the budget exactly over the SLO window)"))
        .with_panel(
            _timeseries(
                "Page windows: burn rate 5m, 30m, 1h, 6h",
                "Pages fire at 14.4x (1h and 5m) or 6x (6h and 30m).",
                [burn(w) for w in ("5m", "30m", "1h", "6h")],
                "x",
            )
        )
        .with_panel(
            _timeseries(
                "Ticket windows: burn rate 2h, 1d, 3d",
                "Tickets open at 3x (1d and 2h) or 1x (3d and 6h).",
                [burn(w) for w in ("2h", "1d", "3d")],
                "x",
            )
        )
    )


def red_per_service() -> db.Dashboard:
    http = 'trademesh_http_requests_total{job=~"$job"}'
    grpc = 'trademesh_grpc_server_requests_total{job=~"$job"}'
    http_5xx = 'trademesh_http_requests_total{job=~"$job",status=~"5.."}'
    grpc_failed = 'trademesh_grpc_server_requests_total{job=~"$job",code!="OK"}'
    return (
        _dashboard(
            "trademesh-red",
            "trademesh / RED per service",
            "Rate, errors and duration of every HTTP route and gRPC method.",
        )
        .with_variable(_query_variable("job", "Service", "label_values(up, job)"))
        .with_row(db.Row("HTTP"))
        .with_panel(
            _timeseries(
                "HTTP requests/s by route",
                "Requests per second by service, route template and method.",
                [
                    (
                        f"sum by (job, route, method) (rate({http}[{RATE}]))",
                        "{{job}} {{method}} {{route}}",
                    )
                ],
                "reqps",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "HTTP server errors (5xx ratio)",
                "Share of requests answered 5xx; 0 when nothing failed.",
                [
                    (
                        f"(sum by (job) (rate({http_5xx}[{RATE}]))"
                        f" or sum by (job) (rate({http}[{RATE}])) * 0)"
                        f" / sum by (job) (rate({http}[{RATE}]))",
                        "{{job}}",
                    )
                ],
                "percentunit",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "HTTP p99 latency by route",
                "99th percentile of request handling time.",
                [
                    (
                        _p(
                            0.99,
                            "trademesh_http_request_duration_seconds",
                            "job, route, le",
                            '{job=~"$job"}',
                        ),
                        "{{job}} {{route}}",
                    )
                ],
                "s",
                exemplars=True,
                width=8,
            )
        )
        .with_row(db.Row("gRPC"))
        .with_panel(
            _timeseries(
                "gRPC requests/s by method",
                "Calls per second by service and method.",
                [(f"sum by (job, method) (rate({grpc}[{RATE}]))", "{{job}} {{method}}")],
                "reqps",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "gRPC non-OK/s by method and code",
                "Refusals (INVALID_ARGUMENT, FAILED_PRECONDITION) and failures (INTERNAL, ...).",
                [
                    (
                        f"sum by (job, method, code) (rate({grpc_failed}[{RATE}]))",
                        "{{job}} {{method}} {{code}}",
                    )
                ],
                "reqps",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "gRPC p99 latency by method",
                "99th percentile of handling time.",
                [
                    (
                        _p(
                            0.99,
                            "trademesh_grpc_server_duration_seconds",
                            "job, method, le",
                            '{job=~"$job"}',
                        ),
                        "{{job}} {{method}}",
                    )
                ],
                "s",
                width=8,
            )
        )
    )


def exchange() -> db.Dashboard:
    return (
        _dashboard(
            "trademesh-exchange",
            "trademesh / exchange",
            "Order flow, fills, latency and the books.",
        )
        .with_row(db.Row("Order entry"))
        .with_panel(
            _timeseries(
                "Orders accepted/s by side and type",
                "Orders validated, reserved and queued for matching.",
                [
                    (
                        _rate("trademesh_order_orders_accepted_total", "side, type"),
                        "{{side}} {{type}}",
                    )
                ],
                "ops",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "Orders rejected/s by reason",
                "Refused before matching: a field, price band, cash or position.",
                [
                    (
                        f"sum by (category) (rate(trademesh_order_orders_rejected_total[{RATE}]))",
                        "{{category}}",
                    )
                ],
                "ops",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "Fills and trades/s",
                "Fills applied to orders (both sides of a trade) and trades in the books.",
                [
                    (
                        f"sum by (side) (rate(trademesh_order_fills_applied_total[{RATE}]))",
                        "fills {{side}}",
                    ),
                    (
                        f"sum by (symbol) (rate(trademesh_matching_trades_total[{RATE}]))",
                        "trades {{symbol}}",
                    ),
                ],
                "ops",
                width=8,
            )
        )
        .with_row(db.Row("Latency"))
        .with_panel(
            _timeseries(
                "Order-to-fill latency (taker fills)",
                "From acceptance to the fill applied; exemplars link to the order's trace.",
                [
                    (_p(0.5, "trademesh_order_order_to_fill_seconds"), "p50"),
                    (_p(0.99, "trademesh_order_order_to_fill_seconds"), "p99"),
                ],
                "s",
                exemplars=True,
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "Execution report lag (p99)",
                "From matching's report to its application in order entry.",
                [(_p(0.99, "trademesh_order_execution_lag_seconds"), "p99")],
                "s",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "Matching transaction time (p99)",
                "Apply a batch of commands and commit its Kafka transaction.",
                [(_p(0.99, "trademesh_matching_transaction_duration_seconds"), "p99")],
                "s",
                width=8,
            )
        )
        .with_row(db.Row("Books and clients"))
        .with_panel(
            _timeseries(
                "Book depth (resting quantity, best 50 levels)",
                "By symbol and side.",
                [
                    (
                        "sum by (symbol, side) (trademesh_matching_book_depth_quantity)",
                        "{{symbol}} {{side}}",
                    )
                ],
                "short",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "Resting orders (best 50 levels)",
                "By symbol and side.",
                [
                    (
                        "sum by (symbol, side) (trademesh_matching_book_depth_orders)",
                        "{{symbol}} {{side}}",
                    )
                ],
                "short",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "WebSocket clients and pushes/s",
                "Connected clients across gateways, and messages written to them.",
                [
                    ("sum(trademesh_websocket_clients)", "clients"),
                    (f"sum(rate(trademesh_websocket_messages_pushed_total[{RATE}]))", "pushes/s"),
                ],
                "short",
                width=8,
            )
        )
        .with_row(db.Row("Logins and market data"))
        .with_panel(
            _timeseries(
                "Login attempts/s by outcome",
                "success, invalid_credentials (the user's answer) and error (ours: burns the"
                " login-success budget).",
                [
                    (
                        _rate("trademesh_auth_login_attempts_total", "outcome"),
                        "{{outcome}}",
                    )
                ],
                "ops",
            )
        )
        .with_panel(
            _timeseries(
                "Market data delay",
                "From matching creating a trade or book change to quotes, depth and the live"
                " update carrying it; the freshness SLO's bound is 1 s.",
                [
                    (_p(0.5, "trademesh_market_update_delay_seconds"), "p50"),
                    (_p(0.99, "trademesh_market_update_delay_seconds"), "p99"),
                ],
                "s",
            )
        )
    )


def kafka_and_autoscaler() -> db.Dashboard:
    return (
        _dashboard(
            "trademesh-kafka-autoscaler",
            "trademesh / Kafka and autoscaler",
            "Consumer lag and throughput, and the operator scaling consumers on lag.",
        )
        .with_row(db.Row("Kafka consumers"))
        .with_panel(
            _timeseries(
                "Consumer lag by group and topic",
                "Records between each group's position and the last stable offset.",
                [
                    (
                        "sum by (group, topic) (trademesh_kafka_consumer_lag_records)",
                        "{{group}} {{topic}}",
                    )
                ],
                "short",
            )
        )
        .with_panel(
            _timeseries(
                "Records consumed/s",
                "Order entry's executions consumer by outcome, and matching's commands.",
                [
                    (
                        _rate("trademesh_kafka_records_consumed_total", "topic, outcome"),
                        "{{topic}} {{outcome}}",
                    ),
                    (
                        f"sum by (outcome) (rate(trademesh_matching_commands_total[{RATE}]))",
                        "matching {{outcome}}",
                    ),
                ],
                "ops",
            )
        )
        .with_row(db.Row("Autoscaler (the operator)"))
        .with_panel(
            _timeseries(
                "Replicas: desired and current",
                "Per scaled workload.",
                [
                    (
                        "sum by (workload) (trademesh_autoscaler_desired_replicas)",
                        "desired {{workload}}",
                    ),
                    (
                        "sum by (workload) (trademesh_autoscaler_current_replicas)",
                        "current {{workload}}",
                    ),
                ],
                "short",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "Lag the autoscaler sees",
                "The lag the operator's decision was based on.",
                [("sum by (workload) (trademesh_autoscaler_observed_lag_records)", "{{workload}}")],
                "short",
                width=8,
            )
        )
        .with_panel(
            _timeseries(
                "Scaling decisions/s",
                "By direction (up, down).",
                [
                    (
                        _rate("trademesh_autoscaler_scale_events_total", "workload, direction"),
                        "{{workload}} {{direction}}",
                    )
                ],
                "ops",
                width=8,
            )
        )
    )


DASHBOARDS: dict[str, Callable[[], db.Dashboard]] = {
    "slo-overview": slo_overview,
    "red-per-service": red_per_service,
    "exchange": exchange,
    "kafka-autoscaler": kafka_and_autoscaler,
}


def render(name: str) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(DASHBOARDS[name]().build()) + "\n"


def queries(dashboard_json: dict[str, object]) -> list[str]:
    """Every PromQL expression of a rendered dashboard's panels."""
    found: list[str] = []
    panels = list(dashboard_json.get("panels", []))  # type: ignore[call-overload]
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        found.extend(target["expr"] for target in panel.get("targets", []) if "expr" in target)
    return found

"""`python -m trademesh_order [serve|migrate]`: the order service process, or its migrations
(the chart's migration hook job)."""

from trademesh_common.cli import serve_or_migrate
from trademesh_common.runtime import ServiceRuntime
from trademesh_order.app import MIGRATIONS_PACKAGE, OrderApp
from trademesh_order.settings import OrderSettings


def serve(settings: OrderSettings) -> None:
    ServiceRuntime(settings).run_app(
        lambda runtime: OrderApp(settings, runtime.health, on_fatal=runtime.request_stop)
    )


def main(argv: list[str] | None = None) -> None:
    serve_or_migrate(OrderSettings, serve, MIGRATIONS_PACKAGE, argv)


if __name__ == "__main__":
    main()

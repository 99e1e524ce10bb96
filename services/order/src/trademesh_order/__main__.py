"""`python -m trademesh_order [serve|migrate]`: the order service process, or its migrations
(the chart's migration hook job)."""

from trademesh_common.cli import serve_or_migrate
from trademesh_common.runtime import ServiceRuntime
from trademesh_order.app import MIGRATIONS_PACKAGE, OrderApp
from trademesh_order.settings import OrderSettings


def serve(settings: OrderSettings) -> None:
    runtime = ServiceRuntime(settings)

    async def run(runtime: ServiceRuntime) -> None:
        app = OrderApp(settings, runtime.health, on_fatal=runtime.request_stop)
        try:
            await app.start()
            await runtime.wait_for_stop()
        finally:
            await app.stop()

    runtime.run(run)


def main(argv: list[str] | None = None) -> None:
    serve_or_migrate(OrderSettings, serve, MIGRATIONS_PACKAGE, argv)


if __name__ == "__main__":
    main()

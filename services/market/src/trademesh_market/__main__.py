"""`python -m trademesh_market [serve|migrate]`: the market service process, or its migrations
(the chart's migration hook job)."""

from trademesh_common.cli import serve_or_migrate
from trademesh_common.runtime import ServiceRuntime
from trademesh_market.app import MIGRATIONS_PACKAGE, MarketApp
from trademesh_market.settings import MarketSettings


def serve(settings: MarketSettings) -> None:
    ServiceRuntime(settings).run_app(
        lambda runtime: MarketApp(settings, runtime.health, on_fatal=runtime.request_stop)
    )


def main(argv: list[str] | None = None) -> None:
    serve_or_migrate(MarketSettings, serve, MIGRATIONS_PACKAGE, argv)


if __name__ == "__main__":
    main()

"""`python -m trademesh_order [serve|migrate]`: the order service process, or its migrations.

`migrate` applies pending migrations and exits; in a cluster it is the Helm hook job that
runs before a release's pods need the new schema (the service also migrates at start-up,
which is what a local run relies on).
"""

import argparse
import asyncio

from trademesh_common.db import migrate
from trademesh_common.logs import configure_logging
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


def run_migrations(settings: OrderSettings) -> list[str]:
    configure_logging(settings.service_name, settings.log_level)
    return asyncio.run(migrate(settings.postgres_dsn, MIGRATIONS_PACKAGE))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trademesh_order")
    parser.add_argument("command", nargs="?", choices=("serve", "migrate"), default="serve")
    command = parser.parse_args(argv).command
    settings = OrderSettings()
    if command == "migrate":
        run_migrations(settings)
    else:
        serve(settings)


if __name__ == "__main__":
    main()

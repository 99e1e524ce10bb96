"""`python -m trademesh_<service> [serve|migrate]`, the command line of every service with a
PostgreSQL database.

`migrate` applies pending migrations and exits; in a cluster it is the Helm hook job that
runs before a release's pods need the new schema (the services also migrate at start-up,
which is what a local run relies on).
"""

import argparse
import asyncio
from collections.abc import Callable
from typing import Protocol, TypeVar

from trademesh_common.db import migrate
from trademesh_common.logs import configure_logging


class DatabaseSettings(Protocol):
    service_name: str
    log_level: str
    postgres_dsn: str


S = TypeVar("S", bound=DatabaseSettings)


def run_migrations(settings: DatabaseSettings, migrations_package: str) -> list[str]:
    configure_logging(settings.service_name, settings.log_level)
    return asyncio.run(migrate(settings.postgres_dsn, migrations_package))


def serve_or_migrate(
    settings_factory: Callable[[], S],
    serve: Callable[[S], None],
    migrations_package: str,
    argv: list[str] | None = None,
) -> None:
    """Parses the command (default `serve`) before reading settings, so a typo is refused
    with the choices even where the environment is incomplete."""
    package = migrations_package.partition(".")[0]
    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    parser.add_argument("command", nargs="?", choices=("serve", "migrate"), default="serve")
    command = parser.parse_args(argv).command
    settings = settings_factory()
    if command == "migrate":
        run_migrations(settings, migrations_package)
    else:
        serve(settings)

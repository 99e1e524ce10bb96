"""`python -m trademesh_auth [serve|migrate]`: the auth service process, or its migrations
(the chart's migration hook job)."""

from trademesh_auth.app import MIGRATIONS_PACKAGE, AuthApp
from trademesh_auth.settings import AuthSettings
from trademesh_common.cli import serve_or_migrate
from trademesh_common.runtime import ServiceRuntime


def serve(settings: AuthSettings) -> None:
    ServiceRuntime(settings).run_app(lambda runtime: AuthApp(settings, runtime.health))


def main(argv: list[str] | None = None) -> None:
    serve_or_migrate(AuthSettings, serve, MIGRATIONS_PACKAGE, argv)


if __name__ == "__main__":
    main()

"""`python -m trademesh_social [serve|migrate]`: the social service process, or its migrations
(the chart's migration hook job)."""

from trademesh_common.cli import serve_or_migrate
from trademesh_common.runtime import ServiceRuntime
from trademesh_social.app import MIGRATIONS_PACKAGE, SocialApp
from trademesh_social.settings import SocialSettings


def serve(settings: SocialSettings) -> None:
    ServiceRuntime(settings).run_app(lambda runtime: SocialApp(settings, runtime.health))


def main(argv: list[str] | None = None) -> None:
    serve_or_migrate(SocialSettings, serve, MIGRATIONS_PACKAGE, argv)


if __name__ == "__main__":
    main()

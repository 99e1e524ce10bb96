"""`python -m trademesh_news [serve|migrate]`: the news service process, or its migrations
(the chart's migration hook job)."""

from trademesh_common.cli import serve_or_migrate
from trademesh_common.runtime import ServiceRuntime
from trademesh_news.app import MIGRATIONS_PACKAGE, NewsApp
from trademesh_news.settings import NewsSettings


def serve(settings: NewsSettings) -> None:
    ServiceRuntime(settings).run_app(
        lambda runtime: NewsApp(settings, runtime.health, on_fatal=runtime.request_stop)
    )


def main(argv: list[str] | None = None) -> None:
    serve_or_migrate(NewsSettings, serve, MIGRATIONS_PACKAGE, argv)


if __name__ == "__main__":
    main()

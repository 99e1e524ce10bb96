"""`python -m trademesh_news`: the news service process."""

from trademesh_common.runtime import ServiceRuntime
from trademesh_news.app import NewsApp
from trademesh_news.settings import NewsSettings


def main() -> None:
    settings = NewsSettings()
    runtime = ServiceRuntime(settings)

    async def serve(runtime: ServiceRuntime) -> None:
        app = NewsApp(settings, runtime.health, on_fatal=runtime.request_stop)
        try:
            await app.start()
            await runtime.wait_for_stop()
        finally:
            await app.stop()

    runtime.run(serve)


if __name__ == "__main__":
    main()

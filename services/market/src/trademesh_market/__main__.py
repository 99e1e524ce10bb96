"""`python -m trademesh_market`: the market service process."""

from trademesh_common.runtime import ServiceRuntime
from trademesh_market.app import MarketApp
from trademesh_market.settings import MarketSettings


def main() -> None:
    settings = MarketSettings()
    runtime = ServiceRuntime(settings)

    async def serve(runtime: ServiceRuntime) -> None:
        app = MarketApp(settings, runtime.health, on_fatal=runtime.request_stop)
        try:
            await app.start()
            await runtime.wait_for_stop()
        finally:
            await app.stop()

    runtime.run(serve)


if __name__ == "__main__":
    main()

"""`python -m trademesh_order`: the order service process."""

from trademesh_common.runtime import ServiceRuntime
from trademesh_order.app import OrderApp
from trademesh_order.settings import OrderSettings


def main() -> None:
    settings = OrderSettings()
    runtime = ServiceRuntime(settings)

    async def serve(runtime: ServiceRuntime) -> None:
        app = OrderApp(settings, runtime.health, on_fatal=runtime.request_stop)
        try:
            await app.start()
            await runtime.wait_for_stop()
        finally:
            await app.stop()

    runtime.run(serve)


if __name__ == "__main__":
    main()

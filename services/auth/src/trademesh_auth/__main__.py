"""`python -m trademesh_auth`: the auth service process."""

from trademesh_auth.app import AuthApp
from trademesh_auth.settings import AuthSettings
from trademesh_common.runtime import ServiceRuntime


def main() -> None:
    settings = AuthSettings()
    runtime = ServiceRuntime(settings)

    async def serve(runtime: ServiceRuntime) -> None:
        app = AuthApp(settings, runtime.health)
        try:
            await app.start()
            await runtime.wait_for_stop()
        finally:
            await app.stop()

    runtime.run(serve)


if __name__ == "__main__":
    main()

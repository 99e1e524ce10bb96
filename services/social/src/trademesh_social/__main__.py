"""`python -m trademesh_social`: the social service process."""

from trademesh_common.runtime import ServiceRuntime
from trademesh_social.app import SocialApp
from trademesh_social.settings import SocialSettings


def main() -> None:
    settings = SocialSettings()
    runtime = ServiceRuntime(settings)

    async def serve(runtime: ServiceRuntime) -> None:
        app = SocialApp(settings, runtime.health)
        try:
            await app.start()
            await runtime.wait_for_stop()
        finally:
            await app.stop()

    runtime.run(serve)


if __name__ == "__main__":
    main()

"""`python -m trademesh_gateway`: the public API plus the order-update relay."""

import asyncio

from trademesh_common.runtime import ServiceRuntime
from trademesh_gateway.app import create_app
from trademesh_gateway.backends import Backends
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.order_update_relay import order_updates_consumer, relay_order_updates
from trademesh_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    runtime = ServiceRuntime(settings)
    registry = ConnectionRegistry(settings.ws_send_queue_size)
    backends = Backends(
        settings.order_target,
        settings.matching_target,
        settings.tls,
        settings.grpc_timeout_seconds,
        auth_target=settings.auth_target,
    )
    app = create_app(settings, backends=backends, registry=registry, health=runtime.health)

    async def relay_until_stopped(runtime: ServiceRuntime) -> None:
        consumer = order_updates_consumer(settings.kafka_bootstrap)

        async def partitions_assigned() -> bool:
            return consumer.assigned

        # Until the group assigns partitions, updates would be missed: not ready.
        runtime.health.add_check("order-updates", partitions_assigned)
        relay = asyncio.create_task(relay_order_updates(consumer, registry))
        stop = asyncio.create_task(runtime.wait_for_stop())
        try:
            await asyncio.wait({relay, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            relay.cancel()
            stop.cancel()
            relay_outcome, _ = await asyncio.gather(relay, stop, return_exceptions=True)
            await consumer.close()
        # A relay that died on its own would silently stop every push: fail the process.
        if isinstance(relay_outcome, Exception):
            raise relay_outcome

    runtime.run(relay_until_stopped, http_app=app)


if __name__ == "__main__":
    main()

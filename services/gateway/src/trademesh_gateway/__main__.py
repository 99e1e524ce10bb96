"""`python -m trademesh_gateway`: the public API plus the order-update and live relays."""

import asyncio

import redis.asyncio as redis

from trademesh_common.runtime import ServiceRuntime
from trademesh_gateway.app import create_app
from trademesh_gateway.backends import Backends
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.live import LiveRelay
from trademesh_gateway.live_quotes import LiveQuoteCache, market_quote_fetch
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
        social_target=settings.social_target,
        news_target=settings.news_target,
        market_target=settings.market_target,
        auth_target=settings.auth_target,
    )
    quotes = LiveQuoteCache(
        market_quote_fetch(backends),
        settings.quote_cache_max_age_seconds,
        settings.quote_cache_max_symbols,
    )
    app = create_app(
        settings, backends=backends, registry=registry, health=runtime.health, quotes=quotes
    )

    async def relay_until_stopped(runtime: ServiceRuntime) -> None:
        consumer = order_updates_consumer(settings.kafka_bootstrap)

        async def partitions_assigned() -> bool:
            return consumer.assigned

        live_client = redis.from_url(settings.redis_url)
        live_relay = LiveRelay(live_client, registry, quotes)

        async def live_subscribed() -> bool:
            return live_relay.subscribed

        # Until the group assigns partitions (and the pattern subscription is in place),
        # updates would be missed: not ready.
        runtime.health.add_check("order-updates", partitions_assigned)
        runtime.health.add_check("live-updates", live_subscribed)
        relays = {
            asyncio.create_task(relay_order_updates(consumer, registry)),
            asyncio.create_task(live_relay.run()),
        }
        stop = asyncio.create_task(runtime.wait_for_stop())
        try:
            await asyncio.wait({*relays, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*relays, stop):
                task.cancel()
            outcomes = await asyncio.gather(*relays, stop, return_exceptions=True)
            await consumer.close()
            await live_client.aclose()
        # A relay that died on its own would silently stop its pushes: fail the process.
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome

    runtime.run(relay_until_stopped, http_app=app)


if __name__ == "__main__":
    main()

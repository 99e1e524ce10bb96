"""`python -m trademesh_matching`: the matching engine process."""

import asyncio
import logging
import sys
import threading

import redis
import redis.asyncio

from trademesh.matching.v1 import matching_pb2_grpc
from trademesh_common.rpc import GrpcServer
from trademesh_common.runtime import ServiceRuntime
from trademesh_matching.api import MatchingApi
from trademesh_matching.processor import MatchingProcessor
from trademesh_matching.settings import MatchingSettings

log = logging.getLogger("trademesh_matching")


async def main(runtime: ServiceRuntime) -> None:
    settings: MatchingSettings = runtime.settings  # type: ignore[assignment]
    processor = MatchingProcessor(settings, redis.Redis.from_url(settings.redis_url))
    failed = threading.Event()

    def run_processor() -> None:
        try:
            processor.run()
        except Exception:
            log.exception("matching loop failed; stopping so the orchestrator restarts us")
            failed.set()
            runtime.request_stop_threadsafe()

    loop_thread = threading.Thread(target=run_processor, name="matching-loop", daemon=True)
    loop_thread.start()

    async_redis = redis.asyncio.Redis.from_url(settings.redis_url)
    server = GrpcServer(settings.grpc_host, settings.grpc_port, settings.tls)
    matching_pb2_grpc.add_MatchingServiceServicer_to_server(
        MatchingApi(processor.depth, async_redis), server.server
    )

    async def kafka_ready() -> bool:
        return processor.ready.is_set() and loop_thread.is_alive()

    async def redis_ready() -> bool:
        return bool(await async_redis.ping())

    runtime.health.add_check("kafka", kafka_ready)
    runtime.health.add_check("redis", redis_ready)
    await server.start()
    try:
        await runtime.wait_for_stop()
    finally:
        await server.stop()
        processor.stop()
        await asyncio.to_thread(loop_thread.join, 30)
        await async_redis.aclose()
    if failed.is_set():
        sys.exit(1)


if __name__ == "__main__":
    ServiceRuntime(MatchingSettings()).run(main)

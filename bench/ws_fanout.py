"""Benchmark: WebSocket fan-out of live updates from one gateway process.

Starts a throwaway Redis and one gateway process (the real app and its Redis
`live.*` relay, on uvloop like the service), connects `--clients` WebSockets
from `--client-procs` separate processes, subscribes every client to
`trades` of one symbol, then publishes `--rate` updates/s to Redis for
`--seconds`. Every update fans out to every client, so the offered load is
rate x clients messages/s. Clients connect with `?batch=true` unless
`--no-batch`: a frame then holds one message or, when a client's queue backed
up, a JSON array of them. Reports the messages clients received per second,
end-to-end latency (Redis publish -> client receive) on a sample, clients
dropped as too slow, and the gateway process's CPU use. Prints one JSON object.

The clients are minimal WebSocket readers on raw asyncio protocols (they count
frames, decode a sample), so that the readers cost less CPU than the gateway.

    uv run python bench/ws_fanout.py [--clients 1000] [--rate 100] [--seconds 10]
"""

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
import redis.asyncio as redis
import uvloop
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from machine import cpu_seconds, machine  # bench/ is on sys.path when a script runs

from trademesh.auth.v1 import auth_pb2, auth_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.http import HttpServer
from trademesh_common.rpc import GrpcServer
from trademesh_devstack.redis import RedisServer
from trademesh_gateway.app import create_app
from trademesh_gateway.backends import Backends
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.live import LiveRelay
from trademesh_gateway.settings import GatewaySettings

SYMBOL = "BENCH"
TOPIC = f"live.trades.{SYMBOL}"
SAMPLE_EVERY = 97  # decode one frame in this many for latency
KID = "bench"


# --- access tokens: the clients sign them, the gateway checks them against its JWKS -------


def load_key(path: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def access_token(key: Ed25519PrivateKey, user: str) -> str:
    settings = GatewaySettings()
    now = int(time.time())
    claims = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": user}
    claims |= {"iat": now, "exp": now + 3600}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": KID})


class JwksOnlyAuth(auth_pb2_grpc.AuthServiceServicer):
    """Stands in for the auth service: the gateway only reads its JWKS here."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
        self._jwks = json.dumps({"keys": [{**jwk, "kid": KID, "alg": "EdDSA", "use": "sig"}]})

    async def GetJwks(self, request: Any, context: Any) -> auth_pb2.GetJwksResponse:
        return auth_pb2.GetJwksResponse(jwks_json=self._jwks)


# --- the gateway process ---------------------------------------------------------------


async def serve(port: int, redis_url: str, queue_size: int, key_path: str) -> None:
    # No order/matching/market services: only the WebSocket path is exercised.
    auth = GrpcServer("127.0.0.1", 0, TlsSettings())
    auth_pb2_grpc.add_AuthServiceServicer_to_server(JwksOnlyAuth(load_key(key_path)), auth.server)
    await auth.start()
    settings = GatewaySettings(
        http_port=port,
        redis_url=redis_url,
        ws_send_queue_size=queue_size,
        auth_target=f"127.0.0.1:{auth.port}",
    )
    registry = ConnectionRegistry(settings.ws_send_queue_size)
    backends = Backends(
        "127.0.0.1:1",
        "127.0.0.1:1",
        settings.tls,
        settings.grpc_timeout_seconds,
        auth_target=settings.auth_target,
        market_target="127.0.0.1:1",
        social_target="127.0.0.1:1",
        news_target="127.0.0.1:1",
    )
    app = create_app(settings, backends=backends, registry=registry, health=Health())
    http = HttpServer(app, "127.0.0.1", port)
    await http.start()
    client = redis.from_url(redis_url)
    relay = LiveRelay(client, registry)
    print("ready", flush=True)
    try:
        await relay.run()
    finally:
        await http.stop()


# --- a client process --------------------------------------------------------------------


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


class Reader(asyncio.Protocol):
    """One WebSocket client: handshake, subscribe, then count text frames."""

    def __init__(self, token: str, port: int, stats: dict[str, Any], batch: bool) -> None:
        self._query = "batch=true" if batch else "batch=false"
        self._token = token
        self._port = port
        self._stats = stats
        self._buffer = bytearray()
        self._upgraded = False
        self._subscribed = False
        self.ready = asyncio.get_running_loop().create_future()
        self._transport: Any = None

    def connection_made(self, transport: Any) -> None:  # uvloop's transport class
        self._transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /api/v1/ws?{self._query} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self._port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Protocol: bearer, {self._token}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(bytes(buffer[:end]).decode())
            del buffer[: end + 4]
            self._upgraded = True
            assert self._transport is not None
            self._transport.write(
                masked_text_frame(
                    json.dumps({"op": "subscribe", "channel": "trades", "symbol": SYMBOL})
                )
            )
        position, size = 0, len(buffer)
        stats = self._stats
        while size - position >= 2:
            length = buffer[position + 1] & 0x7F
            header = 2
            if length == 126:
                if size - position < 4:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 4], "big")
                header = 4
            elif length == 127:
                if size - position < 10:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 10], "big")
                header = 10
            end = position + header + length
            if end > size:
                break
            opcode = buffer[position] & 0x0F
            if opcode == 8:
                stats["closed_by_server"] += 1
            elif self._subscribed:
                payload = buffer[position + header : end]
                batched = payload[:1] == b"["
                stats["frames"] += 1
                stats["messages"] += payload.count(b'{"type":') if batched else 1
                now = time.perf_counter()
                if stats["first"] is None:
                    stats["first"] = now
                stats["last"] = now
                if stats["frames"] % SAMPLE_EVERY == 0:
                    message = json.loads(bytes(payload))
                    oldest = message[0] if batched else message
                    stats["latencies"].append(time.time_ns() - oldest["data"]["ts"])
            elif b'"subscribed"' in buffer[position + header : end]:
                self._subscribed = True
                if not self.ready.done():
                    self.ready.set_result(None)
            position = end
        del buffer[:position]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed before subscribing"))


async def read_clients(
    port: int, count: int, offset: int, seconds: float, batch: bool, key_path: str
) -> dict[str, Any]:
    key = load_key(key_path)
    stats: dict[str, Any] = {
        "frames": 0,
        "messages": 0,
        "first": None,
        "last": None,
        "latencies": [],
        "closed_by_server": 0,
    }
    loop = asyncio.get_running_loop()
    readers = []
    for n in range(count):
        _, reader = await loop.create_connection(
            lambda n=n: Reader(access_token(key, f"bench-{offset + n}"), port, stats, batch),
            "127.0.0.1",
            port,
        )
        readers.append(reader)
    await asyncio.gather(*(r.ready for r in readers))
    print("ready", flush=True)
    # Measure until stdin says the publisher is done (plus time to drain).
    await loop.run_in_executor(None, sys.stdin.readline)
    await asyncio.sleep(seconds)
    return {
        "frames": stats["frames"],
        "messages": stats["messages"],
        "window_seconds": (stats["last"] - stats["first"]) if stats["first"] else 0.0,
        "first": stats["first"],
        "last": stats["last"],
        "latencies_ns": stats["latencies"],
        "closed_by_server": stats["closed_by_server"],
    }


# --- the orchestrator --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def publish(redis_url: str, rate: float, seconds: float) -> int:
    client = redis.from_url(redis_url)
    tick = 0.01
    sent = 0
    started = time.perf_counter()
    try:
        while (elapsed := time.perf_counter() - started) < seconds:
            owed = rate * elapsed - sent
            batch = int(owed)
            if batch:
                async with client.pipeline(transaction=False) as pipeline:
                    for _ in range(batch):
                        payload = {"ts": time.time_ns(), "price": "100.00", "quantity": 1}
                        pipeline.publish(TOPIC, json.dumps(payload))
                    await pipeline.execute()
                sent += batch
            await asyncio.sleep(max(0.0, tick - (time.perf_counter() - started - elapsed)))
    finally:
        await client.aclose()
    return sent


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 2)


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    here = Path(__file__)
    started_machine = machine()
    with tempfile.TemporaryDirectory(prefix="ws-fanout-") as state:
        redis_server = RedisServer(Path(state) / "redis")
        redis_server.start()
        key_path = Path(state) / "signing-key.pem"
        key_path.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        port = free_port()
        gateway = subprocess.Popen(
            [
                sys.executable,
                str(here),
                "--serve",
                "--port",
                str(port),
                "--redis",
                redis_server.url,
                "--queue-size",
                str(args.queue_size),
                "--key",
                str(key_path),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        readers: list[subprocess.Popen[str]] = []
        try:
            assert gateway.stdout is not None
            assert gateway.stdout.readline().strip() == "ready"
            share = args.clients // args.client_procs
            for n in range(args.client_procs):
                count = share if n < args.client_procs - 1 else args.clients - share * n
                readers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(here),
                            "--read",
                            "--port",
                            str(port),
                            "--count",
                            str(count),
                            "--offset",
                            str(n * share),
                            "--drain-seconds",
                            str(args.drain_seconds),
                            "--batch" if args.batch else "--no-batch",
                            "--key",
                            str(key_path),
                        ],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
            for reader in readers:
                assert reader.stdout is not None
                assert reader.stdout.readline().strip() == "ready"
            cpu_before = cpu_seconds(gateway.pid)
            wall_before = time.perf_counter()
            published = asyncio.run(publish(redis_server.url, args.rate, args.seconds))
            for reader in readers:
                assert reader.stdin is not None
                reader.stdin.write("done\n")
                reader.stdin.flush()
            results = [json.loads(reader.communicate(timeout=120)[0]) for reader in readers]
            gateway_cpu = cpu_seconds(gateway.pid) - cpu_before
            wall = time.perf_counter() - wall_before
        finally:
            for process in (*readers, gateway):
                process.terminate()
                process.wait(timeout=30)
            redis_server.stop()
    frames = sum(r["frames"] for r in results)
    received = sum(r["messages"] for r in results)
    first = min(r["first"] for r in results if r["first"] is not None)
    last = max(r["last"] for r in results if r["last"] is not None)
    latencies = [ns for r in results for ns in r["latencies_ns"]]
    return {
        "benchmark": "ws_fanout",
        "clients": args.clients,
        "client_procs": args.client_procs,
        "offered_updates_per_second": args.rate,
        "offered_messages_per_second": args.rate * args.clients,
        "seconds": args.seconds,
        "updates_published": published,
        "messages_expected": published * args.clients,
        "batch": args.batch,
        "messages_received": received,
        "frames_received": frames,
        "delivered_fraction": round(received / max(1, published * args.clients), 4),
        "messages_per_second": round(received / (last - first), 1),
        "receive_window_seconds": round(last - first, 2),
        "latency_ms": {
            "samples": len(latencies),
            "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99),
            "max": percentile(latencies, 1.0),
        },
        "clients_dropped_as_slow": sum(r["closed_by_server"] for r in results),
        "gateway_cpu_seconds_per_wall_second": round(gateway_cpu / wall, 2),
        # What one message costs the gateway, whatever else competes for the cores.
        "gateway_cpu_microseconds_per_message": round(gateway_cpu / max(1, received) * 1e6, 2),
        "ws_send_queue_size": args.queue_size,
        "machine": started_machine,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=100.0, help="updates/s to Redis")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--drain-seconds", type=float, default=3.0)
    parser.add_argument("--queue-size", type=int, default=256)
    parser.add_argument(
        "--batch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="clients connect with ?batch=true (frames may hold several messages)",
    )
    # Internal: the gateway and reader child processes.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--read", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        uvloop.run(serve(args.port, args.redis, args.queue_size, args.key))
    elif args.read:
        print(
            json.dumps(
                uvloop.run(
                    read_clients(
                        args.port, args.count, args.offset, args.drain_seconds, args.batch, args.key
                    )
                )
            )
        )
    else:
        print(json.dumps(orchestrate(args), indent=2))


if __name__ == "__main__":
    main()

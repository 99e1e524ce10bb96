"""Benchmark: access-token verification in the gateway, one process, one core.

What every authenticated request pays before its route runs. `fresh`: each token seen
for the first time (parse, key lookup in the JWKS cache, EdDSA signature and claims);
`repeat`: a token already verified (a client's later requests). No network: the cache
holds the key, as it does between refreshes. Prints one JSON object.

    uv run python bench/token_verification.py [--tokens 20000]
"""

import argparse
import asyncio
import json
import time

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from machine import machine  # bench/ is on sys.path when a script runs

from trademesh_gateway.access_tokens import AccessTokenVerifier
from trademesh_gateway.jwks import JwksCache


async def run(count: int) -> dict:
    key = Ed25519PrivateKey.generate()
    jwk = {**json.loads(OKPAlgorithm.to_jwk(key.public_key())), "kid": "k1", "alg": "EdDSA"}

    async def fetch() -> str:
        return json.dumps({"keys": [jwk]})

    verifier = AccessTokenVerifier(JwksCache(fetch, 300, 1), "trademesh-auth", "trademesh-api", 5)
    now = int(time.time())
    tokens = [
        jwt.encode(
            {
                "iss": "trademesh-auth",
                "aud": "trademesh-api",
                "sub": f"user-{n}",
                "iat": now,
                "exp": now + 600,
            },
            key,
            algorithm="EdDSA",
            headers={"kid": "k1"},
        )
        for n in range(count)
    ]
    await verifier.verify(tokens[0])  # fills the key cache
    return {
        "tokens": count,
        "fresh": await measure(verifier, tokens[1:]),
        "repeat": await measure(verifier, [tokens[1]] * count),
    }


async def measure(verifier: AccessTokenVerifier, tokens: list[str]) -> dict:
    samples = []
    began = time.perf_counter()
    for token in tokens:
        started = time.perf_counter()
        await verifier.verify(token)
        samples.append(time.perf_counter() - started)
    elapsed = time.perf_counter() - began
    samples.sort()
    return {
        "verifications_per_second": round(len(tokens) / elapsed),
        "p50_us": round(samples[len(samples) // 2] * 1e6, 1),
        "p99_us": round(samples[int(len(samples) * 0.99)] * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=20_000)
    args = parser.parse_args()
    result = asyncio.run(run(args.tokens))
    print(json.dumps({"benchmark": "token_verification", **result, "machine": machine()}))


if __name__ == "__main__":
    main()

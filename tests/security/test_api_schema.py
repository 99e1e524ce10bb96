"""schemathesis against the gateway's own OpenAPI document, on the running mesh.

Every operation gets generated requests (valid and invalid by the schema); every
response must be no 5xx, conform to the documented schema, status codes and
content types. At least MIN_CASES cases in total; the count and the time are
printed. Point TRADEMESH_API_URL at a running gateway (`python -m trademesh_devstack
mesh --tls`) to run it without starting a mesh.
"""

import json
import math
import os
import time
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS

# Starting the mesh plus a few cases a second on a loaded machine: beyond the default limit.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

# At least this many cases in total; TRADEMESH_SCHEMATHESIS_CASES asks for a longer run.
MIN_CASES = max(1000, int(os.environ.get("TRADEMESH_SCHEMATHESIS_CASES", "1000")))
API_PREFIX = "/api/v1"
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    # Requests the schema forbids must be refused with a 4xx, not served.
    "negative_data_rejection",
)
# Schemathesis' defaults, plus 413: an invalid body can be refused for its size first.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409", "413"),
                    *("415", "422", "428", "429", "5xx"),
                ]
            }
        }
    }
)
# Valid requests (by the schema) and requests that break it, half and half.
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture(scope="module")
def gateway_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("TRADEMESH_API_URL")
    if url:
        return url.rstrip("/")
    return request.getfixturevalue("tls_mesh").gateway_url


@pytest.fixture(scope="module")
def api_auth() -> Iterator[dict[str, str]]:
    """How generated requests authenticate: the one place to change for bearer tokens."""
    yield {"X-Trademesh-User": f"fuzz-{uuid.uuid4().hex[:8]}"}


def exercise(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    examples: int,
    base_url: str,
    headers: dict[str, str],
    checks: list,
) -> tuple[int, str | None]:
    """Runs `examples` generated cases against one operation: (cases run, first failure)."""
    ran = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        # No shrinking: report the failure as found, keep the run bounded.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: schemathesis.Case) -> None:
        nonlocal ran
        ran += 1
        # Valid cases always authenticate. Invalid ones keep a credential the generator
        # left out (a missing credential is one of the violations under test).
        sent = case.headers or {}
        auth = {
            name: value
            for name, value in headers.items()
            if mode is GenerationMode.POSITIVE or name in sent
        }
        case.call_and_validate(base_url=base_url, headers=auth, checks=checks, timeout=10)

    try:
        one()
    except (Exception, BaseExceptionGroup) as failure:  # one report for every operation
        return ran, str(failure)[:3000]
    return ran, None


def test_the_gateway_honours_its_openapi_document(gateway_url, api_auth):
    schema = schemathesis.openapi.from_url(f"{gateway_url}{API_PREFIX}/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    checks = [check for check in CHECKS.get_all() if check.__name__ in CHECK_NAMES]
    assert len(checks) == len(CHECK_NAMES)
    per_run = math.ceil(MIN_CASES / len(operations) / len(MODES)) + 5
    counts: dict[str, int] = {}
    failures: dict[str, str] = {}
    started = time.monotonic()
    for operation in operations:
        for mode in MODES:
            label = f"{operation.label} [{mode.value}]"
            counts[label], failure = exercise(
                operation, mode, per_run, gateway_url, api_auth, checks
            )
            if failure is not None:
                failures[label] = failure
    elapsed = time.monotonic() - started
    total = sum(counts.values())
    print(
        json.dumps(
            {
                "schemathesis_cases": total,
                "operations": len(operations),
                "seconds": round(elapsed, 1),
                "cases_per_second": round(total / elapsed, 1),
                "per_operation": counts,
            }
        )
    )
    for label, failure in failures.items():
        print(f"--- {label}\n{failure}")
    assert failures == {}
    assert total >= MIN_CASES

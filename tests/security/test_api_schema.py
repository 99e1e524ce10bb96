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
from schemathesis.checks import CHECKS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIN_CASES = 1000
API_PREFIX = "/api/v1"
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


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


def test_the_gateway_honours_its_openapi_document(gateway_url, api_auth):
    schema = schemathesis.openapi.from_url(f"{gateway_url}{API_PREFIX}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    checks = [check for check in CHECKS.get_all() if check.__name__ in CHECK_NAMES]
    assert len(checks) == len(CHECK_NAMES)
    per_operation = math.ceil(MIN_CASES / len(operations)) + 5
    counts: dict[str, int] = {}
    failures: dict[str, str] = {}
    started = time.monotonic()
    for operation in operations:
        label = operation.label
        counts[label] = 0

        @given(case=operation.as_strategy())
        @settings(
            max_examples=per_operation,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case, label: str = label) -> None:
            counts[label] += 1
            case.call_and_validate(
                base_url=gateway_url, headers=api_auth, checks=checks, timeout=10
            )

        try:
            exercise()
        except Exception as failure:  # collected: one report for every operation
            failures[label] = str(failure)[:2000]
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
    assert failures == {}
    assert total >= MIN_CASES

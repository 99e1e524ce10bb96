"""schemathesis against the gateway's own OpenAPI document, on the running mesh.

Every operation gets generated requests (valid and invalid by the schema), each sent
with the bearer token of a real account, so they reach the handlers and the services
behind them rather than stopping at the token check; every response must be no 5xx,
conform to the documented schema, status codes and content types, and an operation
that answered with a token must refuse the same request without one or with a forged
one. At least MIN_CASES cases in total; the count, the time and how many got past
authentication are printed. Point TRADEMESH_API_URL at a running gateway
(`python -m trademesh_devstack mesh --tls`) to run it without starting a mesh.
"""

import json
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from requests.models import RequestEncodingMixin
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS

# Starting the mesh plus a few cases a second on a loaded machine: beyond the default limit.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

# At least this many cases in total; TRADEMESH_SCHEMATHESIS_CASES asks for a longer run.
MIN_CASES = max(1000, int(os.environ.get("TRADEMESH_SCHEMATHESIS_CASES", "3000")))
API_PREFIX = "/api/v1"
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    # Requests the schema forbids must be refused with a 4xx, not served.
    "negative_data_rejection",
    # What answered a request with a token must refuse it without one and with a forged one.
    "ignored_auth",
)
PASSWORD = "correct horse battery staple"
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


class Account:
    """A user signed up through the public API; its access token, renewed before it expires."""

    def __init__(self, gateway_url: str) -> None:
        self._http = httpx.Client(base_url=gateway_url + API_PREFIX, timeout=30)
        self._credentials = {"username": f"fuzz-{uuid.uuid4().hex[:8]}", "password": PASSWORD}
        registered = self._http.post("/auth/register", json=self._credentials)
        assert registered.status_code == 201, registered.text
        self._token = ""
        self._renew_at = 0.0

    def headers(self) -> dict[str, str]:
        if time.monotonic() >= self._renew_at:
            response = self._http.post("/auth/login", json=self._credentials)
            assert response.status_code == 200, response.text
            tokens = response.json()
            self._token = tokens["access_token"]
            self._renew_at = time.monotonic() + tokens["expires_in"] / 2
        return {"Authorization": f"Bearer {self._token}"}

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="module")
def account(gateway_url: str) -> Iterator[Account]:
    signed_up = Account(gateway_url)
    yield signed_up
    signed_up.close()


def needs_token(operation: schemathesis.APIOperation) -> bool:
    security = operation.definition.raw.get("security")
    if security is None:
        security = operation.schema.raw_schema.get("security", [])
    return any(requirement for requirement in security)


def sends_every_query_parameter(case: schemathesis.Case) -> bool:
    """Whether the URL will carry every query parameter the case holds.

    The generator's invalid query values include some that HTTP cannot spell (`None`,
    `[]`, `[{}]`); the client leaves those parameters out, the request that goes out is
    valid, and a 200 to it is right, not "invalid data accepted" (schemathesis#4600).
    """
    if not case.query:
        return True
    encoded = RequestEncodingMixin._encode_params(case.query)
    sent = {pair.split("=", 1)[0] for pair in str(encoded).split("&") if pair}
    return len(sent) == len(case.query)


@dataclass
class Tally:
    """What came back: every status, and the 401s to requests that carried our token."""

    statuses: Counter[int] = field(default_factory=Counter)
    without_token: int = 0  # invalid cases whose credential the generator took away
    refused_token: int = 0


def exercise(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    examples: int,
    base_url: str,
    account: Account,
    checks: list,
) -> tuple[Tally, str | None]:
    """Runs `examples` generated cases against one operation: (tally, first failure)."""
    tally = Tally()

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
        # Every case is sent with a valid token (it replaces any the generator made up), so
        # invalid data is refused by validation, not by the token check. Some invalid
        # cases leave the credential out on purpose; those must get a 401.
        if mode is GenerationMode.NEGATIVE:
            assume(sends_every_query_parameter(case))
        headers = account.headers()
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        tally.statuses[response.status_code] += 1
        if "Authorization" not in response.request.headers:
            tally.without_token += 1
        elif response.status_code == 401:
            tally.refused_token += 1
        case.validate_response(response, checks=checks, headers=headers)

    try:
        one()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body).
        if mode is not GenerationMode.NEGATIVE or tally.statuses:
            raise
    except (Exception, BaseExceptionGroup) as failure:  # one report for every operation
        return tally, str(failure)[:3000]
    return tally, None


def test_the_gateway_honours_its_openapi_document(gateway_url, account):
    schema = schemathesis.openapi.from_url(f"{gateway_url}{API_PREFIX}/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    checks = [check for check in CHECKS.get_all() if check.__name__ in CHECK_NAMES]
    assert len(checks) == len(CHECK_NAMES)
    per_run = math.ceil(MIN_CASES / len(operations) / len(MODES)) + 5
    counts: dict[str, int] = {}
    failures: dict[str, str] = {}
    secured = Tally()  # over the operations that need a token
    started = time.monotonic()
    for operation in operations:
        for mode in MODES:
            label = f"{operation.label} [{mode.value}]"
            tally, failure = exercise(operation, mode, per_run, gateway_url, account, checks)
            counts[label] = tally.statuses.total()
            if needs_token(operation):
                secured.statuses.update(tally.statuses)
                secured.without_token += tally.without_token
                secured.refused_token += tally.refused_token
            if failure is not None:
                failures[label] = failure
    elapsed = time.monotonic() - started
    total = sum(counts.values())
    needing = secured.statuses.total()
    past_auth = needing - secured.statuses[401]
    print(
        json.dumps(
            {
                "schemathesis_cases": total,
                "operations": len(operations),
                "seconds": round(elapsed, 1),
                "cases_per_second": round(total / elapsed, 1),
                "cases_needing_a_token": needing,
                "sent_without_token_by_the_generator": secured.without_token,
                "past_authentication": past_auth,
                "past_authentication_share": round(past_auth / needing, 3),
                "statuses_needing_a_token": dict(sorted(secured.statuses.items())),
                "per_operation": counts,
            }
        )
    )
    for label, failure in failures.items():
        print(f"--- {label}\n{failure}")
    assert failures == {}
    assert total >= MIN_CASES
    # The token check refuses exactly the cases sent without a token.
    assert secured.refused_token == 0
    assert secured.statuses[401] == secured.without_token

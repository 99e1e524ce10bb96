"""A devstack in TLS mode (its own CA, client certificates required everywhere) and a
mesh on it where every service holds its own certificate.

Set TRADEMESH_TLS_DEVSTACK_ENV_FILE to the env file of a stack started with
`python -m trademesh_devstack up --tls --env-file ...` to reuse it between runs.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trademesh_devstack.mesh import Mesh
from trademesh_devstack.pki import LeafFiles, LocalCA
from trademesh_devstack.stack import AttachedStack, DevStack, Stack

ENV_FILE_VAR = "TRADEMESH_TLS_DEVSTACK_ENV_FILE"
TLS_MESH_ENV = {
    "order": {"TRADEMESH_PAPER_STARTING_POSITIONS": "AAPL:1000"},
    # The cheapest argon2id allowed: generated sign-ups and log-ins each cost a hash.
    "auth": {"TRADEMESH_ARGON2_TIME_COST": "1", "TRADEMESH_ARGON2_MEMORY_KIB": "8192"},
    # schemathesis sends every case as one user, faster than the production per-user limit.
    "gateway": {"TRADEMESH_RATE_LIMIT_PER_USER": "1000000"},
}


@pytest.fixture(scope="session")
def tls_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env_file = os.environ.get(ENV_FILE_VAR)
    if env_file:
        yield AttachedStack.from_env_file(Path(env_file))
        return
    stack = DevStack(tmp_path_factory.mktemp("tls-devstack"), tls=True).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack_ca(tls_stack: Stack) -> LocalCA:
    assert tls_stack.ca is not None
    return tls_stack.ca


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> LeafFiles:
    """A well-formed certificate with a trusted-looking identity, from a CA nobody trusts."""
    ca = LocalCA(tmp_path_factory.mktemp("stranger-ca"), name="someone else").ensure()
    return ca.issue("gateway")


@pytest.fixture(scope="session")
def tls_mesh(tls_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = Mesh(tls_stack, tmp_path_factory.mktemp("tls-mesh"), extra_env=TLS_MESH_ENV, tls=True)
    try:
        running.start()
        yield running
    finally:
        running.stop()

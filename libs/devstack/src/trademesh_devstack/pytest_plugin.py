"""pytest plugin: a session-scoped `devstack` fixture (real Redis, PostgreSQL and Kafka).

Enable it in the repository's root conftest.py:

    pytest_plugins = ["trademesh_devstack.pytest_plugin"]

and use it:

    @pytest.mark.integration
    def test_orders(devstack):
        dsn = devstack.create_database("orders")
        devstack.create_topics({"orders.events": 3})
        redis_url = devstack.env()["TRADEMESH_REDIS_URL"]

Each test session starts its own stack in a pytest tmp dir and stops it at the end (a warm
start takes a few seconds, Kafka being the slowest). For fast iteration, start one stack once:

    python -m trademesh_devstack up --env-file /tmp/devstack.json

and point the tests at it: `TRADEMESH_DEVSTACK_ENV_FILE=/tmp/devstack.json pytest ...`. The
fixture then attaches to that stack (an `AttachedStack`: same env(), create_database(),
create_topics()) and leaves it running.

The `kube_api` fixture (session scoped; mark such tests `@pytest.mark.kube`) is a real
kube-apiserver + etcd (see trademesh_devstack.kube): `kube_api.kubectl(...)`,
`kube_api.helm(...)`, `kube_api.apply(obj)`, `kube_api.install_crds()`, `kube_api.env()`
(KUBECONFIG). `helm` is the built helm binary; `built_charts` the charts folder with every
chart's file:// dependencies packaged (what `helm install charts/<name>` needs).
`python -m trademesh_devstack kube-up --env-file /tmp/kube.json` plus
`TRADEMESH_KUBE_ENV_FILE=/tmp/kube.json` attaches to one kept running, like the devstack.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import charts
from .install import install_kube
from .kube import AttachedKube, KubeApiServer, KubeClient
from .stack import AttachedStack, DevStack, Stack

ENV_FILE_VAR = "TRADEMESH_DEVSTACK_ENV_FILE"
KUBE_ENV_FILE_VAR = "TRADEMESH_KUBE_ENV_FILE"


@pytest.fixture(scope="session")
def devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running stack for the whole session: own one, or attach to $TRADEMESH_DEVSTACK_ENV_FILE."""
    env_file = os.environ.get(ENV_FILE_VAR)
    if env_file:
        yield AttachedStack.from_env_file(Path(env_file))
        return
    stack = DevStack(tmp_path_factory.mktemp("devstack"))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeClient]:
    """A kube-apiserver + etcd for the session, or the one in $TRADEMESH_KUBE_ENV_FILE."""
    env_file = os.environ.get(KUBE_ENV_FILE_VAR)
    if env_file:
        yield AttachedKube.from_env_file(Path(env_file))
        return
    server = KubeApiServer(tmp_path_factory.mktemp("kube"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def helm() -> Path:
    return install_kube().helm


@pytest.fixture(scope="session")
def built_charts(helm: Path) -> Path:
    charts.build_dependencies(helm)
    return charts.CHARTS_DIR

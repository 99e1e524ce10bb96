"""The image tier's fixtures: a Docker daemon, and every image built once per session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from trademesh_devstack.docker import Dockerd
from trademesh_devstack.images import build_all, image_dockerfiles, image_ref
from trademesh_devstack.stack import repo_root

# Not `dev`: the tests must not replace the images a developer built by hand.
TEST_TAG = "test"


@pytest.fixture(scope="session")
def root() -> Path:
    found = repo_root(Path(__file__).parent)
    assert found is not None
    return found


@pytest.fixture(scope="session")
def image_tag() -> str:
    return TEST_TAG


@pytest.fixture(scope="session")
def docker() -> Iterator[Dockerd]:
    """The running daemon, or one started for the session (and stopped after it)."""
    with Dockerd() as daemon:
        yield daemon


@pytest.fixture(scope="session")
def images(docker: Dockerd, root: Path) -> dict[str, str]:
    """service -> image reference, after building the base and every service image."""
    built = build_all(docker, root, tag=TEST_TAG)
    # Build times (warm when the layer cache holds everything) for the run's record.
    print(json.dumps({"image_build_seconds": {b.image: round(b.seconds, 1) for b in built}}))
    return {name: image_ref(name, TEST_TAG) for name in image_dockerfiles(root)}

"""Builds trademesh's images with no registry: the shared base, then one image per service.

`python -m trademesh_devstack images` builds `trademesh/base:<tag>` from docker/base on the
debootstrap-made Python image (or `--python-image`, e.g. python:3.11-slim-bookworm where a
registry is reachable), then `trademesh/<name>:<tag>` from every services/<name>/Dockerfile
and operators/<name>/Dockerfile, one at a time. Python packages come from the package index
during the build, through the host's network (`--network host`), its proxy variables and its
CA bundle (a build secret, so it stays out of the images).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._proc import DevStackError
from .docker import Dockerd, ensure_python_image
from .install import docker_cache

log = logging.getLogger("trademesh_devstack.images")

IMAGE_PREFIX = "trademesh"
BASE_NAME = "base"
DEFAULT_TAG = "dev"
IMAGE_LABEL = "io.trademesh.image"  # set by docker/base/Dockerfile and every service's
# Docker passes these predefined build args into RUN steps without an ARG line.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# One image, cold, on a busy 2-core machine takes 1 to 2 minutes; this only stops a hung build.
BUILD_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Built:
    image: str
    seconds: float


def image_ref(name: str, tag: str = DEFAULT_TAG) -> str:
    return f"{IMAGE_PREFIX}/{name}:{tag}"


# Workspace members that are images: services and operators, each with a Dockerfile.
IMAGE_DIRS = ("services", "operators")


def image_dockerfiles(root: Path) -> dict[str, Path]:
    """name -> its Dockerfile, relative to `root`, for every member with one; sorted by name."""
    found = {
        path.parent.name: path.relative_to(root)
        for folder in IMAGE_DIRS
        for path in root.glob(f"{folder}/*/Dockerfile")
    }
    return dict(sorted(found.items()))


def ca_bundle() -> Path | None:
    """The CA bundle this host trusts ($SSL_CERT_FILE, else Debian's), when there is one."""
    explicit = os.environ.get("SSL_CERT_FILE")
    for candidate in (Path(explicit) if explicit else None, SYSTEM_CA_BUNDLE):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def build(
    docker: Dockerd,
    *,
    context: Path,
    tag: str,
    dockerfile: Path | None = None,
    build_args: dict[str, str] | None = None,
    no_cache: bool = False,
) -> Built:
    """One `docker build` (BuildKit, host network); its output goes to a log under the cache."""
    argv = ["build", "--network=host", "--progress=plain", f"--tag={tag}"]
    if dockerfile is not None:
        argv.append(f"--file={dockerfile}")
    if no_cache:
        argv.append("--no-cache")
    bundle = ca_bundle()
    if bundle is not None:
        argv.append(f"--secret=id=ca-bundle,src={bundle}")
    args = {k: v for k, v in os.environ.items() if k in PROXY_VARIABLES}
    args.update(build_args or {})
    argv += [f"--build-arg={key}={value}" for key, value in sorted(args.items())]
    argv.append(str(context))
    started = time.monotonic()
    result = docker.run(argv, check=False, timeout=BUILD_TIMEOUT_S)
    seconds = time.monotonic() - started
    log_path = docker_cache() / "builds" / f"{tag.replace('/', '_').replace(':', '_')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise DevStackError(f"docker build of {tag} failed (full log {log_path}):\n{tail}")
    log.info("built %s in %.1fs", tag, seconds)
    return Built(tag, seconds)


def build_base(
    docker: Dockerd, root: Path, python_image: str, tag: str = DEFAULT_TAG, no_cache: bool = False
) -> Built:
    return build(
        docker,
        context=root / "docker" / "base",
        tag=image_ref(BASE_NAME, tag),
        build_args={"BASE_IMAGE": python_image},
        no_cache=no_cache,
    )


def build_service(
    docker: Dockerd, root: Path, service: str, tag: str = DEFAULT_TAG, no_cache: bool = False
) -> Built:
    dockerfiles = image_dockerfiles(root)
    if service not in dockerfiles:
        known = ", ".join(dockerfiles)
        raise DevStackError(f"no Dockerfile for {service!r} under {IMAGE_DIRS} (known: {known})")
    return build(
        docker,
        context=root,
        dockerfile=root / dockerfiles[service],
        tag=image_ref(service, tag),
        build_args={"BASE_IMAGE": image_ref(BASE_NAME, tag)},
        no_cache=no_cache,
    )


def build_all(
    docker: Dockerd,
    root: Path,
    *,
    python_image: str | None = None,
    tag: str = DEFAULT_TAG,
    services: Sequence[str] | None = None,
    no_cache: bool = False,
) -> list[Built]:
    """The base, then each service's image, sequentially (builds share two cores with others)."""
    chosen = list(services) if services else list(image_dockerfiles(root))
    python = python_image or ensure_python_image(docker)
    built = [build_base(docker, root, python, tag, no_cache)]
    built += [build_service(docker, root, name, tag, no_cache) for name in chosen]
    # A rebuilt tag leaves its previous image untagged; ours carry this label.
    docker.run(["image", "prune", "--force", f"--filter=label={IMAGE_LABEL}"])
    return built

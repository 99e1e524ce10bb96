"""Every service image builds, runs as a non-root user on a read-only root filesystem, and
serves its health endpoints against real Redis, PostgreSQL and Kafka."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trademesh_devstack import Stack, free_port
from trademesh_devstack._proc import DevStackError, wait_for
from trademesh_devstack.charts import chart_crds
from trademesh_devstack.docker import Dockerd, ensure_python_image, ping
from trademesh_devstack.images import BASE_NAME, build, image_dockerfiles, image_ref
from trademesh_devstack.mesh import DATABASES, SERVICES, TOPICS, readyz_ok

# The first test builds every image (the session fixture): minutes when nothing is cached.
pytestmark = [pytest.mark.images, pytest.mark.timeout(1800)]

SERVICE_UID = 10001
CAP_SYS_RESOURCE = 24
READY_TIMEOUT_S = 120.0
# What the cluster applies (charts' restricted securityContext), applied here by docker run.
RESTRICTED = ["--read-only", "--tmpfs=/tmp", "--cap-drop=ALL", "--security-opt=no-new-privileges"]


@dataclass
class Container:
    docker: Dockerd
    name: str
    http_port: int
    grpc_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def pid(self) -> int:
        return int(self.docker.run(["inspect", "--format={{.State.Pid}}", self.name]).stdout)

    def running(self) -> bool:
        out = self.docker.run(["inspect", "--format={{.State.Running}}", self.name], check=False)
        return out.stdout.strip() == "true"

    def logs(self) -> str:
        out = self.docker.run(["logs", "--tail=40", self.name], check=False)
        return out.stdout + out.stderr

    def wait_until(self, what: str, condition: Callable[[], bool]) -> None:
        """Waits for `condition`; a timeout or an exited container fails with the logs."""
        try:
            wait_for(
                f"{self.name}: {what}",
                lambda: condition() or not self.running(),
                timeout=READY_TIMEOUT_S,
                interval=0.5,
            )
        except DevStackError as exc:
            raise DevStackError(f"{exc}\n--- {self.name} logs ---\n{self.logs()}") from exc
        assert self.running(), f"{self.name} exited:\n{self.logs()}"

    def http_ok(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


def test_every_member_with_a_dockerfile_has_an_image(docker, images, root):
    assert sorted(images) == sorted(image_dockerfiles(root))
    for service, ref in images.items():
        config = json.loads(docker.run(["image", "inspect", ref]).stdout)[0]["Config"]
        assert config["User"] == f"{SERVICE_UID}:{SERVICE_UID}", service
        assert f"IMAGE_SERVICE={service}" in config["Env"]
        assert config["Entrypoint"] == ["/usr/local/bin/trademesh-service"]


def test_runtime_images_hold_the_venv_and_no_build_tools(docker, images):
    # No uv, no sources, no stub generator; the venv is root's, so the service user
    # cannot rewrite its own code.
    script = (
        "test ! -e /opt/uv && test ! -e /opt/protoc && test ! -e /src "
        '&& test ! -w /opt/venv/lib && python -c "import importlib, os; '
        "importlib.import_module('trademesh_' + os.environ['IMAGE_SERVICE'].replace('-', '_'))\""
    )
    for ref in images.values():
        docker.run(["run", "--rm", *RESTRICTED, "--entrypoint=sh", ref, "-c", script])


# The images that are servers, in the mesh's start order, and the gateway's backends.
SERVERS = SERVICES
BACKENDS = tuple(name for name in SERVICES if name != "gateway")


def gateway_targets(containers: dict[str, Container]) -> dict[str, str]:
    """TRADEMESH_<BACKEND>_TARGET for every backend, each at its container's gRPC port."""
    return {
        f"TRADEMESH_{name.upper()}_TARGET": f"127.0.0.1:{containers[name].grpc_port}"
        for name in BACKENDS
    }


@pytest.fixture(scope="module")
def mesh_of_images(
    docker: Dockerd, images: dict[str, str], devstack: Stack
) -> Iterator[dict[str, Container]]:
    """Every service with a server as a container on the host's loopback, wired like the mesh."""
    devstack.create_topics(TOPICS)
    run_id = uuid.uuid4().hex[:8]
    containers = {
        name: Container(docker, f"trademesh-test-{name}-{run_id}", free_port(), free_port())
        for name in SERVERS
    }
    per_service: dict[str, dict[str, str]] = {
        name: {"TRADEMESH_POSTGRES_DSN": devstack.create_database(f"{database}_images")}
        for name, database in DATABASES.items()
    }
    per_service["matching"] = {}
    per_service["gateway"] = gateway_targets(containers)
    try:
        for name, container in containers.items():
            env = {
                **devstack.env(),
                # Host networking: listen on loopback only, on free ports.
                "TRADEMESH_HTTP_HOST": "127.0.0.1",
                "TRADEMESH_HTTP_PORT": str(container.http_port),
                "TRADEMESH_GRPC_HOST": "127.0.0.1",
                "TRADEMESH_GRPC_PORT": str(container.grpc_port),
                **per_service[name],
            }
            docker.run(
                [
                    "run",
                    "--detach",
                    f"--name={container.name}",
                    "--network=host",
                    *RESTRICTED,
                    *(f"--env={key}={value}" for key, value in env.items()),
                    images[name],
                ]
            )
        for container in containers.values():
            container.wait_until("/readyz", lambda c=container: readyz_ok(c.url))
        yield containers
    finally:
        for container in containers.values():
            docker.run(["rm", "--force", container.name], check=False)


@pytest.mark.integration
@pytest.mark.parametrize("service", SERVERS)
def test_image_serves_health_endpoints_read_only_and_non_root(mesh_of_images, service):
    container = mesh_of_images[service]
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(container.url + path, timeout=5) as response:
            assert response.status == 200, path
    # The service process itself (PID 1 of the container), seen from the host.
    status = Path(f"/proc/{container.pid()}/status").read_text()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert {int(uid) for uid in uids} == {SERVICE_UID}
    assert "python" in Path(f"/proc/{container.pid()}/cmdline").read_text()


def test_simulator_image_runs_its_command_line(docker, images):
    # The simulator is a client with no server: its image runs the command line.
    out = docker.run(["run", "--rm", *RESTRICTED, images["simulator"], "--help"]).stdout
    assert "--gateway" in out and "--max-orders" in out


@pytest.mark.kube
def test_operator_image_joins_the_cluster_and_serves_health(docker, images, kube_api, tmp_path):
    # What the chart runs: cluster-wide, peering, its ops server on /healthz /readyz /metrics.
    files = [arg for path in chart_crds() for arg in ("-f", str(path))]
    kube_api.kubectl("apply", "--server-side", "--force-conflicts", *files)
    kube_api.kubectl("wait", "--for=condition=Established", "--timeout=120s", *files)
    peering = f"qas-image-{uuid.uuid4().hex[:8]}"
    kube_api.apply(
        {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": peering}}
    )
    # Readable by the image's user inside the container (pytest's tmp files are root's).
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(Path(kube_api.kubeconfig).read_text())
    kubeconfig.chmod(0o644)
    container = Container(docker, f"trademesh-test-operator-{uuid.uuid4().hex[:8]}", free_port(), 0)
    env = {
        "KUBECONFIG": "/etc/trademesh/kubeconfig",
        "TRADEMESH_QAS_PEERING": peering,
        "TRADEMESH_QAS_OPS_HOST": "127.0.0.1",
        "TRADEMESH_QAS_OPS_PORT": str(container.http_port),
    }
    try:
        docker.run(
            [
                "run",
                "--detach",
                f"--name={container.name}",
                "--network=host",
                *RESTRICTED,
                f"--volume={kubeconfig}:/etc/trademesh/kubeconfig:ro",
                *(f"--env={key}={value}" for key, value in env.items()),
                images["queue-autoscaler"],
            ]
        )

        def joined() -> bool:
            found = kube_api.kubectl("get", "clusterkopfpeering", peering, "-o", "json")
            return bool(json.loads(found.stdout).get("status"))

        container.wait_until("/readyz", lambda: readyz_ok(container.url))
        # It talks to the API server: kopf announces itself in the peering object.
        container.wait_until("in the peering", joined)
        with urllib.request.urlopen(container.url + "/metrics", timeout=5) as response:
            assert b"queue_autoscaler_poll_seconds" in response.read()
        status = Path(f"/proc/{container.pid()}/status").read_text()
        uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
        assert {int(uid) for uid in uids} == {SERVICE_UID}
    finally:
        docker.run(["rm", "--force", container.name], check=False)


def test_privileged_containers_start_through_the_runc_wrapper(docker):
    # kind runs its nodes --privileged; this VM's bounding set lacks CAP_SYS_RESOURCE.
    image = ensure_python_image(docker)
    out = docker.run(
        ["run", "--rm", "--privileged", image, "grep", "CapBnd", "/proc/self/status"]
    ).stdout
    bounding = int(out.split()[1], 16)
    assert not bounding & (1 << CAP_SYS_RESOURCE)
    assert bounding & (1 << 21)  # CAP_SYS_ADMIN: privileged indeed


def test_the_daemon_outlives_a_session_that_leaves_while_another_uses_it(docker):
    # Sessions share one dockerd. This session leaving first (even as the one that
    # started it) must not stop the daemon under another session's containers.
    other = Dockerd(docker.sock, docker.data_root, docker.log_path).start()
    try:
        docker.stop()
        assert ping(docker.sock)
        assert docker.run(["version", "--format={{.Server.Version}}"]).stdout.strip()
    finally:
        docker.start()  # back for the rest of this session; the last one out stops it
        other.stop()
    assert ping(docker.sock)


@pytest.mark.integration
def test_dev_image_restarts_the_service_when_a_synced_source_changes(
    docker, image_tag, devstack, root, mesh_of_images
):
    # What skaffold's dev profile builds and runs: the venv owned by the service user,
    # SERVICE_RELOAD=1, the root filesystem writable; then a file sync (here: docker exec).
    image = image_ref("gateway", f"{image_tag}-dev")
    build(
        docker,
        context=root,
        dockerfile=root / "services" / "gateway" / "Dockerfile",
        tag=image,
        build_args={"BASE_IMAGE": image_ref(BASE_NAME, image_tag), "VENV_OWNER": "10001:10001"},
    )
    container = Container(docker, f"trademesh-test-dev-{uuid.uuid4().hex[:8]}", free_port(), 0)
    env = {
        **devstack.env(),
        "SERVICE_RELOAD": "1",
        "TRADEMESH_HTTP_HOST": "127.0.0.1",
        "TRADEMESH_HTTP_PORT": str(container.http_port),
        "TRADEMESH_GRPC_HOST": "127.0.0.1",
        "TRADEMESH_GRPC_PORT": str(free_port()),
        # The backends the gateway checks are the mesh's containers, not whatever may
        # answer on the default ports of this shared host.
        **gateway_targets(mesh_of_images),
    }
    started = "service started"
    try:
        docker.run(
            [
                "run",
                "--detach",
                f"--name={container.name}",
                "--network=host",
                "--tmpfs=/tmp",
                *(f"--env={key}={value}" for key, value in env.items()),
                image,
            ]
        )
        # The container outlives a crashed service (watchfiles waits for an edit): its
        # logs, which hold the traceback, come with a timeout.
        container.wait_until("/readyz", lambda: container.http_ok("/readyz"))
        assert container.logs().count(started) == 1
        site = "/opt/venv/lib/python3.11/site-packages"
        docker.run(
            [
                "exec",
                container.name,
                "sh",
                "-c",
                f"echo '# synced edit' >> {site}/trademesh_gateway/errors.py",
            ]
        )
        container.wait_until(
            "restarted by watchfiles",
            lambda: container.logs().count(started) == 2 and container.http_ok("/readyz"),
        )
    finally:
        docker.run(["rm", "--force", container.name], check=False)

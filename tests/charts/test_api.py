"""The charts against a real kube-apiserver (with etcd and the ServiceMonitor,
PrometheusRule and cert-manager CRDs): server-side dry-run of every rendered object, a
Pod Security "restricted" namespace admitting every pod, `helm install` and `helm upgrade`
of the umbrella, and two colours installed side by side.

There is no kubelet or controller manager: pods never run and hook Jobs never complete, so
installs use --no-hooks and the hook objects are dry-run against the server instead.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from trademesh_devstack import charts
from trademesh_devstack.charts import Render, ci_values
from trademesh_devstack.kube import KubeClient

from .conftest import make_namespace

pytestmark = pytest.mark.kube


def dry_run(kube: KubeClient, objects: list[charts.Obj], *verb: str) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": objects}
    proc = kube.kubectl(
        "--warnings-as-errors",
        *verb,
        "--dry-run=server",
        "-f",
        "-",
        input=json.dumps(doc),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("values", charts.ci_values_files(), ids=lambda p: p.name)
def test_every_rendered_object_is_accepted_by_the_api_server(
    kube: KubeClient, render: Render, values: Path
):
    namespace = make_namespace(kube, f"dry-{values.name.removesuffix('-values.yaml')}")
    release = "trademesh-green" if values.name == "green-values.yaml" else "trademesh"
    objects = render([values], release=release, namespace=namespace)
    # Server-side apply, with Pod Security warnings on workload templates made fatal.
    dry_run(kube, objects, "apply", "--server-side", "--field-manager=trademesh-tests")
    # And every pod as the namespace's enforcing admission sees it.
    pods = [pod.as_pod() for pod in charts.pod_templates(objects)]
    dry_run(kube, pods, "create")


def test_a_privileged_pod_is_refused_by_the_restricted_namespace(kube: KubeClient, render: Render):
    """The check above can fail: the namespace really enforces "restricted"."""
    namespace = make_namespace(kube, "dry-refusal")
    pod = charts.pod_templates(render(namespace=namespace))[0].as_pod()
    pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    proc = kube.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert proc.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in proc.stderr


@pytest.fixture(scope="module")
def installed(kube: KubeClient, built_charts: Path) -> Iterator[str]:
    namespace = make_namespace(kube, "trademesh")
    proc = kube.helm(
        "install", "trademesh", str(charts.UMBRELLA), "--namespace", namespace, "--no-hooks"
    )
    assert "PodSecurity" not in proc.stderr, proc.stderr
    yield namespace
    kube.helm("uninstall", "trademesh", "--namespace", namespace, "--no-hooks", check=False)


def test_helm_install_of_the_defaults_creates_every_object(
    kube: KubeClient, installed: str, render: Render
):
    status = json.loads(kube.helm("status", "trademesh", "-n", installed, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"
    expected = {
        (o["kind"], o["metadata"]["name"])
        for o in render(namespace=installed)
        if "helm.sh/hook" not in o["metadata"].get("annotations", {})
    }
    kinds = sorted({kind for kind, _ in expected})
    listed = json.loads(kube.kubectl("get", ",".join(kinds), "-n", installed, "-o", "json").stdout)
    found = {(o["kind"], o["metadata"]["name"]) for o in listed["items"]}
    assert expected - found == set()
    manifest = kube.helm("get", "manifest", "trademesh", "-n", installed).stdout
    assert len([d for d in yaml.safe_load_all(manifest) if d]) == len(expected)


def test_the_hooks_of_the_installed_release_are_accepted(kube: KubeClient, installed: str):
    hooks = kube.helm("get", "hooks", "trademesh", "-n", installed).stdout
    jobs = [d for d in yaml.safe_load_all(hooks) if d]
    assert {j["metadata"]["name"] for j in jobs} >= {"trademesh-databases", "trademesh-topics"}
    dry_run(kube, jobs, "apply", "--server-side", "--field-manager=trademesh-tests")


def upgrade_blue(kube: KubeClient, namespace: str, *args: str) -> None:
    kube.helm(
        "upgrade", "trademesh", str(charts.UMBRELLA), "--namespace", namespace,
        "--reuse-values", "--no-hooks", *args,
    )  # fmt: skip


def test_generated_passwords_survive_an_upgrade(kube: KubeClient, installed: str):
    def secret(name: str) -> dict[str, str]:
        return kube.get("secret", name, installed)["data"]

    before = {name: secret(name) for name in ("trademesh-postgres-users", "trademesh-redis")}
    upgrade_blue(kube, installed)
    after = {name: secret(name) for name in before}
    assert after == before


def test_a_second_colour_installs_beside_and_takes_the_traffic(kube: KubeClient, installed: str):
    kube.helm(
        "install",
        "trademesh-green",
        str(charts.UMBRELLA),
        "-n",
        installed,
        "--values",
        str(ci_values("green")),
        "--no-hooks",
    )
    try:
        green = kube.get("deployment", "trademesh-green-gateway", installed)
        assert green["spec"]["template"]["metadata"]["labels"]["trademesh.io/color"] == "green"
        live = kube.get("service", "trademesh-gateway-live", installed)
        assert live["spec"]["selector"]["trademesh.io/color"] == "blue"
        upgrade_blue(kube, installed, "--set", "liveService.activeColor=green")
        live = kube.get("service", "trademesh-gateway-live", installed)
        assert live["spec"]["selector"]["trademesh.io/color"] == "green"
    finally:
        kube.helm("uninstall", "trademesh-green", "-n", installed, "--no-hooks", check=False)


def test_helm_install_refuses_schema_invalid_values(kube: KubeClient, installed: str):
    proc = kube.helm(
        "install",
        "broken",
        str(charts.UMBRELLA),
        "-n",
        installed,
        "--no-hooks",
        "--set",
        "global.color=purple",
        check=False,
    )
    assert proc.returncode != 0
    assert "global.color" in proc.stderr or "color" in proc.stderr, proc.stderr
    assert "values don't meet the specifications of the schema" in proc.stderr

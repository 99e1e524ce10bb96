"""skaffold.yaml is valid for skaffold (its own JSON schema, every profile applied), covers
every service image, and the kind cluster and Dockerfiles follow the documented pattern."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from trademesh_devstack.images import image_dockerfiles
from trademesh_devstack.install import SKAFFOLD_API_VERSION, ensure_skaffold_schema

pytestmark = pytest.mark.images

PROFILES = ("kind", "host-network", "dev", "prod")
GATEWAY_NODE_PORT = 30080
# The umbrella chart's key for an image whose name is not its chart's.
CHART_KEYS = {"queue-autoscaler": "operator"}


def chart_key(image: str) -> str:
    return CHART_KEYS.get(image, image)


@pytest.fixture(scope="module")
def skaffold(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "skaffold.yaml").read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(ensure_skaffold_schema().read_text())
    return jsonschema.Draft7Validator(schema)


def apply_profile(config: dict[str, Any], name: str) -> dict[str, Any]:
    """What skaffold does with `-p name`: its sections over the config, then its patches."""
    profile = next(p for p in config["profiles"] if p["name"] == name)
    result = copy.deepcopy({k: v for k, v in config.items() if k != "profiles"})
    for section in ("build", "deploy", "manifests"):
        for key, value in profile.get(section, {}).items():
            result.setdefault(section, {})[key] = copy.deepcopy(value)
    if "googleCloudBuild" in profile.get("build", {}):
        result["build"].pop("local", None)  # one build type at a time
    for patch in profile.get("patches", []):
        pointer = patch["path"][1:].split("/")
        *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in pointer]
        target: Any = result
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if patch["op"] == "replace":
            assert last in target, f"{name}: nothing to replace at {patch['path']}"
        else:
            assert patch["op"] == "add", patch
        target[last] = copy.deepcopy(patch["value"])
    return result


def errors(validator: jsonschema.Draft7Validator, config: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(config)
    ]


def test_skaffold_config_meets_skaffolds_schema(skaffold, validator):
    assert skaffold["apiVersion"] == f"skaffold/{SKAFFOLD_API_VERSION}"
    assert errors(validator, skaffold) == []
    assert [p["name"] for p in skaffold["profiles"]] == list(PROFILES)


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_applied_meets_the_schema(skaffold, validator, profile):
    assert errors(validator, apply_profile(skaffold, profile)) == []


def test_the_schema_refuses_a_misspelt_field(skaffold, validator):
    broken = copy.deepcopy(skaffold)
    broken["build"]["artifacts"][1]["docker"]["dockerfiel"] = "Dockerfile"
    assert errors(validator, broken)


def service_artifacts(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        a["image"].removeprefix("trademesh/"): a
        for a in config["build"]["artifacts"]
        if a["image"] != "trademesh/base"
    }


def test_every_service_image_is_an_artifact_on_the_base_and_deployed(skaffold, root):
    dockerfiles = image_dockerfiles(root)
    services = list(dockerfiles)
    artifacts = service_artifacts(skaffold)
    assert sorted(artifacts) == services
    assert skaffold["build"]["artifacts"][0]["image"] == "trademesh/base"
    templates = skaffold["deploy"]["helm"]["releases"][0]["setValueTemplates"]
    for name in services:
        artifact = artifacts[name]
        assert artifact["docker"]["dockerfile"] == str(dockerfiles[name])
        assert artifact["requires"] == [{"image": "trademesh/base", "alias": "BASE_IMAGE"}]
        key = "trademesh_" + name.replace("-", "_")
        chart = chart_key(name)
        assert templates[f"{chart}.image.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
        assert templates[f"{chart}.image.tag"] == f"{{{{.IMAGE_TAG_{key}}}}}"
        synced = {rule["src"] for rule in artifact["sync"]["manual"]}
        assert f"{dockerfiles[name].parent}/src/**/*.py" in synced


def test_profiles_reach_every_service_artifact(skaffold, root):
    services = list(image_dockerfiles(root))
    dev = apply_profile(skaffold, "dev")
    templates = dev["deploy"]["helm"]["releases"][0]["setValueTemplates"]
    for name, artifact in service_artifacts(dev).items():
        assert artifact["docker"]["buildArgs"] == {"VENV_OWNER": "10001:10001"}
        assert templates[f"{chart_key(name)}.env.SERVICE_RELOAD"] == "1"
        assert templates[f"{chart_key(name)}.securityContext.readOnlyRootFilesystem"] == "false"
    host = apply_profile(skaffold, "host-network")
    assert {a["docker"].get("network") for a in host["build"]["artifacts"]} == {"host"}
    for artifact in service_artifacts(host).values():
        assert artifact["docker"]["secrets"][0]["id"] == "ca-bundle"
    prod = apply_profile(skaffold, "prod")
    prod_templates = prod["deploy"]["helm"]["releases"][0]["setValueTemplates"]
    assert {f"{chart_key(name)}.image.digest" for name in services} <= set(prod_templates)
    assert "local" not in prod["build"] and prod["build"]["googleCloudBuild"] is not None


def test_each_image_is_the_default_image_of_its_umbrella_dependency(root):
    umbrella = yaml.safe_load((root / "charts" / "trademesh" / "Chart.yaml").read_text())
    dependencies = {d["name"]: d for d in umbrella["dependencies"]}
    for name in image_dockerfiles(root):
        chart = chart_key(name)
        assert dependencies[chart]["condition"] == f"{chart}.enabled", name
        values = yaml.safe_load((root / "charts" / chart / "values.yaml").read_text())
        assert values["image"]["repository"] == f"trademesh/{name}", chart


def test_kind_cluster_has_a_control_plane_two_workers_and_the_gateway_port(root, skaffold):
    cluster = yaml.safe_load((root / "k8s" / "kind.yaml").read_text())
    assert cluster["kind"] == "Cluster" and cluster["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [node["role"] for node in cluster["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]
    mappings = cluster["nodes"][0]["extraPortMappings"]
    assert {"containerPort": GATEWAY_NODE_PORT, "hostPort": GATEWAY_NODE_PORT}.items() <= (
        mappings[0].items()
    )
    kind = apply_profile(skaffold, "kind")
    values = kind["deploy"]["helm"]["releases"][0]["setValues"]
    assert values["liveService.type"] == "NodePort"
    assert values["liveService.nodePort"] == GATEWAY_NODE_PORT
    assert kind["deploy"]["kubeContext"] == f"kind-{cluster['name']}"


def test_service_dockerfiles_differ_only_in_their_service_name(root):
    def normalised(path: Path) -> list[str]:
        lines = path.read_text().splitlines()
        names = [line for line in lines if line.startswith("ARG SERVICE=")]
        assert names == [f"ARG SERVICE={path.parent.name}"], path
        return [line for line in lines if not line.startswith("ARG SERVICE=")]

    dockerfiles = [root / path for path in image_dockerfiles(root).values()]
    assert len(dockerfiles) >= 3
    first = normalised(dockerfiles[0])
    for other in dockerfiles[1:]:
        assert normalised(other) == first, other

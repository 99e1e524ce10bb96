"""The container tooling's pure parts: the runc wrapper, the mirror lookup, image discovery."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from trademesh_devstack.images import image_dockerfiles
from trademesh_devstack.install import DEFAULT_MIRROR, debian_mirror, ensure_runc_wrapper

CAPS = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]
KINDS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def wrapper_around(tmp_path: Path, runc: str) -> Path:
    return ensure_runc_wrapper(Path(runc), path=tmp_path / "runc-wrapper")


def test_create_drops_sys_resource_from_every_capability_list(tmp_path):
    wrapper = wrapper_around(tmp_path, "/bin/true")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    config = {"ociVersion": "1.0.2", "process": {"capabilities": {k: CAPS for k in KINDS}}}
    (bundle / "config.json").write_text(json.dumps(config))
    subprocess.run(
        [str(wrapper), "--root", "/run/x", "create", "--bundle", str(bundle), "c1"], check=True
    )
    caps = json.loads((bundle / "config.json").read_text())["process"]["capabilities"]
    expected = [c for c in CAPS if c != "CAP_SYS_RESOURCE"]
    assert caps == {k: expected for k in KINDS}


def test_exec_process_file_is_edited_and_other_calls_pass_through(tmp_path):
    wrapper = wrapper_around(tmp_path, "/bin/echo")
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["sh"], "capabilities": {"bounding": CAPS}}))
    out = subprocess.run(
        [str(wrapper), "exec", f"--process={process}", "c1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"exec --process={process} c1"  # argv untouched
    assert "CAP_SYS_RESOURCE" not in json.loads(process.read_text())["capabilities"]["bounding"]
    state = subprocess.run(
        [str(wrapper), "state", "c1"], capture_output=True, text=True, check=True
    )
    assert state.stdout.strip() == "state c1"


def test_wrapper_is_rewritten_only_when_its_text_changes(tmp_path):
    first = wrapper_around(tmp_path, "/usr/sbin/runc")
    written = first.stat().st_mtime_ns
    assert wrapper_around(tmp_path, "/usr/sbin/runc").stat().st_mtime_ns == written
    assert '"/usr/bin/runc"' in wrapper_around(tmp_path, "/usr/bin/runc").read_text()


def test_mirror_comes_from_deb822_sources_for_bookworm_main(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n"
        "URIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
        "\n"
        "Types: deb\n"
        "# a comment inside the stanza\n"
        "URIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main contrib\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_falls_back_to_one_line_sources_then_to_deb_debian_org(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    assert debian_mirror(tmp_path) == DEFAULT_MIRROR
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://old.example/debian bookworm main\n"
    )
    assert debian_mirror(tmp_path) == "http://old.example/debian"


def test_images_are_every_service_and_operator_with_a_dockerfile(tmp_path):
    for member in ("services/order", "services/no-image", "operators/queue-autoscaler"):
        (tmp_path / member).mkdir(parents=True)
    (tmp_path / "services/order/Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "operators/queue-autoscaler/Dockerfile").write_text("FROM scratch\n")
    assert image_dockerfiles(tmp_path) == {
        "order": Path("services/order/Dockerfile"),
        "queue-autoscaler": Path("operators/queue-autoscaler/Dockerfile"),
    }

"""`python -m trademesh_devstack install|up|mesh|pki|kube-up|images|dockerd|blue-green`: the CLI."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from . import charts
from ._proc import DevStackError, tail
from .bluegreen import COLOURS, BlueGreen
from .docker import Dockerd
from .images import DEFAULT_TAG, build_all
from .install import (
    KAFKA_VERSION,
    cache_root,
    ensure_skaffold_schema,
    install_all,
    install_container_tools,
    install_kube,
)
from .kube import KubeApiServer, KubeClient
from .mesh import Mesh
from .pki import DEFAULT_NAMESPACE, LEAF_LIFETIME, LocalCA, describe
from .stack import DevStack, default_state_dir, repo_root

log = logging.getLogger("trademesh_devstack")

# Paper accounts in the local demo start with some stock, so there is something to sell.
DEMO_POSITIONS = "AAPL:1000,MSFT:1000,GOOGL:1000,AMZN:1000,NVDA:1000"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trademesh_devstack",
        description="Install and run real Redis, PostgreSQL and Kafka on 127.0.0.1.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser(
        "install",
        help="install Debian packages, the Kafka jars, the kube tools and the image build tools",
    )
    inst.add_argument("--kafka-version", default=KAFKA_VERSION)
    inst.add_argument(
        "--no-kube", action="store_true", help="skip etcd, kube-apiserver, kubectl, helm, CRDs"
    )
    kube = sub.add_parser(
        "kube-up",
        help="start etcd + kube-apiserver, write an admin kubeconfig, run until SIGINT/SIGTERM",
    )
    kube.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="write the admin kubeconfig here (default: <state dir>/kubeconfig)",
    )
    kube.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="key material, logs, tool caches (default: <repo>/.devstack/kube)",
    )
    kube.add_argument("--env-file", type=Path, default=None, help="also write the env JSON here")
    kube.add_argument("--crds", action="store_true", help="install the pinned CRDs once up")
    kube.add_argument("--no-install", action="store_true", help="skip the install step")
    images = sub.add_parser(
        "images",
        help="build the base image and every service image with no registry (starts dockerd "
        "when none runs, and stops it again)",
    )
    images.add_argument(
        "--python-image",
        default=None,
        help="BASE_IMAGE of the shared base (default: a bookworm image made with debootstrap; "
        "python:3.11-slim-bookworm where a registry is reachable)",
    )
    images.add_argument("--tag", default=DEFAULT_TAG, help="tag of every image built")
    images.add_argument(
        "--service", action="append", default=[], help="only this service (repeatable)"
    )
    images.add_argument("--no-cache", action="store_true", help="ignore Docker's layer cache")
    sub.add_parser(
        "dockerd",
        help="start dockerd (runc wrapper as default runtime) unless one runs; "
        "keep it until SIGINT/SIGTERM",
    )
    up = sub.add_parser("up", help="install, start, print the env, run until SIGINT/SIGTERM")
    up.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the servers keep data and logs (default: <repo>/.devstack/dev)",
    )
    up.add_argument("--env-file", type=Path, default=None, help="also write the env JSON here")
    up.add_argument("--no-install", action="store_true", help="skip the install step")
    up.add_argument("--kafka-version", default=KAFKA_VERSION)
    up.add_argument(
        "--tls",
        action="store_true",
        help="mutual TLS everywhere: Kafka, Redis, PostgreSQL and (mesh) every service hop",
    )
    mesh = sub.add_parser(
        "mesh",
        parents=[],
        help="like up, then start every service as a local process and print the gateway URL",
    )
    for action in up._actions[1:]:  # the same options as `up`
        mesh._add_action(action)
    pki = sub.add_parser("pki", help="the local CA: issue, rotate and show service certificates")
    pki.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="the CA's folder (default: <repo>/.devstack/dev/pki, gitignored)",
    )
    pki_sub = pki.add_subparsers(dest="pki_command", required=True)
    pki_sub.add_parser("init", help="create the root CA unless it exists")
    for verb, text in (("issue", "issue"), ("rotate", "re-issue (same paths)")):
        leaf = pki_sub.add_parser(verb, help=f"{text} a certificate per named service")
        leaf.add_argument("services", nargs="+")
        leaf.add_argument("--namespace", default=DEFAULT_NAMESPACE)
        leaf.add_argument("--hours", type=float, default=LEAF_LIFETIME.total_seconds() / 3600)
    show = pki_sub.add_parser("show", help="subject, SPIFFE ID and validity of a certificate")
    show.add_argument("paths", nargs="+", type=Path)

    bg = sub.add_parser(
        "blue-green",
        help="blue-green releases on the cluster of $KUBECONFIG (the steps CI runs)",
        description="Deploy the colour that is not live and wait for it, cut the live "
        "Service over, or roll back. kubectl and helm come from PATH.",
    )
    bg.add_argument("--namespace", "-n", required=True)
    bg.add_argument("--stack", default="trademesh", help="the owner release (blue)")
    bg.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for a colour")
    bg_sub = bg.add_subparsers(dest="bg_command", required=True)
    bg_sub.add_parser("status", help="the live colour and each colour's workloads, as JSON")
    deploy = bg_sub.add_parser("deploy", help="upgrade the idle colour, wait until available")
    deploy.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    deploy.add_argument(
        "--helm-arg", dest="helm_args", action="append", default=[], help="passed to helm"
    )
    cutover = bg_sub.add_parser("cutover", help="send the traffic to COLOUR once available")
    cutover.add_argument("colour", choices=COLOURS)
    bg_sub.add_parser("rollback", help="send the traffic back to the other colour")
    return parser


def _ambient_kube() -> KubeClient:
    """The cluster CI deploys to: $KUBECONFIG (or ~/.kube/config), kubectl and helm on PATH."""
    tools = {name: shutil.which(name) for name in ("kubectl", "helm")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        raise DevStackError(f"blue-green needs {' and '.join(missing)} on PATH")
    kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return KubeClient(
        Path(kubeconfig),
        kubectl=Path(str(tools["kubectl"])),
        helm=Path(str(tools["helm"])),
        tool_dir=cache_root() / "blue-green",
    )


def _blue_green(args: argparse.Namespace) -> int:
    kube = _ambient_kube()
    stack = BlueGreen(kube, args.namespace, args.stack)
    if args.bg_command == "status":
        states = {
            colour: [dataclasses.asdict(state) for state in stack.workloads(colour)]
            for colour in COLOURS
        }
        print(json.dumps({"live": stack.live_colour(), "workloads": states}))
        return 0
    charts.build_dependencies(kube.helm_path)
    if args.bg_command == "deploy":
        colour = stack.deploy(args.sets, args.helm_args, args.timeout)
        print(json.dumps({"deployed": colour, "live": stack.live_colour()}))
    elif args.bg_command == "cutover":
        stack.cutover(args.colour, args.timeout)
        print(json.dumps({"live": stack.live_colour()}))
    else:
        print(json.dumps({"live": stack.rollback(args.timeout)}))
    return 0


def _pki(args: argparse.Namespace) -> int:
    directory = args.dir or default_state_dir() / "pki"
    if args.pki_command == "show":
        for path in args.paths:
            print(json.dumps({"path": str(path), **describe(path)}))
        return 0
    ca = LocalCA(directory).ensure()
    if args.pki_command == "init":
        print(json.dumps({"ca": str(ca.cert_path), **describe(ca.cert_path)}))
        return 0
    for service in args.services:
        files = ca.issue(service, args.namespace, lifetime=datetime.timedelta(hours=args.hours))
        print(json.dumps({"service": service, **files.tls_env(), **describe(files.cert)}))
    return 0


def _install(args: argparse.Namespace) -> int:
    started = time.monotonic()
    kafka = install_all(args.kafka_version)
    print(f"installed: kafka {kafka.version} at {kafka.home}", file=sys.stderr)
    if not args.no_kube:
        kube = install_kube()
        for name, seconds in kube.build_seconds.items():
            print(f"built: {name} in {seconds:.0f}s (go build)", file=sys.stderr)
        print(
            f"installed: etcd {kube.etcd}, kube-apiserver + kubectl "
            f"{kube.kubernetes_version} in {kube.kube_apiserver.parent}, "
            f"helm {kube.helm_version} at {kube.helm}, {len(kube.crds)} CRDs in "
            f"{cache_root() / 'crds'}",
            file=sys.stderr,
        )
    rootfs = install_container_tools()
    print(f"installed: docker.io, debootstrap, base root filesystem {rootfs}", file=sys.stderr)
    print(f"installed: skaffold schema {ensure_skaffold_schema()}", file=sys.stderr)
    print(f"install took {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


def _images(args: argparse.Namespace) -> int:
    root = repo_root()
    if root is None:
        raise DevStackError("run `images` inside the repository (no uv.lock above the cwd)")
    started = time.monotonic()
    with Dockerd() as docker:
        built = build_all(
            docker,
            root,
            python_image=args.python_image,
            tag=args.tag,
            services=args.service,
            no_cache=args.no_cache,
        )
    report = {
        "images": {item.image: round(item.seconds, 1) for item in built},
        "total_seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report))
    return 0


def _dockerd() -> int:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    with Dockerd() as docker:
        # Held until Ctrl-C either way: the last session to leave stops the daemon.
        how = "started" if docker.owned else "already running"
        print(
            f"dockerd {how}: DOCKER_HOST={docker.host}; Ctrl-C to leave it",
            file=sys.stderr,
            flush=True,
        )
        stopping.wait()
    return 0


class _Stop(BaseException):  # like KeyboardInterrupt: not caught by `except Exception`
    pass


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    # Once: a second Ctrl-C must not interrupt the clean-up the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def _up(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir()
    stack = DevStack(
        state_dir, install=not args.no_install, kafka_version=args.kafka_version, tls=args.tls
    )
    # While starting, SIGTERM/SIGINT unwind through start(), which stops what it had started.
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        stack.start()
    except _Stop as why:
        print(f"devstack: interrupted by {why} while starting", file=sys.stderr)
        return 130
    env = stack.env()
    if args.env_file is not None:
        stack.write_env_file(args.env_file)
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    print(json.dumps(env), flush=True)
    print(
        f"devstack up in {stack.state_dir} ({stack.timings()}); env file "
        f"{stack.state_dir / 'env.json'}; Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    code = 0
    # name -> (is it running?, its log)
    watched = {
        name: (server.running, server.log_path)
        for name, server in (
            ("redis", stack.redis),
            ("postgres", stack.postgres),
            ("kafka", stack.kafka),
        )
    }
    services = None
    if args.command == "mesh":
        services = Mesh(
            stack,
            stack.state_dir,
            extra_env={"order": {"TRADEMESH_PAPER_STARTING_POSITIONS": DEMO_POSITIONS}},
            tls=args.tls,
        )
        try:
            services.start()
        except (DevStackError, _Stop) as exc:
            services.stop()
            stack.stop()
            print(f"devstack: the services did not start: {exc}", file=sys.stderr)
            return 1
        print(
            f"trademesh is up: gateway {services.gateway_url}/api/v1 "
            f"(OpenAPI at {services.gateway_url}/api/v1/openapi.json); "
            f"service logs in {stack.state_dir / 'logs'}; Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        for name, service in services.services.items():
            assert service.process is not None
            watched[name] = (service.process.alive, service.log_path)
    while not stopping.wait(1.0):
        dead = [name for name, (running, _) in watched.items() if not running()]
        if dead:
            for name in dead:
                print(f"devstack: {name} exited unexpectedly; its log:", file=sys.stderr)
                print(tail(watched[name][1]), file=sys.stderr)
            code = 1
            break
    if services is not None:
        services.stop()
    stack.stop()
    print("devstack stopped", file=sys.stderr)
    return code


def _kube_up(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir().parent / "kube"
    server = KubeApiServer(state_dir, kubeconfig=args.kubeconfig, install=not args.no_install)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        server.start()
        if args.crds:
            server.install_crds()
    except _Stop as why:
        server.stop()
        print(f"kube-up: interrupted by {why} while starting", file=sys.stderr)
        return 130
    except DevStackError:
        server.stop()
        raise
    env = server.env()
    if args.env_file is not None:
        args.env_file.write_text(json.dumps(env, indent=2) + "\n")
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    print(json.dumps(env), flush=True)
    print(
        f"kube-apiserver up at {server.url} (kubeconfig {server.kubeconfig}; logs in "
        f"{server.state_dir / 'logs'}); no controllers run; Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    code = 0
    while not stopping.wait(1.0):
        if not server.running():
            print("kube-up: etcd or kube-apiserver exited unexpectedly:", file=sys.stderr)
            print(tail(server.apiserver_log), file=sys.stderr)
            print(tail(server.etcd_log), file=sys.stderr)
            code = 1
            break
    server.stop()
    print("kube-up stopped", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("trademesh_devstack.rdkafka").setLevel(logging.ERROR)
    try:
        if args.command == "install":
            return _install(args)
        if args.command == "kube-up":
            return _kube_up(args)
        if args.command == "images":
            return _images(args)
        if args.command == "dockerd":
            return _dockerd()
        if args.command == "pki":
            return _pki(args)
        if args.command == "blue-green":
            return _blue_green(args)
        return _up(args)
    except DevStackError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

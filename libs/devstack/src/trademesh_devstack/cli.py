"""`python -m trademesh_devstack install|up|mesh|kube-up`: the command line of the dev stack."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from ._proc import DevStackError, tail
from .install import KAFKA_VERSION, install_all, install_kube
from .kube import KubeApiServer
from .mesh import Mesh
from .stack import DevStack, default_state_dir

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
        "install", help="install Debian packages, the Kafka jars and the kube tools, only"
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
    mesh = sub.add_parser(
        "mesh",
        parents=[],
        help="like up, then start every service as a local process and print the gateway URL",
    )
    for action in up._actions[1:]:  # the same options as `up`
        mesh._add_action(action)
    return parser


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
            f"{kube.crds and next(iter(kube.crds.values())).parent.parent}",
            file=sys.stderr,
        )
    print(f"install took {time.monotonic() - started:.1f}s", file=sys.stderr)
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
    stack = DevStack(state_dir, install=not args.no_install, kafka_version=args.kafka_version)
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
        return _up(args)
    except DevStackError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

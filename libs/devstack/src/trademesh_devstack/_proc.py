"""Process plumbing shared by the servers: free ports, log tails, readiness waits, clean stops.

Every server runs in its own session (so its own process group), which lets a stop signal the
whole group and lets the reaper below clean up after a parent that died without stopping it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger("trademesh_devstack")

LOG_TAIL_LINES = 40


class DevStackError(RuntimeError):
    """Anything that stops the dev stack from installing, starting or answering."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to :0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file, or a note that there is none."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    kept = data.splitlines()[-lines:]
    return "\n".join(kept) if kept else f"(log {path} is empty)"


PORT_CLASH = "Address already in use"
_ERROR_MARKS = (" ERROR ", " FATAL ", "FATAL:", "ERROR:", "# Warning", PORT_CLASH)
MAX_ERROR_LINES = 10


def error_lines(path: Path, limit: int = MAX_ERROR_LINES) -> list[str]:
    """The first error-looking lines of a log (a failed JVM logs pages of shutdown after them)."""
    try:
        with path.open("rb") as fh:
            text = fh.read(4 * 1024 * 1024).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if any(m in line for m in _ERROR_MARKS)][:limit]


def failure(message: str, logs: Sequence[Path]) -> DevStackError:
    """A DevStackError whose text carries each log's first error lines and its tail."""
    parts = [message]
    for path in logs:
        errors = error_lines(path)
        if errors:
            parts.append(f"--- first error lines of {path} ---\n" + "\n".join(errors))
        parts.append(f"--- last lines of {path} ---\n{tail(path)}")
    return DevStackError("\n".join(parts))


# --------------------------------------------------------------------------- reaper
# A tiny watchdog process that owns nothing but a pipe from us. We tell it each process group we
# start ("+PGID SIG") and stop ("-PGID"). When the pipe closes while groups are still registered
# (the parent was SIGKILLed, crashed in C, or exited without stopping), it signals those groups,
# waits a little, and kills them. That covers the cases atexit cannot.
_REAPER_SRC = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups = {}
for line in sys.stdin:
    line = line.strip()
    if line.startswith("+"):
        pgid, sig = line[1:].split()
        groups[int(pgid)] = int(sig)
    elif line.startswith("-"):
        groups.pop(int(line[1:]), None)
def alive(pgid):
    # Zombies (dead, not yet reaped by whoever inherited them) do not count.
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in "ZX":
                return True
    return False
for pgid, sig in groups.items():
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass
deadline = time.monotonic() + 10
while time.monotonic() < deadline and any(alive(p) for p in groups):
    time.sleep(0.2)
for pgid in groups:
    if alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
"""


class _Reaper:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._pid_owner = 0

    def _pipe(self) -> IO[str] | None:
        # A forked child must not write into its parent's reaper.
        if self._proc is None or self._pid_owner != os.getpid():
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", "-c", _REAPER_SRC],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                    close_fds=True,
                )
                self._pid_owner = os.getpid()
            except OSError as exc:  # the reaper is a safety net, never a reason to fail
                log.warning("could not start the devstack reaper: %s", exc)
                return None
        return self._proc.stdin

    def _send(self, line: str) -> None:
        with self._lock:
            pipe = self._pipe()
            if pipe is None:
                return
            try:
                pipe.write(line + "\n")
                pipe.flush()
            except OSError as exc:
                log.warning("devstack reaper pipe failed: %s", exc)

    def watch(self, pgid: int, sig: int) -> None:
        self._send(f"+{pgid} {int(sig)}")

    def forget(self, pgid: int) -> None:
        self._send(f"-{pgid}")


_reaper = _Reaper()


# --------------------------------------------------------------------------- managed process
class ManagedProcess:
    """One child process in its own process group, with its output going to a log file."""

    _live: set[ManagedProcess] = set()
    _released: list[subprocess.Popen[bytes]] = []
    _live_lock = threading.Lock()

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.stop_signal = stop_signal
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def start(self) -> None:
        if self.alive():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=self.env,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                raise DevStackError(f"{self.name}: cannot run {self.argv[0]}: {exc}") from exc
        _reaper.watch(self._popen.pid, self.stop_signal)
        with ManagedProcess._live_lock:
            ManagedProcess._live.add(self)
        log.debug("%s started (pid %d): %s", self.name, self._popen.pid, " ".join(self.argv))

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def stop(self, timeout: float = 15.0) -> None:
        """Signal the leader, wait up to `timeout`, then SIGKILL the whole group. Idempotent."""
        popen = self._popen
        if popen is None:
            return
        pgid = popen.pid  # start_new_session: the leader's pid is the group id
        tree = process_tree(popen.pid)
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(popen.pid, self.stop_signal)
            try:
                popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0fs; killing it", self.name, timeout)
        # Whatever is left (the leader if it hung, children in its group or in sessions of
        # their own that outlived it) goes.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        for pid in alive_in(tree):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=10)
        _wait_gone(pgid, tree, timeout=5.0)
        _reaper.forget(pgid)
        with ManagedProcess._live_lock:
            ManagedProcess._live.discard(self)

    def release(self) -> None:
        """Leaves the process running, no longer this object's: neither this process's exit
        nor its reaper stops it (for a daemon that other sessions still use)."""
        popen, self._popen = self._popen, None
        if popen is None:
            return
        _reaper.forget(popen.pid)
        with ManagedProcess._live_lock:
            ManagedProcess._live.discard(self)
            # Held so that no Popen is collected while its process runs (a ResourceWarning).
            ManagedProcess._released.append(popen)

    @classmethod
    def stop_all(cls) -> None:
        with cls._live_lock:
            live = list(cls._live)
        for proc in live:
            with contextlib.suppress(Exception):
                proc.stop(timeout=5.0)


def _wait_gone(pgid: int, tree: dict[int, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not group_members(pgid) and not alive_in(tree):
            return
        time.sleep(0.05)


def _proc_stats() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgrp, starttime) for every live process in /proc (zombies are dead)."""
    stats: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ... starttime(22nd); comm may hold ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 19 and fields[0] not in ("Z", "X"):
            stats[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[19])
    return stats


def group_members(pgid: int) -> list[int]:
    """Live pids whose process group is `pgid`."""
    return sorted(pid for pid, (_, pgrp, _) in _proc_stats().items() if pgrp == pgid)


def process_tree(pid: int) -> dict[int, str]:
    """`pid` and all its descendants, each with its start time (to tell pid reuse apart).

    Needed beside process groups: PostgreSQL puts every backend in a session of its own.
    """
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for child, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(child)
    tree: dict[int, str] = {}
    todo = [pid] if pid in stats else []
    while todo:
        current = todo.pop()
        tree[current] = stats[current][2]
        todo.extend(children.get(current, []))
    return tree


def alive_in(tree: dict[int, str]) -> list[int]:
    """The pids of a `process_tree` snapshot that still run (same pid, same start time)."""
    stats = _proc_stats()
    return sorted(pid for pid, start in tree.items() if pid in stats and stats[pid][2] == start)


atexit.register(ManagedProcess.stop_all)


def wait_for(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    proc: ManagedProcess | None = None,
    logs: Sequence[Path] = (),
    interval: float = 0.1,
) -> None:
    """Poll `check` until it returns True. Fail early when `proc` dies, late after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        if proc is not None and not proc.alive():
            raise failure(
                f"{what}: the process exited with code {proc.returncode()} before it was ready",
                logs,
            )
        try:
            if check():
                return
            last_error = None
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error is not None else ""
            raise failure(f"{what}: not ready after {timeout:.0f}s{detail}", logs)
        time.sleep(interval)


def start_with_port_retry(
    start_once: Callable[[], None], repick_ports: Callable[[], None] | None, attempts: int = 3
) -> None:
    """Run `start_once`; when it failed because a picked port got taken meanwhile, re-pick it.

    Picking a free port and binding it later is racy; a retry with fresh ports makes it rare
    enough to ignore. `repick_ports` is None when the caller fixed the ports: then no retry.
    """
    for attempt in range(attempts):
        try:
            start_once()
            return
        except DevStackError as exc:
            if repick_ports is None or PORT_CLASH not in str(exc) or attempt == attempts - 1:
                raise
            log.warning("port clash, retrying with new ports: %s", str(exc).splitlines()[0])
            repick_ports()

"""What every benchmark reports about the machine it ran on."""

import contextlib
import os
import platform
from typing import Any


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc/<pid>/stat.

    CPU per operation is the figure that survives a machine shared with other work:
    wall-clock rates move with the load average, CPU seconds per order much less.
    """
    return _cpu(_stat_fields(pid))


def _stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 2), which may hold
    spaces: field n of stat(5) is at n - 3."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime


def group_cpu_seconds(pgid: int) -> float:
    """CPU time of a process group leader, its group and its direct children.

    The children count because PostgreSQL's backends leave the postmaster's group (each
    calls setsid). Processes that exited during the measurement are not counted: sample
    groups whose members live as long as the measurement.
    """
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat_fields(entry)
            if int(fields[2]) == pgid or int(fields[1]) == pgid:  # its group, or its child
                total += _cpu(fields)
    return total

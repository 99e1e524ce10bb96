"""Benchmark: the queue autoscaler's CPU and memory with 200 QueueAutoscalers.

200 Deployments, each with a QueueAutoscaler at the default 5 s poll on its own consumer group
over a shared 8-partition topic with some lag. Once every CR has been polled, the operator
process's CPU time and RSS are sampled from /proc over a steady window. Prints one JSON
object.

    uv run python bench/operator_footprint.py [--crs 200] [--window 60]
"""

import argparse
import json
import time
import uuid
from urllib.request import urlopen

from confluent_kafka import Producer
from machine import cpu_seconds, machine  # bench/ is on sys.path when a script runs
from operator_stack import operator_stack

from trademesh_devstack._proc import wait_for


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def poll_seconds(ops_port: int) -> dict[str, float]:
    """Mean poll duration from the operator's own histogram."""
    text = urlopen(f"http://127.0.0.1:{ops_port}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        for key in ("queue_autoscaler_poll_seconds_sum", "queue_autoscaler_poll_seconds_count"):
            if line.startswith(key + " "):
                values[key] = float(line.split()[1])
    count = values.get("queue_autoscaler_poll_seconds_count", 0)
    mean = values.get("queue_autoscaler_poll_seconds_sum", 0) / count if count else 0
    return {"polls": count, "mean_poll_ms": round(mean * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crs", type=int, default=200)
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args()
    info = machine()
    with operator_stack() as stack:
        topic = f"bench-fp-{uuid.uuid4().hex[:8]}"
        stack.create_topic(topic, 8)
        producer = Producer({"bootstrap.servers": stack.bootstrap, "linger.ms": 5})
        for i in range(8 * 50):
            producer.produce(topic, value=b"x", partition=i % 8)
        producer.flush(30)
        pid = stack.operator.pid
        assert pid is not None
        idle_rss = rss_mib(pid)
        objects = []
        for n in range(args.crs):
            objects += [
                stack.deployment(f"d{n}"),
                stack.autoscaler(f"q{n}", f"d{n}", topic, f"g{n}", lagPerReplica=1000),
            ]
        started = time.monotonic()
        for chunk in range(0, len(objects), 100):
            stack.kube.apply(*objects[chunk : chunk + 100])
        wait_for(
            f"all {args.crs} CRs polled",
            lambda: (
                sum("currentReplicas" in q.get("status", {}) for q in stack.autoscalers())
                == args.crs
            ),
            timeout=300,
            proc=stack.operator,
            logs=[stack.operator.log_path],
            interval=1.0,
        )
        all_polled_s = time.monotonic() - started
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        peak = rss_mib(pid)
        while time.monotonic() - t0 < args.window:
            time.sleep(1)
            peak = max(peak, rss_mib(pid))
        cpu_pct = 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        print(
            json.dumps(
                {
                    "benchmark": "operator_footprint",
                    "crs": args.crs,
                    "poll_interval_s": 5,
                    "all_crs_polled_after_s": round(all_polled_s, 2),
                    "window_s": args.window,
                    "cpu_percent_of_one_core": round(cpu_pct, 2),
                    "rss_mib": {"idle": round(idle_rss, 1), "steady_peak": round(peak, 1)},
                    **poll_seconds(stack.ops_port),
                    "machine": info,
                }
            )
        )


if __name__ == "__main__":
    main()

"""Benchmark: how fast the queue autoscaler reacts to a backlog, with its defaults.

For each trial a Deployment at 1 replica gets a QueueAutoscaler with the default poll
interval (5 s, nothing set) and lagPerReplica 100; once the operator has polled it, a backlog
of 400 messages is produced at a random moment of the poll cycle and the clock runs from the
producer's flush (the lag has crossed the threshold) until the Deployment's /scale shows the
patch. Prints one JSON object.

    uv run python bench/operator_reaction.py [--trials 8]
"""

import argparse
import json
import random
import time
import uuid

from confluent_kafka import Producer
from machine import machine  # bench/ is on sys.path when a script runs
from operator_stack import operator_stack

from trademesh_devstack._proc import wait_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    info = machine()
    reactions: list[float] = []
    with operator_stack() as stack:
        producer = Producer({"bootstrap.servers": stack.bootstrap, "linger.ms": 1})
        rng = random.Random(7)
        for trial in range(args.trials):
            name, topic = f"c{trial}", f"bench-react-{uuid.uuid4().hex[:8]}"
            stack.create_topic(topic, 4)
            stack.kube.apply(
                stack.deployment(name),
                stack.autoscaler(name, name, topic, f"g-{topic}"),
            )
            wait_for(
                "first poll",
                lambda name=name: any(
                    q["metadata"]["name"] == name and "currentReplicas" in q.get("status", {})
                    for q in stack.autoscalers()
                ),
                timeout=60,
            )
            time.sleep(rng.uniform(0, 5))  # a random phase of the 5 s poll cycle
            for p in range(4):
                for i in range(100):
                    producer.produce(topic, value=b"x%d" % i, partition=p)
            producer.flush(30)
            crossed = time.monotonic()
            deadline = crossed + 30
            while stack.replicas(name) == 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            reactions.append(time.monotonic() - crossed)
    reactions.sort()
    print(
        json.dumps(
            {
                "benchmark": "operator_reaction",
                "poll_interval_s": 5,
                "trials": len(reactions),
                "reaction_s": {
                    "min": round(reactions[0], 3),
                    "p50": round(reactions[len(reactions) // 2], 3),
                    "max": round(reactions[-1], 3),
                    "mean": round(sum(reactions) / len(reactions), 3),
                },
                "target_s": 10,
                "keda_default_worst_s": 30 + 15,
                "machine": info,
            }
        )
    )


if __name__ == "__main__":
    main()

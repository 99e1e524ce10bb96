"""Throughput and per-operation latency of the matching engine's order book core.

The stream is generated up front, deterministically from a seed, by running it through a
shadow book (so "live" and "near the touch" refer to the book's real state at that point):

* ~70% limit orders for a random side: 1 in 10 marketable (at or up to 2 ticks through the far
  touch), the others passive from just inside the spread to a few dozen ticks away
  (exponential, mean 6 ticks); 90% GTC, 7% IOC, 3% FOK; quantity 1 + Exp(mean 5) lots.
* ~20% cancels of an order resting at that point, chosen uniformly.
* ~10% market orders (90% IOC, 10% FOK; half unbounded, half with a protection price 20 ticks
  through the touch); quantity 1 + Exp(mean 15) lots (``--market-mean``). Market orders are
  larger than limit orders so that fills take out most of what limit orders add: with mean 15
  the book still grows, to about 30k orders after 1M operations (bigger, colder and harder on
  the collector than a steady book); with 17 it stays near 1k orders. The steady size is very
  sensitive to this (16 gives 13k), because nothing else pulls the book back.
* users drawn uniformly from 5,000, so self-trade prevention triggers now and then.

Each GC mode then runs the stream through fresh books, draining events the way the engine does
(``events.clear()`` after every operation):

* a throughput pass with no per-op timer (ops/s from wall time and from CPU time, which shows
  how much other processes on the machine got in the way), repeated ``--repeat`` times;
* a latency pass with ``perf_counter_ns`` around each operation: p50/p99/p99.9/max in
  microseconds and the count of operations over 5 ms. GC pauses are timed with
  ``gc.callbacks`` in wall and in thread CPU time, and the pass counts the involuntary context
  switches it suffered: together they tell collector pauses apart from scheduler preemption
  (on a machine shared with other work, most operations over 5 ms are the latter).

The figures include the harness loop (unpacking each operation, the call, ``events.clear()``,
and for latencies the two clock reads). ``harness`` reports that share, measured with a book
that does nothing; it is not subtracted. ``machine.interpreter_loop_ns`` (an empty ``for`` loop
iteration) shows how fast the machine ran Python at the time: compare figures from different
runs through it, not through the load average alone.

GC modes:

* ``default``: the interpreter's defaults: enabled, thresholds (700, 10, 10), nothing frozen.
* ``matching``: what the matching processor does once its partitions are assigned
  (``trademesh_matching.gc_policy.settle_collector``: collect, freeze, thresholds (700, 10,
  100)); the collector stays on for the Kafka client and protobuf.
* ``disabled``: ``gc.collect(); gc.freeze()`` and ``gc.disable()`` for the run. The book creates
  no reference cycles, so reference counting frees everything it drops (the run reports the
  GC-tracked objects left behind).

Prints one JSON object on stdout (progress on stderr).

    uv run python bench/book_core.py [--ops N] [--seed S] [--repeat R] [--modes a,b]
"""

import argparse
import gc
import json
import platform
import random
import resource
import statistics
import sys
import time
from array import array
from collections import Counter
from typing import Any

from machine import machine  # bench/ is on sys.path when a script runs

from trademesh_matching.book import (
    BUY,
    CANCELLED,
    EVENT_TYPES,
    FILL,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    OrderBook,
)
from trademesh_matching.gc_policy import THRESHOLDS, settle_collector

SYMBOL = "BENCH"
START_PRICE = 100_000  # ticks
USERS = 5_000
STALL_NS = 5_000_000  # 5 ms
MODES = ("default", "matching", "disabled")

# An operation is (True, *place_args) or (False, order_id, "", 0, 0, 0, 0, 0): one flat tuple, so
# that the loops unpack it in one step and call the book with positional arguments, as the engine
# does (``book.place(order.order_id, ...)``). Calling ``place(*args)`` instead cost about 30 ns
# more per operation, in the harness rather than in the book.
Op = tuple[bool, str, str, int, int, int, int, int]


def generate(
    n_ops: int, seed: int, market_mean: float = 15
) -> tuple[tuple[Op, ...], dict[str, Any]]:
    """The operation stream, and what it holds (kinds of operations, events they cause)."""
    rng = random.Random(seed)
    shadow = OrderBook(SYMBOL)
    live: list[str] = []  # resting order ids, for picking cancels (swap-remove by position)
    position: dict[str, int] = {}
    users = [f"u{i:05d}" for i in range(USERS)]
    ops: list[Op] = []
    mix: Counter[str] = Counter()
    events: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    max_resting = 0

    def forget(order_id: str) -> None:
        i = position.pop(order_id)
        last = live.pop()
        if last != order_id:
            live[i] = last
            position[last] = i

    for n in range(n_ops):
        bid = shadow.best_bid()
        ask = shadow.best_ask()
        if bid is None:
            bid = (ask if ask is not None else START_PRICE + 1) - 1
        if ask is None:
            ask = bid + 1
        r = rng.random()
        order_id = f"o{n:08d}"
        if r < 0.20 and live:
            cancel_id = live[rng.randrange(len(live))]
            ops.append((False, cancel_id, "", 0, 0, 0, 0, 0))
            mix["cancel"] += 1
            shadow.cancel(cancel_id)
        else:
            user_id = users[rng.randrange(USERS)]
            side = BUY if rng.random() < 0.5 else SELL
            if r < 0.90 or not live:
                t = rng.random()
                tif = GTC if t < 0.90 else IOC if t < 0.97 else FOK
                quantity = 1 + int(rng.expovariate(1 / 5))
                if rng.random() < 0.10:  # marketable: at or a little through the far touch
                    price = ask + rng.randrange(3) if side == BUY else bid - rng.randrange(3)
                else:  # passive: from just inside the spread to a few dozen ticks away
                    offset = int(rng.expovariate(1 / 6))
                    price = ask - 1 - offset if side == BUY else bid + 1 + offset
                args = (order_id, user_id, side, LIMIT, tif, quantity, max(price, 1))
                mix["limit"] += 1
            else:
                tif = FOK if rng.random() < 0.10 else IOC
                quantity = 1 + int(rng.expovariate(1 / market_mean))
                if rng.random() < 0.5:
                    price = 0  # unbounded
                else:
                    price = ask + 20 if side == BUY else max(bid - 20, 1)
                args = (order_id, user_id, side, MARKET, tif, quantity, price)
                mix["market"] += 1
            ops.append((True, *args))
            shadow.place(*args)
        for record in shadow.events:
            kind = record[0]
            events[EVENT_TYPES[kind].__name__] += 1
            if kind == FILL:
                if record[7] == 0:  # maker_leaves
                    forget(record[1])
            elif kind == CANCELLED:
                reasons[record[7]] += 1
                if record[1] in position:
                    forget(record[1])
        if ops[-1][0] and shadow.order(order_id) is not None:  # the new order rests
            position[order_id] = len(live)
            live.append(order_id)
        shadow.events.clear()
        max_resting = max(max_resting, len(live))
    stats = {
        "mix": dict(mix),
        "events_per_op": {k: round(v / n_ops, 4) for k, v in sorted(events.items())},
        "cancel_reasons_per_op": {k: round(v / n_ops, 4) for k, v in sorted(reasons.items())},
        "resting_orders_max": max_resting,
        "resting_orders_end": len(shadow),
        "price_levels_end": sum(len(side) for side in shadow.depth(1 << 30)),
    }
    # A tuple of tuples of str/int is untracked by the cyclic GC after one collection, so the
    # stream itself adds nothing to what the collector walks during the timed runs.
    return tuple(ops), stats


class NoBook:
    """OrderBook's two commands doing nothing: what the harness itself costs per operation."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[Any] = []

    def place(
        self,
        order_id: str,
        user_id: str,
        side: int,
        order_type: int,
        tif: int,
        quantity: int,
        price: int,
    ) -> None:
        pass

    def cancel(self, order_id: str) -> None:
        pass


def run_throughput(ops: tuple[Op, ...], book: OrderBook | NoBook) -> tuple[float, float]:
    """Wall and CPU seconds for the whole stream through `book`, no per-op timing."""
    events = book.events
    cpu = time.process_time()
    start = time.perf_counter_ns()
    for is_place, order_id, user_id, side, order_type, tif, quantity, price in ops:
        if is_place:
            book.place(order_id, user_id, side, order_type, tif, quantity, price)
        else:
            book.cancel(order_id)
        events.clear()
    wall = (time.perf_counter_ns() - start) / 1e9
    return wall, time.process_time() - cpu


def run_latency(ops: tuple[Op, ...], book: OrderBook | NoBook) -> tuple[array, int]:
    """Each operation's wall time in ns (the two clock reads included), and the involuntary
    context switches the thread took meanwhile (preemption by other processes)."""
    events = book.events
    now = time.perf_counter_ns
    latencies = array("q", bytes(8 * len(ops)))  # not GC-tracked, preallocated
    i = 0
    switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
    for is_place, order_id, user_id, side, order_type, tif, quantity, price in ops:
        start = now()
        if is_place:
            book.place(order_id, user_id, side, order_type, tif, quantity, price)
        else:
            book.cancel(order_id)
        events.clear()
        latencies[i] = now() - start
        i += 1
    return latencies, resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw - switches


def interpreter_speed_ns() -> float:
    """ns per iteration of an empty ``for`` loop (best of 5): how fast this machine ran Python
    at the time, to compare figures taken on a busy machine with others."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(1_000_000):
            pass
        best = min(best, (time.perf_counter_ns() - start) / 1_000_000)
    return round(best, 1)


def percentile_us(sorted_ns: list[int], q: float) -> float:
    index = min(len(sorted_ns) - 1, int(q * len(sorted_ns)))
    return round(sorted_ns[index] / 1000, 2)


class GcPauses:
    """Times every collection through gc.callbacks."""

    def __init__(self) -> None:
        # (generation, wall ns, CPU ns): wall includes preemption, the thread's CPU time not.
        self.pauses_ns: list[tuple[int, int, int]] = []
        self._started = self._started_cpu = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started_cpu = time.thread_time_ns()
            self._started = time.perf_counter_ns()
        else:
            wall = time.perf_counter_ns() - self._started
            cpu = time.thread_time_ns() - self._started_cpu
            self.pauses_ns.append((info["generation"], wall, cpu))

    def summary(self) -> dict[str, Any]:
        by_generation = Counter(g for g, _, _ in self.pauses_ns)
        walls = [w for _, w, _ in self.pauses_ns]
        cpus = [c for _, _, c in self.pauses_ns]
        return {
            "collections_by_generation": {str(g): by_generation[g] for g in sorted(by_generation)},
            "pause_max_us": round(max(walls, default=0) / 1000, 1),
            "pause_max_cpu_us": round(max(cpus, default=0) / 1000, 1),
            "pause_total_ms": round(sum(walls) / 1e6, 2),
            "pauses_over_5ms": sum(1 for d in walls if d > STALL_NS),
            "pauses_over_5ms_cpu": sum(1 for d in cpus if d > STALL_NS),
        }


def set_gc_mode(mode: str) -> str:
    gc.enable()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    gc.collect()
    if mode == "default":
        return "enabled, thresholds (700, 10, 10), nothing frozen"
    if mode == "matching":
        settle_collector()
        return f"settle_collector(): gc.collect(); gc.freeze(); thresholds {THRESHOLDS}"
    gc.freeze()
    gc.disable()
    return "gc.collect(); gc.freeze(); gc.disable() for the run"


def latency_summary(latencies: array) -> dict[str, float]:
    ns = sorted(latencies)
    return {
        "p50": percentile_us(ns, 0.50),
        "p99": percentile_us(ns, 0.99),
        "p99.9": percentile_us(ns, 0.999),
        "max": round(ns[-1] / 1000, 1),
    }


def run_mode(mode: str, ops: tuple[Op, ...], repeat: int) -> dict[str, Any]:
    description = set_gc_mode(mode)
    walls: list[float] = []
    cpus: list[float] = []
    tracked_before = len(gc.get_objects())
    for _ in range(repeat):
        book = OrderBook(SYMBOL)
        wall, cpu = run_throughput(ops, book)
        walls.append(wall)
        cpus.append(cpu)
    # What a full collection would have to walk for the book, and what is left once it is gone
    # (refcounting alone must free it all: the book makes no cycles).
    tracked_with_book = len(gc.get_objects())
    del book
    tracked_after = len(gc.get_objects())
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    try:
        latencies, switches = run_latency(ops, OrderBook(SYMBOL))
    finally:
        gc.callbacks.remove(pauses)
    set_gc_mode("default")
    n = len(ops)
    return {
        "gc": description,
        "ops_per_s": round(n / statistics.median(walls)),
        "ops_per_s_best": round(n / min(walls)),
        "ops_per_s_cpu_time": round(n / statistics.median(cpus)),
        "throughput_runs_wall_s": [round(w, 3) for w in walls],
        "latency_us": latency_summary(latencies),
        "ops_over_5ms": sum(1 for v in latencies if v > STALL_NS),
        "latency_pass_ops_per_s": round(n / (sum(latencies) / 1e9)),
        "latency_pass_involuntary_context_switches": switches,
        "gc_during_latency_pass": pauses.summary(),
        "gc_tracked_objects": {
            "held_by_book_at_end": tracked_with_book - tracked_after,
            "left_behind_by_runs": tracked_after - tracked_before,
        },
    }


def harness(ops: tuple[Op, ...]) -> dict[str, Any]:
    """The same loops around a book that does nothing (collector off): the share of the figures
    that is the harness's own, not the book's. Not subtracted from them."""
    set_gc_mode("disabled")
    try:
        runs = [run_throughput(ops, NoBook()) for _ in range(3)]
        latencies, _ = run_latency(ops, NoBook())
    finally:
        set_gc_mode("default")
    n = len(ops)
    return {
        "loop_ns_per_op": round(min(wall for wall, _ in runs) / n * 1e9),
        "loop_cpu_ns_per_op": round(min(cpu for _, cpu in runs) / n * 1e9),
        "latency_floor_us": latency_summary(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ops", type=int, default=1_000_000, help="operations in the stream")
    parser.add_argument("--seed", type=int, default=7, help="stream seed")
    parser.add_argument("--repeat", type=int, default=3, help="throughput passes per mode")
    parser.add_argument(
        "--market-mean", type=float, default=15, help="mean market order size, lots"
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated GC modes")
    args = parser.parse_args()
    modes = args.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; known: {', '.join(MODES)}")

    info = machine()
    started = time.perf_counter()
    ops, stream = generate(args.ops, args.seed, args.market_mean)
    stream["generation_s"] = round(time.perf_counter() - started, 2)
    info["interpreter_loop_ns"] = interpreter_speed_ns()
    own = harness(ops)
    results = {}
    for mode in modes:
        print(f"running mode {mode}", file=sys.stderr)
        results[mode] = run_mode(mode, ops, args.repeat)
    print(
        json.dumps(
            {
                "benchmark": "book_core",
                "ops": len(ops),
                "seed": args.seed,
                "market_mean": args.market_mean,
                "stream": stream,
                "harness": own,
                "modes": results,
                "python": platform.python_version(),
                "implementation": sys.implementation.name,
                "machine": info,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""How the matching process runs CPython's cyclic garbage collector.

The collector only finds reference cycles; everything else is freed by reference counting. The
order books make no cycles and keep their orders out of the collector's sight (book.py), so in
this process the collector's work is the Kafka client's, protobuf's and logging's garbage. What
it costs is pauses: a collection of a generation walks every tracked object in it, in one go, in
the middle of whatever command is being matched. bench/book_core.py measures them (mode
``matching`` is this policy).

* ``gc.freeze()`` once the books are loaded: the start-up heap (imports, settings, the Kafka
  and Redis clients, recovered books) moves to a permanent generation that no collection walks.
* Generation 0 keeps the interpreter's threshold (700): its pauses grow with the threshold
  (a 10,000 threshold made fewer but longer ones, up to ~2 ms of CPU against well under 1 ms)
  and the target is the longest pause, not the total.
* Full collections only every 100 generation-1 collections instead of 10. A full collection
  walks the long-lived containers entry by entry (the order id index, the dedupe window), which
  grow with the book; CPython's own brake (no full collection until the objects that survived
  generation 1 reach 25% of the long-lived ones) counts objects, not entries, and barely holds
  when the long-lived set is a handful of large dicts. Cycles reaching the oldest generation
  are rare here (exceptions' tracebacks, mostly), so keeping them a little longer is cheap.
"""

import gc
from typing import Final

THRESHOLDS: Final = (700, 10, 100)


def settle_collector() -> None:
    """Collects once, freezes what is alive and sets the thresholds (after loading the books)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)

"""Process-wide settings every service process (and relay process) takes once it has started."""

import gc

__all__ = ["tune_gc"]


def tune_gc() -> None:
    """Fewer, cheaper garbage collections. A request or a batch allocates tens of objects, nearly all freed by
    reference counting; the collector's cost is scanning what lives for the whole process. So objects alive
    after start-up (modules, the app, pools, caches) are frozen out of the collector's scans, and the youngest
    generation is collected every 20,000 allocations instead of 700. Measured on the worker: its CPU per event
    falls by about a fifth, memory stays flat (docs/benchmarks.md). Identity and the relays take it too."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)

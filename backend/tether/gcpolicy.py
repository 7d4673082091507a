"""How a hub process sets Python's cyclic garbage collector (``tether serve``).

The collector's default first threshold (700 container objects allocated net) suits a
script, not a hub streaming twenty thousand events a second: every few hundred events it
stopped to trace what was alive, promoting each in-flight event's objects (timers, frames
under way) to older generations, and so every few seconds ran a full collection over
every session's objects: a pause of tens to hundreds of milliseconds, a fifth of the
hub's CPU in the many-sessions benchmark and most of its p99 (docs/BENCH.md). Almost
nothing a hub allocates is cyclic garbage; reference counting frees it at once.

So, once the hub is built: everything made so far (modules, models, the app) is frozen out
of the collector's sight, and the first threshold is raised. Cycles are still collected,
only less often.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def tune_for_serving() -> None:
    """Freeze what start-up made and raise the first collection threshold."""
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GEN0_THRESHOLD), gen1, gen2)

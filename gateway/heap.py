"""Keep Python's garbage collector off the objects a worker keeps for its whole life.

A worker holds well over 100,000 objects that live as long as it does: the imported modules, the
compiled templates and schema, pysaml2's model of the trusted metadata, the keys. Python's collector
walks every one of them in each full (oldest-generation) collection, which it starts on its own every
few hundred logins, and a worker serves nobody meanwhile: measured in paced 2-worker benchmark runs,
each full collection stopped its worker for 80-100 ms, long enough to set the p99 latency of every leg
of a login (bench/README.md). `gc.freeze` moves the objects alive at that moment out of the collector's
view, so later collections walk only what was made since.

Frozen objects are never collected, so freezing is redone whenever that long-lived state is replaced
(new metadata, new keys): the previous snapshot's objects are first handed back to the collector and
a full collection frees whatever of them is garbage, then the survivors are frozen again. That costs
one full collection per change, which is the pause freezing otherwise removes, but once per metadata
or key change instead of every few thousand logins.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect everything once (what was frozen before included), then freeze what survives."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()

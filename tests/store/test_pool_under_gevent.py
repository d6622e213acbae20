"""The Redis store's connection pool under gevent's patching, as the gateway's workers run it.

The pool guards its count with an operating-system lock (cheap where gevent's semaphore is not) and a
caller that finds every connection in use waits by sleeping, so under gevent the holder's greenlet must
get to run, finish and give the connection back, while other greenlets go on. A wait that blocked the
worker's one OS thread would keep the holder from running: the waiting caller would give up with no
connection, and the first test fails.
"""

from __future__ import annotations

import json
import textwrap
from uuid import uuid4

import pytest

from tests.gevent_child import TICKER
from tests.gevent_child import run_under_gevent

pytestmark = pytest.mark.slow

PROGRAM = TICKER + textwrap.dedent(
    """
    import json
    import sys

    import gevent

    from gateway.errors import StoreUnavailable
    from gateway.store.redis_store import RedisStore

    url, prefix, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
    store = RedisStore(url, prefix=prefix, socket_timeout=0.2, max_connections=1)
    store.put("k", b"v", ttl=10)


    def holder() -> None:
        with store._pool.connection("test"):
            gevent.sleep(hold)


    held = gevent.spawn(holder)
    gevent.sleep(0)  # the holder now has the only connection


    def waiting_get():
        try:
            return store.get("k").decode()
        except StoreUnavailable as exc:
            return str(exc)


    ticks, outcome = ticks_during(waiting_get)
    held.join()
    after = store.get("k").decode()
    store.delete("k")
    print(json.dumps({"outcome": outcome, "ticks": ticks, "after": after}))
    """
)


def _run(redis_url: str, hold: float) -> dict[str, object]:
    result: dict[str, object] = json.loads(run_under_gevent(PROGRAM, redis_url, f"test:{uuid4().hex}:", str(hold)))
    return result


def test_a_caller_waits_for_the_holder_to_give_the_connection_back(redis_url: str) -> None:
    result = _run(redis_url, hold=0.05)
    assert result["outcome"] == "v"
    ticks = result["ticks"]
    assert isinstance(ticks, int)
    assert ticks >= 3, "other greenlets ran while it waited"
    assert result["after"] == "v"


def test_a_caller_gives_up_after_the_socket_timeout(redis_url: str) -> None:
    result = _run(redis_url, hold=0.6)
    assert result["outcome"] == "store unavailable: get found no free connection"
    assert result["after"] == "v", "the pool works again once the holder is done"

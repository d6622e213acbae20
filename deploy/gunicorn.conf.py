"""gunicorn settings for the gateway; `eid-gateway serve` passes this file with -c.

Workers give CPU parallelism for the crypto, one per core. Within a worker, gevent serves every
client connection in a greenlet, so a worker keeps serving while one request waits on Redis, an
upstream provider's metadata or an e-service's back-channel logout endpoint. gevent rather than
gunicorn's gthread: a login is five short requests, and on two cores gthread's hand-offs between its
poller thread and its pool threads (futex wake-ups and GIL switches, about 35 system calls per
request against 5) cost more CPU than the application outside its cryptography; bench/README.md has
the measurements. Bind address and worker count come from the environment `eid-gateway serve` sets.
"""

import os

bind = os.environ.get("EID_GATEWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("EID_GATEWAY_WORKERS", "1"))
worker_class = "gevent"
# Simultaneous client connections per worker; more wait in the listen backlog.
worker_connections = 1000
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None
errorlog = "-"
loglevel = "warning"
# Keys and metadata are loaded in each worker after fork, never shared mutable state; and gevent
# patches the standard library in each worker before the application is imported.
preload_app = False

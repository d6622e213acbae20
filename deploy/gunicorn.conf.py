"""gunicorn settings for the gateway; `eid-gateway serve` passes this file with -c.

Threads let one worker keep serving while another request waits on Redis or
on an e-service; workers give CPU parallelism for the crypto. Bind address and
worker count come from the environment `eid-gateway serve` sets.
"""

import os

bind = os.environ.get("EID_GATEWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("EID_GATEWAY_WORKERS", "1"))
worker_class = "gthread"
threads = int(os.environ.get("EID_GATEWAY_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None
errorlog = "-"
loglevel = "warning"
# Keys and metadata are loaded in each worker after fork, never shared mutable state.
preload_app = False

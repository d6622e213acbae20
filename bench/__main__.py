"""``python -m bench``: see `bench.cli`.

``--in-process`` calls the application in this process, so it is patched by gevent first, before
anything imports the standard library's sockets and locks, as gunicorn's gevent worker (the
deployment's, `deploy/gunicorn.conf.py`) patches each worker before it loads the application.
"""

import sys

if "--in-process" in sys.argv:
    from gevent import monkey

    monkey.patch_all()

from bench.cli import main  # after the patching above

raise SystemExit(main())

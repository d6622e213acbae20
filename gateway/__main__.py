"""Allow `python -m gateway` as an alias of the `eid-gateway` command."""

from gateway.cli import main

raise SystemExit(main())

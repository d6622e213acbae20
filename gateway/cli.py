"""`eid-gateway`: serve, check the configuration, manage keys and show SP metadata.

Every command that reads configuration reports all problems at once, each
naming its file and key, and exits non-zero when there is any.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gateway.errors import ConfigError
from gateway.settings.load import DEFAULT_BIND
from gateway.settings.load import load_settings

GUNICORN_CONF = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def _print_problems(error: ConfigError) -> int:
    print(f"configuration has {len(error.problems)} problem(s):", file=sys.stderr)  # noqa: T201
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)  # noqa: T201
    return 2


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, bind=args.bind)
    except ConfigError as error:
        return _print_problems(error)
    env = dict(os.environ)
    env["EID_GATEWAY_BIND"] = args.bind
    env["EID_GATEWAY_WORKERS"] = str(args.workers or settings.workers)
    if args.config:
        env["EID_GATEWAY_CONFIG"] = str(Path(args.config).resolve())
    command = [sys.executable, "-m", "gunicorn", "gateway.wsgi:app"]
    if GUNICORN_CONF.is_file():
        command[3:3] = ["-c", str(GUNICORN_CONF)]
    else:  # installed without the repository's deploy/ folder
        command[3:3] = ["-b", args.bind, "-w", env["EID_GATEWAY_WORKERS"], "-k", "gthread", "--threads", "4"]
    print(f"eid-gateway: {settings.environment} mode at {settings.issuer}", file=sys.stderr)  # noqa: T201
    os.execvpe(command[0], command, env)  # noqa: S606 - replaces this process with gunicorn
    return 0  # pragma: no cover


def _config_check(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        return _print_problems(error)
    print(  # noqa: T201
        f"configuration OK: {settings.source} ({settings.environment}, {len(settings.providers)} provider(s), "
        f"{len(settings.clients)} client(s))"
    )
    return 0


def _keys_generate(args: argparse.Namespace) -> int:
    from gateway.trust.keystore import generate_keys

    keys_dir = Path(args.dir) if args.dir else _settings_or_exit(args).keys_dir
    generate_keys(keys_dir, kind=args.kind, stage=args.stage)
    print(f"keys written to {keys_dir}")  # noqa: T201
    return 0


def _settings_or_exit(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    try:
        return load_settings(args.config)
    except ConfigError as error:
        raise SystemExit(_print_problems(error)) from None


def _metadata_sp(args: argparse.Namespace) -> int:
    from gateway.app import create_app
    from gateway.saml.sp_metadata import sp_metadata_xml

    app = create_app(_settings_or_exit(args))
    xml = sp_metadata_xml(app.extensions["eid_gateway"].login.sp)
    if args.output:
        Path(args.output).write_text(xml, encoding="utf-8")
    else:
        print(xml)  # noqa: T201
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line, one sub-command per task."""
    parser = argparse.ArgumentParser(prog="eid-gateway", description="Federated e-ID authentication gateway")
    parser.add_argument("--config", help="gateway.yaml (default: $EID_GATEWAY_CONFIG, else development defaults)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--bind", default=DEFAULT_BIND, help=f"HOST:PORT (default {DEFAULT_BIND})")
    serve.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: from config)")
    serve.set_defaults(func=_serve)

    config = commands.add_parser("config", help="configuration tools").add_subparsers(dest="sub", required=True)
    config.add_parser("check", help="validate everything, list every problem").set_defaults(func=_config_check)

    keys = commands.add_parser("keys", help="the gateway's own keys").add_subparsers(dest="sub", required=True)
    generate = keys.add_parser("generate", help="create missing keys (never overwrites)")
    generate.add_argument("--dir", help="keys directory (default: keys_dir from config)")
    generate.add_argument("--kind", choices=("rsa", "ec"), default="rsa")
    generate.add_argument("--stage", choices=("active", "next"), default="active")
    generate.set_defaults(func=_keys_generate)

    metadata = commands.add_parser("metadata", help="SAML metadata").add_subparsers(dest="sub", required=True)
    sp = metadata.add_parser("sp", help="write the SP's metadata")
    sp.add_argument("--output", help="file to write (default: stdout)")
    sp.set_defaults(func=_metadata_sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `eid-gateway` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())

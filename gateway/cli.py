"""`eid-gateway`: serve, check the configuration, manage and roll over keys, refresh and inspect metadata.

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
        command[3:3] = ["-b", args.bind, "-w", env["EID_GATEWAY_WORKERS"], "-k", "gevent"]
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


def _keys_status(args: argparse.Namespace) -> int:
    from gateway.trust import admin

    return admin.keys_status(_settings_or_exit(args), sys.stdout)


def _keys_step(args: argparse.Namespace) -> int:
    from gateway.observability.logging import configure
    from gateway.trust import admin

    configure()  # the step's audit event goes to stderr as JSON
    settings = _settings_or_exit(args)
    kind = getattr(args, "kind", "rsa")
    force = getattr(args, "force", False)
    return admin.keys_step(settings, sys.stdout, step=args.sub, role=args.role, kind=kind, force=force)


def _metadata_refresh(args: argparse.Namespace) -> int:
    from gateway.observability.logging import configure
    from gateway.trust import admin

    configure()  # the refresh's events (failures, audit of changes) go to stderr as JSON
    return admin.metadata_refresh(_settings_or_exit(args), sys.stdout, only=args.source, allow_older=args.allow_older)


def _metadata_status(args: argparse.Namespace) -> int:
    from gateway.trust import admin

    return admin.metadata_status(_settings_or_exit(args), sys.stdout, as_json=args.json)


def _settings_or_exit(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    try:
        return load_settings(args.config)
    except ConfigError as error:
        raise SystemExit(_print_problems(error)) from None


def _metadata_sp(args: argparse.Namespace) -> int:
    from gateway.trust.admin import sp_metadata

    try:
        xml = sp_metadata(_settings_or_exit(args), args.sp)
    except LookupError as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return 2
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
    generate.add_argument("--kind", choices=("rsa", "ec"), default="rsa", help="for oidc-signing; SAML keys are RSA")
    generate.add_argument("--stage", choices=("active", "next"), default="active")
    generate.set_defaults(func=_keys_generate)
    keys.add_parser("status", help="each key's role, stage and age").set_defaults(func=_keys_status)
    from gateway.trust.keystore import ROLES

    steps = {
        "rollover": "create and publish a next key (it signs nothing yet)",
        "activate": "make the next key active; the active one becomes previous",
        "retire": "delete the previous key after the grace period",
    }
    for step, text in steps.items():
        command = keys.add_parser(step, help=text)
        command.add_argument("--role", choices=ROLES, required=True)
        if step == "rollover":
            command.add_argument("--kind", choices=("rsa", "ec"), default="rsa", help="ec: oidc-signing only")
        else:
            command.add_argument("--force", action="store_true", help="skip the waiting period")
        command.set_defaults(func=_keys_step)

    metadata = commands.add_parser("metadata", help="SAML metadata").add_subparsers(dest="sub", required=True)
    sp = metadata.add_parser("sp", help="write the SP's metadata")
    sp.add_argument("--output", help="file to write (default: stdout)")
    sp.add_argument("--sp", help="a further SP entity's id from saml.service_providers (default: the main SP)")
    sp.set_defaults(func=_metadata_sp)
    refresh = metadata.add_parser("refresh", help="fetch, verify and install provider metadata now")
    refresh.add_argument("--source", help="only the source with this name")
    refresh.add_argument(
        "--allow-older",
        action="store_true",
        help="install even a publication older than the installed copy (refused otherwise as a rollback; audited)",
    )
    refresh.set_defaults(func=_metadata_refresh)
    status = metadata.add_parser("status", help="what is trusted, since when, and what expires")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_metadata_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `eid-gateway` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m gongkai_<service> migrate | api | worker | revision -m MSG``: the same for every service."""

from __future__ import annotations

import argparse
import importlib
import sys

import uvicorn
from alembic import command

from gongkai_shared.migrations import alembic_config, upgrade
from gongkai_shared.service import run_event_loop

__all__ = ["service_main"]


def _settings(path: str):  # type: ignore[no-untyped-def]
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)()


def service_main(package: str, settings_path: str, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create the database if missing and migrate it to head")
    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.add_argument("--workers", type=int, default=1)
    sub.add_parser("worker", help="run the outbox relay, event consumers and sweeps")
    rev = sub.add_parser("revision", help="autogenerate a migration")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    settings = _settings(settings_path)
    if args.command == "migrate":
        upgrade(package, settings.database_url)
        print(f"{package}: database migrated", file=sys.stderr)
    elif args.command == "api":
        uvicorn.run(
            f"{package}.app:create_app",
            factory=True,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers,
            access_log=False,
            proxy_headers=True,
            log_level="warning",
        )
    elif args.command == "worker":
        worker = importlib.import_module(f"{package}.worker")
        run_event_loop(worker.main(settings))
    elif args.command == "revision":
        command.revision(alembic_config(package, settings.database_url), message=args.message, autogenerate=True)

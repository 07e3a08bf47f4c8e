"""``python -m gongkai_gateway create-user``: an account from the command line (the password on stdin)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.errors import Conflict
from pydantic import ValidationError

from gongkai_gateway import service
from gongkai_gateway.models import ASSIGNABLE_ROLES
from gongkai_gateway.schemas import UserCreate, UserOut
from gongkai_gateway.settings import GatewaySettings

__all__ = ["create_user_main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gongkai_gateway create-user",
        description="Create a user. The password is read from the first line of stdin, never from the command line.",
    )
    parser.add_argument("--username", required=True)
    parser.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin")
    parser.add_argument(
        "--role", action="append", required=True, choices=[r.value for r in ASSIGNABLE_ROLES], help="repeatable"
    )
    parser.add_argument("--department", type=uuid.UUID, help="department id (required for staff and reviewer)")
    parser.add_argument("--display-name", default="")
    return parser


async def _create(settings: GatewaySettings, data: UserCreate) -> int:
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            user = await service.create_user(session, data=data)
            out = UserOut.model_validate(user)
    except Conflict as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(out.model_dump_json())
    return 0


def create_user_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        data = UserCreate(
            username=args.username,
            display_name=args.display_name,
            password=password,
            roles=args.role,
            department_id=args.department,
        )
    except ValidationError as exc:
        for error in exc.errors():
            print(f"error: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    return asyncio.run(_create(GatewaySettings(), data))

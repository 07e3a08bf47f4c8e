"""Password hashing: argon2id (argon2-cffi's defaults), off the event loop (each hash takes tens of ms)."""

from __future__ import annotations

import asyncio
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "needs_rehash", "verify_password", "warm_up"]

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the user does not exist, so both answers take as long (no user enumeration).
    return _hasher.hash(secrets.token_urlsafe(32))


async def warm_up() -> None:
    """Compute the dummy hash now, so the first sign-in of an unknown user is not faster than others."""
    await asyncio.to_thread(_dummy_hash)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash (no such user) the work is done all the same."""
    try:
        await asyncio.to_thread(_hasher.verify, password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with weaker parameters than today's: replace it at the next sign-in."""
    return _hasher.check_needs_rehash(password_hash)

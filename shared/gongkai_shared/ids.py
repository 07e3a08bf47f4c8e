"""Identifiers: UUIDv7 everywhere (time-ordered, so keyset pagination by id follows creation)."""

import uuid

import uuid_utils.compat

__all__ = ["uuid7"]


def uuid7() -> uuid.UUID:
    """A new UUIDv7 as a standard-library UUID."""
    return uuid_utils.compat.uuid7()

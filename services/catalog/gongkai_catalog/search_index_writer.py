"""The one writer of the search index: the catalog worker keeps it current; ``python -m gongkai_catalog reindex``.

:class:`SearchIndexFollower` (a task of the catalog worker, :mod:`gongkai_catalog.worker`):

1. takes ``writer.lock`` in the index directory (``flock``; a second worker on the same directory waits as a
   standby and takes over when the first one stops);
2. opens the current generation, or rebuilds when there is none, it cannot be opened, its schema version
   is not this code's, it belongs to another database (``index_id``), it is ahead of PostgreSQL (a
   restored database), the changes it lacks were pruned from the log, or ``rebuild.request`` asks;
3. applies the changes numbered after the index's (``item_search_log``, migration 0008) in one
   REPEATABLE READ snapshot: the rows of the changed items as they are at the last change number (a
   missing row is a deletion), then one tantivy commit with the marker document holding that number,
   then ``state.json`` (readers reload on it). Applying is idempotent (delete by id, add the row), so a
   crash between the commit and anything after it repeats nothing wrongly; a restart resumes from the
   number in the committed marker;
4. waits for the ``gk_catalog_search`` notification (sent at commit by the trigger) or the poll interval.

A rebuild reads ``item_search`` in one snapshot, with its change number, into a new generation
``gen-<id>``, commits, and switches ``state.json`` to it; older generations are removed after the next switch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import structlog
import tantivy
from gongkai_shared.ids import uuid7
from sqlalchemy.engine import make_url

from gongkai_catalog.search_index import (
    EVERYTHING,
    LOCK_FILE,
    REBUILD_FILE,
    ROW_SQL,
    SCHEMA_VERSION,
    STATE_DOC,
    directory_generations,
    document,
    read_state_document,
    read_state_file,
    schema,
    state_document,
    write_state_file,
)
from gongkai_catalog.settings import CatalogSettings

__all__ = ["SearchIndexFollower", "reindex_main"]

log = structlog.get_logger("gongkai.catalog.search_index")

NOTIFY_CHANNEL = "gk_catalog_search"
#: More changed items than this since the index's number: rebuild instead of applying them one by one.
MAX_CHANGES = 100_000
#: Rows per batch handed to tantivy during a rebuild.
REBUILD_BATCH = 2000
INCREMENTAL_HEAP = 32 * 1024 * 1024
REBUILD_HEAP = 128 * 1024 * 1024
PRUNE_EVERY_SECONDS = 600.0


class Rebuild(Exception):
    """The index cannot follow the log from where it is: it must be rebuilt (the message says why)."""


class DirectoryLock:
    """``writer.lock`` held with ``flock``: one writer per index directory, released when the process ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def ensure(self) -> None:
        """Still ours: the directory (and its lock file) may have been removed and recreated by someone."""
        try:
            held = self._fd is not None and os.fstat(self._fd).st_ino == os.stat(self.directory / LOCK_FILE).st_ino
        except OSError:
            held = False
        if not held:
            self.release()
            if not self.acquire():
                raise RuntimeError(f"another worker writes {self.directory} now")

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def plain_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class SearchIndexFollower:
    """Keeps the index directory current with ``item_search`` (module docstring). Only with the lock held."""

    def __init__(self, settings: CatalogSettings, *, directory: Path | None = None) -> None:
        self.settings = settings
        directory = directory or settings.search_index_directory()
        if directory is None:
            raise ValueError("the search index is off (GK_CATALOG_SEARCH_INDEX=false)")
        self.directory = directory
        self.dsn = plain_dsn(settings.database_url)
        self.lock = DirectoryLock(directory)
        self.schema = schema()
        self.index: Any = None
        self.writer: Any = None
        self.generation: str | None = None
        self.applied_seq = -1
        self.index_id: uuid.UUID | None = None
        self._pruned_at = 0.0
        #: Called after every commit with (what, change number): tests and the benchmark wait on it.
        self.on_commit: Callable[[str, int], None] | None = None

    # ------------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: take the lock (waiting as a standby), then follow the log; reconnect on errors."""
        while not stop.is_set() and not self.lock.acquire():
            log.info("search_index_standby", directory=str(self.directory))
            if await _wait(stop, 30.0):
                return
        try:
            delay = 0.5
            while not stop.is_set():
                try:
                    await self._follow(stop)
                    delay = 0.5
                except Exception as exc:  # the database away, a full disk, …: searches fall back meanwhile
                    log.warning("search_index_retry", error=repr(exc)[:300], delay=delay)
                    if await _wait(stop, delay):
                        break
                    delay = min(delay * 2, 30.0)
        finally:
            self.close()
            self.lock.release()

    async def _follow(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(self.dsn)
        wake = asyncio.Event()
        try:
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
            while not stop.is_set():
                wake.clear()
                await self.sync(conn)
                await self._prune(conn)
                stopper = asyncio.ensure_future(stop.wait())
                waker = asyncio.ensure_future(wake.wait())
                try:
                    await asyncio.wait(
                        {stopper, waker},
                        timeout=self.settings.search_index_poll_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    stopper.cancel()
                    waker.cancel()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)

    async def sync(self, conn: asyncpg.Connection) -> str:
        """One step: open or rebuild when needed, then apply what is new. Returns what it did."""
        requested = (self.directory / REBUILD_FILE).exists()
        if self.writer is not None and (read_state_file(self.directory) or {}).get("generation") != self.generation:
            # The directory was removed or replaced under us: start again from what it holds now.
            log.warning("search_index_directory_changed", directory=str(self.directory))
            self._forget()
            self.lock.ensure()
        if self.writer is None and not requested:
            try:
                await asyncio.to_thread(self._open_current)
            except Rebuild as why:
                requested = True
                log.info("search_index_rebuild", reason=str(why))
        if requested:
            await self.rebuild(conn)
            with contextlib.suppress(FileNotFoundError):
                (self.directory / REBUILD_FILE).unlink()
            return "rebuilt"
        try:
            applied = await self.apply(conn)
        except Rebuild as why:
            log.info("search_index_rebuild", reason=str(why))
            await self.rebuild(conn)
            return "rebuilt"
        return f"applied {applied}" if applied else "current"

    # ------------------------------------------------------------------ opening

    def _open_current(self) -> None:
        state = read_state_file(self.directory)
        if state is None:
            raise Rebuild("no index")
        path = self.directory / state["generation"]
        try:
            index = tantivy.Index.open(str(path))
            index.reload()
            marker = read_state_document(index.searcher(), index.schema)
        except Exception as exc:
            raise Rebuild(f"the index cannot be opened: {exc!r}"[:300]) from None
        if marker is None:
            raise Rebuild("the index has no change number")
        seq, index_id, version = marker
        if version != SCHEMA_VERSION:
            raise Rebuild(f"schema version {version}, this code writes {SCHEMA_VERSION}")
        try:
            writer = index.writer(INCREMENTAL_HEAP, 1)
        except Exception as exc:
            raise Rebuild(f"the index cannot be written: {exc!r}"[:300]) from None
        self.close()
        self.index, self.writer, self.generation = index, writer, state["generation"]
        self.applied_seq, self.index_id = seq, index_id
        # What an interrupted rebuild or an earlier switch left behind (an API process that still reads a
        # removed generation keeps its open files; it opens the current one at its next reload).
        self._remove_old_generations(keep={self.generation})

    def _forget(self) -> None:
        self.close()
        self.generation, self.applied_seq, self.index_id = None, -1, None

    def close(self) -> None:
        writer, self.writer, self.index = self.writer, None, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.rollback()
            del writer

    # ------------------------------------------------------------------ applying changes

    async def apply(self, conn: asyncpg.Connection) -> int:
        """Apply the changes after the index's number; returns how many items changed. Raises Rebuild."""
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            state = await conn.fetchrow("SELECT last_seq, index_id FROM item_search_state WHERE id = 1")
            last, index_id = state["last_seq"], state["index_id"]
            if index_id != self.index_id:
                raise Rebuild("the index was built from another database")
            if last < self.applied_seq:
                raise Rebuild(f"the index is ahead of the database ({self.applied_seq} > {last}): restored?")
            if last == self.applied_seq:
                return 0
            log_rows = await conn.fetch(
                "SELECT seq, item_id FROM item_search_log WHERE seq > $1 AND seq <= $2 LIMIT $3",
                self.applied_seq,
                last,
                MAX_CHANGES + 1,
            )
            if len(log_rows) > MAX_CHANGES:
                raise Rebuild(f"more than {MAX_CHANGES} changes to apply")
            if len({r["seq"] for r in log_rows}) != last - self.applied_seq:
                raise Rebuild("changes the index lacks were pruned from the log")
            ids = list({r["item_id"] for r in log_rows})
            if EVERYTHING in ids:
                raise Rebuild("item_search was truncated")
            rows = await conn.fetch(ROW_SQL + " WHERE item_id = ANY($1::uuid[])", ids)
        try:
            await asyncio.to_thread(self._commit_changes, ids, rows, last)
        except Exception:
            self._forget()  # a failed commit leaves the writer unusable: reopen (or rebuild) at the next step
            raise
        return len(ids)

    def _commit_changes(self, ids: list[uuid.UUID], rows: list[Any], seq: int) -> None:
        writer = self.writer
        for item_id in ids:
            writer.delete_documents_by_term("id", str(item_id))
        for row in rows:
            writer.add_document(document(row, self.schema))
        self._commit(writer, seq)

    def _commit(self, writer: Any, seq: int) -> None:
        writer.delete_documents_by_term("id", STATE_DOC)
        writer.add_document(state_document(seq, self.index_id, self.schema))
        writer.commit()
        self.applied_seq = seq
        write_state_file(
            self.directory,
            {
                "generation": self.generation,
                "applied_seq": seq,
                "index_id": str(self.index_id),
                "schema_version": SCHEMA_VERSION,
                "committed_at": time.time(),
            },
        )
        if self.on_commit is not None:
            self.on_commit(self.generation or "", seq)

    async def _prune(self, conn: asyncpg.Connection) -> None:
        """Forget applied changes older than the retention (at most every 10 minutes)."""
        if time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        await conn.execute(
            "DELETE FROM item_search_log WHERE seq <= $1 AND logged_at < now() - make_interval(secs => $2)",
            self.applied_seq,
            self.settings.search_log_retention_hours * 3600.0,
        )

    # ------------------------------------------------------------------ rebuilding

    async def rebuild(self, conn: asyncpg.Connection) -> dict[str, Any]:
        """Build a new generation from ``item_search`` in one snapshot and switch to it."""
        started = time.monotonic()
        generation = f"gen-{uuid7().hex}"
        path = self.directory / generation
        path.mkdir(parents=True)
        index = tantivy.Index(self.schema, path=str(path), reuse=False)
        writer = index.writer(REBUILD_HEAP, 1)
        count = 0
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                state = await conn.fetchrow("SELECT last_seq, index_id FROM item_search_state WHERE id = 1")
                pending: asyncio.Future[None] | None = None
                cursor = await conn.cursor(ROW_SQL)
                while True:
                    rows = await cursor.fetch(REBUILD_BATCH)
                    if pending is not None:
                        await pending
                    if not rows:
                        break
                    count += len(rows)
                    pending = asyncio.ensure_future(asyncio.to_thread(self._add_rows, writer, rows))
            previous = self.generation
            self.close()
            self.index, self.writer, self.generation = index, writer, generation
            self.index_id = state["index_id"]
            await asyncio.to_thread(self._commit, writer, state["last_seq"])
        except BaseException:
            if self.writer is writer:  # failed while committing: start again from state.json
                self._forget()
            else:
                with contextlib.suppress(Exception):
                    writer.rollback()
            del writer, index
            if (read_state_file(self.directory) or {}).get("generation") != generation:
                shutil.rmtree(path, ignore_errors=True)
            raise
        self._remove_old_generations(keep={generation, previous})
        info = {"generation": generation, "items": count, "seq": state["last_seq"], "s": time.monotonic() - started}
        log.info("search_index_rebuilt", **info)
        return info

    def _add_rows(self, writer: Any, rows: list[Any]) -> None:
        for row in rows:
            writer.add_document(document(row, self.schema))

    def _remove_old_generations(self, keep: set[str | None]) -> None:
        # The previous generation stays until the next switch: an API process may still be reading it.
        for path in directory_generations(self.directory):
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds``; True when ``stop`` was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


# --------------------------------------------------------------------------------------------
# python -m gongkai_catalog reindex
# --------------------------------------------------------------------------------------------


async def _reindex(settings: CatalogSettings, wait_seconds: float) -> int:
    follower = SearchIndexFollower(settings)
    directory = follower.directory
    if follower.lock.acquire():
        try:
            conn = await asyncpg.connect(follower.dsn)
            try:
                info = await follower.rebuild(conn)
            finally:
                await conn.close()
        finally:
            follower.close()
            follower.lock.release()
        print(
            f"search index rebuilt in {directory / info['generation']}: {info['items']:,} items at change "
            f"{info['seq']} in {info['s']:.1f} s",
            file=sys.stderr,
        )
        return 0
    # A worker holds the lock: ask it, and wait for the new generation.
    before = (read_state_file(directory) or {}).get("generation")
    (directory / REBUILD_FILE).write_text(str(time.time()), encoding="utf-8")
    print(f"a catalog worker keeps {directory}; asked it to rebuild, waiting …", file=sys.stderr)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        state = read_state_file(directory) or {}
        if state.get("generation") not in (None, before) and not (directory / REBUILD_FILE).exists():
            print(f"search index rebuilt by the worker: {state['generation']}", file=sys.stderr)
            return 0
    print("the worker has not rebuilt the index yet; it will when it next looks", file=sys.stderr)
    return 1


def reindex_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gongkai_catalog reindex",
        description="Rebuild the search index from item_search (a running worker is asked to do it).",
    )
    parser.add_argument("--wait", type=float, default=3600.0, help="seconds to wait for a running worker")
    args = parser.parse_args(argv)
    settings = CatalogSettings()
    if settings.search_index_directory() is None:
        print("the search index is off (GK_CATALOG_SEARCH_INDEX=false)", file=sys.stderr)
        return 2
    return asyncio.run(_reindex(settings, args.wait))

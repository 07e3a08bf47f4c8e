"""The embedded PostgreSQL and NATS servers of the dev runner: real servers, real restarts."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import asyncpg
import nats
import pytest
from gongkai_dev.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    PortInUseError,
    choose_socket_dir,
    port_is_open,
    wait_for_tcp,
)

CHINESE = "政务公开：依申请公开信息的答复（第一批）"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tcp_helpers() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_is_open("127.0.0.1", port)
        wait_for_tcp("127.0.0.1", port, timeout=1)
    assert not port_is_open("127.0.0.1", port)
    with pytest.raises(TimeoutError):
        wait_for_tcp("127.0.0.1", port, timeout=0.3)


def test_socket_dir_falls_back_to_tmp_for_deep_data_dirs(tmp_path: Path) -> None:
    assert choose_socket_dir(tmp_path, 54329) == tmp_path
    deep = tmp_path / ("x" * 120)
    fallback = choose_socket_dir(deep, 54329)
    assert fallback.parent == Path("/tmp")
    assert len(str(fallback / ".s.PGSQL.54329")) < 107


async def _pg_write(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE notices (id serial PRIMARY KEY, title text NOT NULL)")
        await conn.execute("INSERT INTO notices (title) VALUES ($1)", CHINESE)
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        assert await conn.fetchval("SHOW max_connections") == "200"
        assert await conn.fetchval("SHOW fsync") == "on"
        assert await conn.fetchval("SELECT $1 ~ '^[[:alpha:]]+$'", "政务公开") is True
    finally:
        await conn.close()


async def _pg_read(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT title FROM notices WHERE title LIKE '%依申请%' ORDER BY id")
        return [row["title"] for row in rows]
    finally:
        await conn.close()


def test_postgres_keeps_data_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    pg = EmbeddedPostgres(tmp_path / "pg", port=port)
    assert pg.url == f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with pg:
        assert pg.is_running()
        asyncio.run(_pg_write(pg.url))

        # A second handle on the same data dir (e.g. the runner started again) reuses the server.
        again = EmbeddedPostgres(tmp_path / "pg", port=port).start()
        assert again.reused
        assert asyncio.run(_pg_read(again.url)) == [CHINESE]

        pg.stop()
        assert not pg.is_running()
        assert not port_is_open("127.0.0.1", port)

        # A crash can leave postmaster.pid behind with a pid that now belongs to another process.
        (tmp_path / "pg" / "pgdata" / "postmaster.pid").write_text(f"{os.getpid()}\n")
        pg.start()
        assert not pg.reused
        assert asyncio.run(_pg_read(pg.url)) == [CHINESE]

        pg.restart()
        assert asyncio.run(_pg_read(pg.url)) == [CHINESE]
    assert not pg.is_running()
    assert (tmp_path / "pg" / "postgres.log").exists()


async def _js_publish(url: str) -> int:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="EMBEDDED", subjects=["embedded.>"], storage="file")
        ack = await js.publish("embedded.notice", CHINESE.encode())
        return ack.seq
    finally:
        await nc.close()


async def _js_read(url: str, seq: int) -> bytes:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("EMBEDDED")
        assert info.state.messages == 1
        msg = await js.get_msg("EMBEDDED", seq)
        return msg.data
    finally:
        await nc.close()


def test_nats_jetstream_keeps_messages_across_restarts(tmp_path: Path) -> None:
    port, monitor_port = free_port(), free_port()
    server = EmbeddedNats(tmp_path / "nats", port=port, monitor_port=monitor_port)
    assert server.url == f"nats://127.0.0.1:{port}"
    with server:
        assert server.is_running()
        seq = asyncio.run(_js_publish(server.url))

        server.stop()
        assert not server.is_running()
        assert not port_is_open("127.0.0.1", port)

        server.start()
        assert asyncio.run(_js_read(server.url, seq)) == CHINESE.encode()

        # A runner that crashed left its server running: the next one adopts it.
        again = EmbeddedNats(tmp_path / "nats", port=port, monitor_port=monitor_port).start()
        assert again.reused
        assert again.pid == server.pid

        server.restart()
        assert asyncio.run(_js_read(server.url, seq)) == CHINESE.encode()
    assert not server.is_running()
    assert (tmp_path / "nats" / "jetstream").is_dir()
    assert "Starting nats-server" in (tmp_path / "nats" / "nats-server.log").read_text()


def test_taken_ports_give_a_clear_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUseError, match="DATABASE_URL"):
            EmbeddedPostgres(tmp_path / "pg", port=port).start()
        with pytest.raises(PortInUseError, match="NATS_URL"):
            EmbeddedNats(tmp_path / "nats", port=port, monitor_port=0).start()

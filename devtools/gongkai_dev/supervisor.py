"""Start every process of Gongkai, watch them, restart the ones that die, stop them all cleanly.

Used by ``gongkai up`` and by the end-to-end tests, so the tests run the system the way a
newcomer does. Services are started as processes (``python -m gongkai_<service> …``), never
imported: the runner knows their names, not their code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["SERVICES", "Process", "Supervisor", "migrate_all"]

#: Services in start order: the gateway last, so its upstreams are up when it answers.
SERVICES = ("catalog", "requests", "interpretation", "sentiment", "gateway")
PORTS = {"gateway": 8000, "catalog": 8001, "requests": 8002, "interpretation": 8003, "sentiment": 8004}


def migrate_all(env: Mapping[str, str], *, services: tuple[str, ...] = SERVICES) -> None:
    """Create and migrate every service's database (in parallel; each owns its own database)."""
    procs = {
        s: subprocess.Popen(
            [sys.executable, "-m", f"gongkai_{s}", "migrate"],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for s in services
    }
    failed = []
    for s, p in procs.items():
        out, _ = p.communicate(timeout=300)
        if p.returncode != 0:
            failed.append(f"--- {s} ---\n{out[-4000:]}")
    if failed:
        raise RuntimeError("migration failed:\n" + "\n".join(failed))


@dataclass
class Process:
    name: str
    argv: list[str]
    ready_url: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    log: IO[bytes] | None = None
    _pump: threading.Thread | None = None


@dataclass
class Supervisor:
    env: dict[str, str]
    log_dir: Path
    #: Ports of the APIs (a test run uses free ports instead of the defaults).
    ports: dict[str, int] = field(default_factory=lambda: dict(PORTS))
    host: str = "127.0.0.1"
    echo_errors: bool = True
    processes: list[Process] = field(default_factory=list)
    _stopping: bool = False

    def plan(self, services: tuple[str, ...] = SERVICES) -> None:
        for s in services:
            port = self.ports[s]
            self.env[f"GK_{s.upper()}_PORT"] = str(port)
            self.env[f"GK_{s.upper()}_HOST"] = self.host
            if s != "gateway":
                self.env[f"GK_GATEWAY_{s.upper()}_URL"] = f"http://{self.host}:{port}"
            if s in ("requests", "interpretation", "sentiment"):
                # The catalog asks these for annual-report tables and assessment figures: this
                # installation's ports, not the defaults (another installation may hold those).
                self.env[f"GK_CATALOG_{s.upper()}_URL"] = f"http://{self.host}:{port}"
        for s in services:
            py = [sys.executable, "-m", f"gongkai_{s}"]
            self.processes.append(Process(f"{s}-worker", [*py, "worker"]))
            self.processes.append(
                Process(f"{s}-api", [*py, "api"], ready_url=f"http://{self.host}:{self.ports[s]}/readyz")
            )

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for p in self.processes:
            self._spawn(p)

    def _spawn(self, p: Process) -> None:
        if p.log is None:
            p.log = open(self.log_dir / f"{p.name}.log", "ab")
        p.popen = subprocess.Popen(
            p.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        p.started_at = time.monotonic()
        p._pump = threading.Thread(target=self._pump_output, args=(p, p.popen), daemon=True)
        p._pump.start()

    def _pump_output(self, p: Process, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None and p.log is not None
        for line in popen.stdout:
            p.log.write(line)
            p.log.flush()
            if self.echo_errors and (b'"level":"error"' in line or b'"level": "error"' in line or b"Traceback" in line):
                sys.stderr.write(f"[{p.name}] {line.decode('utf-8', 'replace')}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = [p for p in self.processes if p.ready_url]
        while pending:
            for p in list(pending):
                if p.popen is not None and p.popen.poll() is not None:
                    raise RuntimeError(f"{p.name} exited with {p.popen.returncode}; see {self.log_dir / p.name}.log")
                try:
                    with urllib.request.urlopen(p.ready_url, timeout=2) as resp:
                        if resp.status == 200:
                            pending.remove(p)
                except (urllib.error.URLError, OSError):
                    pass
            if pending and time.monotonic() > deadline:
                names = ", ".join(p.name for p in pending)
                raise TimeoutError(f"not ready after {timeout:.0f}s: {names}; logs in {self.log_dir}")
            if pending:
                time.sleep(0.2)

    def watch_once(self) -> list[str]:
        """Restart processes that died (with backoff); return the names restarted."""
        restarted = []
        for p in self.processes:
            if self._stopping or p.popen is None or p.popen.poll() is None:
                continue
            backoff = min(2 ** min(p.restarts, 5), 30)
            if time.monotonic() - p.started_at < backoff:
                continue
            p.restarts += 1
            sys.stderr.write(f"[supervisor] {p.name} exited with {p.popen.returncode}; restarting\n")
            self._spawn(p)
            restarted.append(p.name)
        return restarted

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping = True
        # Gateway and APIs first, then workers (they finish relaying what the APIs wrote).
        order = [p for p in self.processes if p.name.endswith("-api")] + [
            p for p in self.processes if p.name.endswith("-worker")
        ]
        for group in (order[: len(order) // 2], order[len(order) // 2 :]):
            for p in group:
                if p.popen is not None and p.popen.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for p in group:
                if p.popen is None:
                    continue
                try:
                    p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.popen.pid, signal.SIGKILL)
                    p.popen.wait()
        for p in self.processes:
            if p._pump is not None:
                p._pump.join(timeout=2)
            if p.log is not None:
                p.log.close()
                p.log = None

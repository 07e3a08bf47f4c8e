"""The demo city loader (issue 8 point 3): how long each phase of ``./gongkai demo`` takes, and where the time goes.

It starts a fresh stack of its own, exactly as ``./gongkai up`` does (the supervisor runs every service's API and
worker as processes), on ``DATABASE_URL`` / ``NATS_URL`` when set, otherwise on an embedded PostgreSQL and NATS in a
temporary folder. Its databases are ``gkbdemo<hex>_<service>`` and its streams ``GKBDEMO<HEX>_*``; both are
removed at the end. Then it loads a scale of the city through the gateway and prints:

- wall-clock seconds per phase and the counts loaded;
- per API route: calls, seconds the loader waited for the answers, mean ms per call;
- CPU seconds per process (every API and worker, the loader itself) and of the whole machine, per phase
  (the machine's includes PostgreSQL, NATS and other people's work on a shared machine);
- with ``--check``: the issue's "Done when" through the gateway on the loaded city: annual reports of three
  departments for two years (HTML, Word, the format's checks, submitted, reviewed, published into the catalog),
  and the assessment's ranking with its charts; each step's seconds.

    .venv/bin/python bench/demo.py --scale small            # ~5 minutes
    .venv/bin/python bench/demo.py --scale full --nice 10 --check
    .venv/bin/python bench/demo.py --scale tiny --keep       # leaves the stack running until Ctrl-C
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import psutil
from gongkai_dev import demo
from gongkai_dev.supervisor import SERVICES, Supervisor, migrate_all
from gongkai_shared.timeutil import china_today
from sqlalchemy.engine import make_url

# Runs ``python -m <module> <args>`` under cProfile and writes the profile when the process is stopped. Not
# ``python -m cProfile``: uvicorn re-raises the SIGTERM it handled once it has shut down, which would end the
# process before cProfile writes its file; here that signal raises SystemExit and the file is written.
PROFILED = """
import cProfile, runpy, signal, sys
out, module = sys.argv[1], sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
def stop(*_):
    raise SystemExit(0)
signal.signal(signal.SIGTERM, stop)
profile = cProfile.Profile()
profile.enable()
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    profile.disable()
    profile.dump_stats(out)
"""
ADMIN = ("bench-admin", "bench-admin-password-" + secrets.token_hex(4))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    prefix: str
    namespace: str
    admin_url: str
    nats_url: str
    tmp: Path
    embedded: list = field(default_factory=list)
    sup: Supervisor | None = None

    @property
    def gateway(self) -> str:
        assert self.sup is not None
        return f"http://127.0.0.1:{self.sup.ports['gateway']}"


def start_stack(run: str, nice: int, profile: list[str]) -> Stack:
    """Start the stack; if that fails, stop what was started and remove its databases and streams."""
    if nice:
        os.nice(nice)  # the services inherit it: other work on the machine keeps its share
    tmp = Path(tempfile.mkdtemp(prefix="gkbdemo-"))
    stack = Stack(f"gkbdemo{run}_", f"gkbdemo{run}", os.environ.get("DATABASE_URL", ""),
                  os.environ.get("NATS_URL", ""), tmp)  # fmt: skip
    try:
        _start(stack, profile)
    except BaseException:
        stop_stack(stack, keep_logs=True, profile=[])
        raise
    return stack


def _start(stack: Stack, profile: list[str]) -> None:
    from gongkai_dev.embedded import EmbeddedNats, EmbeddedPostgres

    tmp = stack.tmp

    if not stack.admin_url:
        pg = EmbeddedPostgres(tmp / "pg", port=free_port()).start()
        stack.embedded.append(pg)
        stack.admin_url = pg.url
    if not stack.nats_url:
        n = EmbeddedNats(tmp / "nats", port=free_port(), monitor_port=free_port()).start()
        stack.embedded.append(n)
        stack.nats_url = n.url
    env = dict(os.environ)
    env |= {
        "DATABASE_URL": stack.admin_url,
        "NATS_URL": stack.nats_url,
        "GK_DATABASE_PREFIX": stack.prefix,
        "GK_EVENT_NAMESPACE": stack.namespace,
        "GK_ADMIN_USERNAME": ADMIN[0],
        "GK_ADMIN_PASSWORD": ADMIN[1],
        "GK_JWT_SECRET": secrets.token_urlsafe(48),
        "GK_LOG_JSON": "true",
    }
    t0 = time.monotonic()
    migrate_all(env)
    ports = {s: free_port() for s in SERVICES}
    sup = Supervisor(env=env, log_dir=tmp / "logs", ports=ports)
    sup.plan()
    for p in sup.processes:
        if p.name in profile:  # python -c PROFILED <logs>/<name>.prof gongkai_<service> api|worker
            p.argv = [p.argv[0], "-c", PROFILED, str(sup.log_dir / f"{p.name}.prof"), *p.argv[2:]]
    stack.sup = sup
    sup.start()
    sup.wait_ready(timeout=180)
    print(f"stack ready in {time.monotonic() - t0:.0f} s (logs in {sup.log_dir})", flush=True)


async def cleanup(stack: Stack) -> None:
    with contextlib.suppress(Exception):
        nc = await nats.connect(stack.nats_url, connect_timeout=5, max_reconnect_attempts=1)
        try:
            js = nc.jetstream()
            for info in await js.streams_info():
                if info.config.name.startswith(stack.namespace.upper() + "_"):
                    await js.delete_stream(info.config.name)
        finally:
            await nc.close()
    admin = make_url(stack.admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        for row in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", stack.prefix + "%"):
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


def stop_stack(stack: Stack, *, keep_logs: bool, profile: list[str]) -> None:
    if stack.sup is not None:
        stack.sup.stop()
        for name in profile:
            path = stack.sup.log_dir / f"{name}.prof"
            if path.exists():
                print(f"\ncProfile of {name} (the top 25 by own time; async code: time per resumption):")
                pstats.Stats(str(path)).sort_stats("tottime").print_stats(25)
                print(f"cProfile of {name} (the top 40 by cumulative time):")
                pstats.Stats(str(path)).sort_stats("cumulative").print_stats(40)
    try:
        asyncio.run(cleanup(stack))
    except Exception as exc:  # say so, and go on stopping the rest
        print(f"could not remove the databases {stack.prefix}* / streams {stack.namespace.upper()}_*: {exc!r}")
    for server in reversed(stack.embedded):
        with contextlib.suppress(Exception):
            server.stop()
    if keep_logs:
        print(f"logs kept in {stack.tmp / 'logs'}")
        for server_dir in ("pg", "nats"):
            shutil.rmtree(stack.tmp / server_dir, ignore_errors=True)
    else:
        shutil.rmtree(stack.tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ CPU per phase


class CpuMeter:
    """CPU seconds (user + system) of every supervised process and of this one, and of the machine, per phase."""

    def __init__(self, sup: Supervisor, stack: Stack) -> None:
        self.sup = sup
        self.stack = stack
        #: PostgreSQL backends serving our databases (pid → CPU seconds when last seen), when the server runs here
        self._pg: dict[int, float] = {}
        self._pg_total = 0.0
        self.me = psutil.Process()
        self.rows: list[tuple[str, float, dict[str, float], float]] = []  # phase, wall, per process, machine
        self._phase: str | None = None
        self._t = 0.0
        self._cpu: dict[str, float] = {}
        self._machine = 0.0
        self._load: list[float] = []

    def _snapshot(self) -> dict[str, float]:
        out = {}
        for p in self.sup.processes:
            if p.popen is None:
                continue
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(p.popen.pid)
                procs = [proc, *proc.children(recursive=True)]
                out[p.name] = sum(sum(q.cpu_times()[:2]) for q in procs)
        t = self.me.cpu_times()
        out["loader (this process)"] = t.user + t.system
        out["postgres (our DBs)"] = self._postgres()
        return out

    def _postgres(self) -> float:
        """CPU of the PostgreSQL backends connected to our databases (pg_stat_activity), when they run on this
        machine; a backend that ended between two snapshots loses its last share (the pools keep theirs open)."""

        async def pids() -> list[int]:
            admin = make_url(self.stack.admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
            conn = await asyncpg.connect(admin)
            try:
                sql = "SELECT pid FROM pg_stat_activity WHERE datname LIKE $1"
                rows = await conn.fetch(sql, self.stack.prefix + "%")
                return [r["pid"] for r in rows]
            finally:
                await conn.close()

        with ThreadPoolExecutor(1) as pool:  # the loader's event loop is running in this thread
            found = pool.submit(asyncio.run, pids()).result()
        for pid in found:
            with contextlib.suppress(psutil.Error):
                now = sum(psutil.Process(pid).cpu_times()[:2])
                self._pg_total += now - self._pg.get(pid, 0.0)
                self._pg[pid] = now
        return self._pg_total

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.system + t.nice + getattr(t, "irq", 0) + getattr(t, "softirq", 0)

    def __call__(self, phase: str | None) -> None:
        now, cpu, machine = time.monotonic(), self._snapshot(), self._machine_busy()
        self._load.append(os.getloadavg()[0])
        if self._phase is not None:
            spent = {k: v - self._cpu.get(k, 0.0) for k, v in cpu.items()}
            self.rows.append((self._phase, now - self._t, spent, machine - self._machine))
        self._phase, self._t, self._cpu, self._machine = phase, now, cpu, machine

    def report(self) -> str:
        if not self.rows:
            return ""
        totals: dict[str, float] = {}
        for _, _, spent, _ in self.rows:
            for k, v in spent.items():
                totals[k] = totals.get(k, 0.0) + v
        names = sorted(totals, key=lambda k: -totals[k])
        short = [n.replace("-worker", "-w").replace(" (this process)", "") for n in names]
        lines = ["CPU seconds per phase (user+system; machine = all processes, incl. PostgreSQL, NATS, others' work):"]
        lines.append(f"  {'phase':<26}{'wall s':>8}{'machine':>9}" + "".join(f"{s[:12]:>13}" for s in short))
        wall = machine = 0.0
        for phase, w, spent, m in self.rows:
            wall += w
            machine += m
            lines.append(f"  {phase[:25]:<26}{w:>8.1f}{m:>9.1f}" + "".join(f"{spent.get(n, 0):>13.1f}" for n in names))
        lines.append(
            f"  {'total':<26}{wall:>8.1f}{machine:>9.1f}" + "".join(f"{totals.get(n, 0):>13.1f}" for n in names)
        )
        cores = psutil.cpu_count()
        loads = ", ".join(f"{x:.1f}" for x in self._load)
        lines.append(f"  machine busy share: {machine / (wall * cores):.0%} of {cores} cores; 1-min load average at the"
                     f" phase boundaries: {loads}")  # fmt: skip
        return "\n".join(lines)


def routes_report(timings: dict[str, list[float]], top: int = 30) -> str:
    rows = sorted(timings.items(), key=lambda kv: -kv[1][1])
    total = sum(v[1] for v in timings.values())
    calls = sum(v[0] for v in timings.values())
    lines = [f"API calls: {calls:,} in {len(timings)} routes; the loader waited {total:,.0f} s in all (concurrent calls"
             " overlap, so this is not wall time). Slowest routes by time waited:",
             f"  {'route':<64}{'calls':>7}{'s':>9}{'ms/call':>9}{'share':>7}"]  # fmt: skip
    for route, (n, s) in rows[:top]:
        lines.append(f"  {route[:63]:<64}{int(n):>7}{s:>9.1f}{1000 * s / n:>9.0f}{s / total:>7.0%}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ Done when


async def check_done_when(base: str, loaded: demo.Loaded, *, departments: int = 3, log: Any = print) -> int:
    """Issue 8's "Done when", through the gateway: annual reports of a few departments for two years (HTML, Word,
    the format's checks, review, publication into the catalog) and the assessment's ranking with charts.

    Prints one line per report and one for the assessment; returns how many of them failed."""
    failed = 0
    async with httpx.AsyncClient(base_url=base + "/api/v1", timeout=300) as c:

        async def token(user: str, password: str) -> dict[str, str]:
            r = await c.post("/auth/token", data={"username": user, "password": password})
            r.raise_for_status()
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        def expect(r: httpx.Response, status: int = 200) -> httpx.Response:
            if r.status_code != status:
                raise AssertionError(f"{r.request.method} {r.request.url.path} → {r.status_code}: {r.text[:400]}")
            return r

        async def report(org: demo.Org, year: int, staff: dict[str, str], reviewer: dict[str, str]) -> str:
            t0 = time.monotonic()
            path = f"/catalog/organizations/{org.id}/annual-reports"
            draft = expect(await c.post(path, headers=staff, json={"year": year}), 201).json()
            # The fees collected come from the requests service: the payments the demo recorded in that year.
            if Decimal(draft["fees_collected"] or "-1") != loaded.fees[(org.id, year)]:
                raise AssertionError(f"fees {draft['fees_collected']} ≠ paid {loaded.fees[(org.id, year)]}")
            errors = [x for x in draft["checks"] if x["severity"] == "error"]
            html = expect(await c.get(f"{path}/{year}/html", headers=staff))
            docx = expect(await c.get(f"{path}/{year}/docx", headers=staff))
            assert "<table" in html.text and docx.content[:2] == b"PK", "HTML without tables or Word not a zip"
            item_id = expect(await c.post(f"{path}/{year}/submit", headers=staff)).json()["item_id"]
            item = expect(await c.get(f"/catalog/items/{item_id}", headers=staff)).json()
            stages = 0
            while item["status"] == "in_review":
                item = expect(
                    await c.post(f"/catalog/items/{item_id}/approve", headers=reviewer, json={"opinion": "同意"})
                ).json()
                stages += 1
            item = expect(await c.post(f"/catalog/items/{item_id}/publish", headers=staff)).json()
            final = expect(await c.get(f"{path}/{year}", headers=staff)).json()
            rows = (draft["table3"] or {}).get("rows") or []
            received = next((r["values"][-1] for r in rows if r.get("values")), None)  # 一、本年新收, 总计
            kb = f"HTML {len(html.text) // 1024} KB, Word {len(docx.content) // 1024} KB"
            return (
                f"  {org.name} {year}: {len(draft['checks'])} checks reported, {len(errors)} errors; table 三: "
                f"{received} received; {kb};"
                f" {stages} review stages; published {item['index_number']}, report {final['status']};"
                f" {time.monotonic() - t0:.1f} s"
            )

        office = await token(*ADMIN)
        last = china_today().year - 1
        for org in [o for o in loaded.orgs if o.type == "department"][:departments]:
            staff = await token(org.staff.username, org.staff.password)
            reviewer = await token(org.reviewer.username, org.reviewer.password)
            for year in (last - 1, last):
                try:
                    log(await report(org, year, staff, reviewer))
                except (AssertionError, httpx.HTTPError, KeyError) as exc:
                    failed += 1
                    log(f"  FAILED {org.name} {year}: {exc}")
        # The assessment of the current year (where the demo's publications and interpretations are: they happen
        # today) and of the last one (publications of that year are all still "unpublished" as of 31 December).
        for period in (str(last + 1), str(last)):
            t0 = time.monotonic()
            try:
                params = {"period": period}
                ranked = expect(await c.get("/catalog/assessment", headers=office, params=params)).json()["departments"]
                chart = expect(await c.get("/catalog/assessment/chart.svg", headers=office, params=params))
                trend = expect(await c.get("/catalog/assessment/trend.svg", headers=office, params=params))
                xlsx = expect(await c.get("/catalog/assessment/export.xlsx", headers=office, params=params))
                assert "<svg" in chart.text and "<svg" in trend.text and xlsx.content[:2] == b"PK", "not SVG / xlsx"
                scores = [d["score"] for d in ranked if d["score"] is not None]
                top = ", ".join(f"{d['rank']}. {d['name']} {d['score']}" for d in ranked[:3])
                sizes = f"chart.svg {len(chart.text) // 1024} KB, trend.svg {len(trend.text) // 1024} KB"
                log(
                    f"  assessment {period}: {len(ranked)} departments ranked, scores {min(scores, default=None)} to "
                    f"{max(scores, default=None)} ({top} …); {sizes}, xlsx {len(xlsx.content) // 1024} KB;"
                    f" {time.monotonic() - t0:.1f} s"
                )
            except (AssertionError, httpx.HTTPError, KeyError) as exc:
                failed += 1
                log(f"  FAILED assessment {period}: {exc}")
    return failed


# ------------------------------------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=tuple(demo.SCALES), default="small")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--concurrency", type=int, default=None, help="loader's concurrent calls (its default if unset)")
    ap.add_argument("--nice", type=int, default=0, help="run the stack and the loader at this niceness")
    ap.add_argument("--check", action="store_true", help="then check issue 8's 'Done when' on the loaded city")
    ap.add_argument("--keep", action="store_true", help="leave the stack running until Ctrl-C (then clean up)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the services' logs")
    ap.add_argument("--profile", nargs="*", default=[], metavar="PROCESS",
                    help="run these processes under cProfile (e.g. requests-api catalog-worker)")  # fmt: skip
    args = ap.parse_args()
    run = secrets.token_hex(3)
    print(f"bench/demo.py --scale {args.scale} --seed {args.seed}; 1-min load average {os.getloadavg()[0]:.1f}; "
          f"{psutil.cpu_count()} cores; run {run}", flush=True)  # fmt: skip
    stack = start_stack(run, args.nice, args.profile)
    assert stack.sup is not None
    meter = CpuMeter(stack.sup, stack)
    try:
        kwargs = {} if args.concurrency is None else {"concurrency": args.concurrency}
        t0 = time.monotonic()
        loaded = asyncio.run(
            demo.load_city(stack.gateway, *ADMIN, scale=args.scale, seed=args.seed, on_phase=meter, **kwargs)
        )
        seconds = time.monotonic() - t0
        print(demo.summary(loaded, stack.gateway, seconds))
        print()
        print(f"{args.scale}: {seconds:.0f} s in all; " + "; ".join(f"{k} {v:.0f} s" for k, v in loaded.phases.items()))
        print(meter.report())
        print(routes_report(loaded.timings))
        if args.check:
            print("\nDone when (issue 8), through the gateway:", flush=True)
            t0 = time.monotonic()
            try:
                failed = asyncio.run(check_done_when(stack.gateway, loaded, log=lambda line: print(line, flush=True)))
            except Exception:  # keep the stack for --keep; say what broke
                traceback.print_exc()
                failed = -1
            print(f"  {failed} failed; all in {time.monotonic() - t0:.0f} s; load average {os.getloadavg()[0]:.1f}")
        if args.keep:
            print(f"\nThe stack stays up: gateway {stack.gateway} (user {ADMIN[0]!r}, password {ADMIN[1]!r}). "
                  "Ctrl-C stops it and removes its databases and streams.", flush=True)  # fmt: skip
            stopped = False

            def on_signal(*_: object) -> None:
                nonlocal stopped
                stopped = True

            signal.signal(signal.SIGINT, on_signal)
            signal.signal(signal.SIGTERM, on_signal)
            while not stopped:
                stack.sup.watch_once()
                time.sleep(0.5)
    finally:
        stop_stack(stack, keep_logs=args.keep_logs or bool(args.profile), profile=args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

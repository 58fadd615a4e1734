"""Ingest benchmark: the collector against a bare Starlette app answering 204, same load, same run.

    python bench/ingest.py [--seconds 8] [--half-seconds 60] [--connections 50,100,200,400] [--compare 0,2]

Drives each server on 127.0.0.1 with wrk (Debian's `wrk`; `apt-get install wrk`), POSTing real
beacons (a pool of 200 user-agents, 3 pages with UTM parameters, a new visitor id every 5 beacons of a
connection, so that visitors have the few events each that they have on a real site), at each number
of open connections in turn (closed loop: a connection sends its next request when the last one is
answered).

Why a sweep: a durable group commit answers each request after its transaction, so with few
connections the collector waits on commits while the CPUs idle; its ceiling shows only when enough
requests arrive at once to fill the batches, as the beacons of many visitors do. Each server's peak is
its best level; the ratio is collector peak / bare peak, and the ratio at every level is printed too.

All the servers run from the start and take turns at each level, so that a busy moment of the shared
machine falls on all of them rather than on one; while one is measured, the others are paused
(SIGSTOP), so that their housekeeping (a checkpoint after their turn) does not fall in its run.

Prints, for each server and level: requests/s, p50/p99 latency; for the collector also events stored
(counted in the DuckDB file after a SIGTERM) against events acknowledged; then p50/p99 at about half
the collector's peak rate, for --half-seconds (at the peak's connections, each waiting a random think
time around the mean that gives that rate, so that they do not fire in step). The collector runs as
shipped, then with the `--compare` worker counts (0 = one process). Without wrk it falls back to a
bounded asyncio client, much slower than the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import httpx

ORIGIN = "https://www.ecloserie.test"
BARE_APP = textwrap.dedent("""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def hit(request):
        await request.body()
        return Response(status_code=204)

    app = Starlette(routes=[Route("/e", hit, methods=["POST"])])
""")

LUA = textwrap.dedent("""
    local bodies = {}
    local agents = {}
    local pages = {"/formation?utm_source=newsletter&utm_medium=email&utm_campaign=nov",
                   "/candidater", "/?utm_source=facebook&utm_medium=social"}
    for i = 1, 200 do
      agents[i] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" ..
                  (100 + i) .. ".0.0.0 Safari/537.36"
    end
    for i = 1, 3 do
      bodies[i] = '{"site":"bench","url":"https://www.ecloserie.test' .. pages[i] ..
                  '","referrer":"https://www.google.fr/","visitor_id":"'
    end
    -- many visitors, as on a real site: each sends 5 beacons, then the connection is a new visitor
    local run = os.time() .. "-" .. math.random(1000000)
    local n = 0
    local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
    request = function()
      n = n + 1
      local headers = {["Content-Type"] = "text/plain", ["Origin"] = "https://www.ecloserie.test",
                       ["User-Agent"] = agents[(n % 200) + 1]}
      return wrk.format("POST", "/e", headers, bodies[(n % 3) + 1] .. run .. "-" .. math.floor(n / 5) .. '"}')
    end
    if pause > 0 then
      -- a think time drawn around the mean, so that the connections do not all fire in step
      delay = function() return math.floor(pause * (0.5 + math.random())) end
    end
    done = function(summary, latency, requests)
      io.write(string.format("JSON {\\"requests\\": %d, \\"non2xx\\": %d, \\"errors\\": %d, " ..
        "\\"p50_ms\\": %.3f, \\"p99_ms\\": %.3f, \\"seconds\\": %.3f}\\n",
        summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
        summary.errors.write + summary.errors.timeout, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, summary.duration / 1e6))
    end
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit(f"server exited early ({proc.returncode})")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"server at {url} did not start")


def run_wrk(url: str, seconds: int, connections: int, lua: Path, delay_ms: float = 0) -> dict[str, float]:
    env = {**os.environ, "WRK_DELAY_MS": str(delay_ms)}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(lua),
                          url], capture_output=True, text=True, env=env, check=True).stdout
    match = re.search(r"^JSON (.*)$", out, re.M)
    if not match:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / result["seconds"]
    return result


async def python_load(url: str, seconds: int, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    non2xx = 0
    deadline = time.monotonic() + seconds
    body = '{"site":"bench","url":"https://www.ecloserie.test/?utm_source=newsletter"}'

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal non2xx
        while time.monotonic() < deadline:
            t = time.perf_counter()
            r = await client.post(url, content=body, headers={"Origin": ORIGIN, "Content-Type": "text/plain"})
            latencies.append(time.perf_counter() - t)
            non2xx += r.status_code >= 300

    started = time.monotonic()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    latencies.sort()
    elapsed = time.monotonic() - started
    return {"requests": len(latencies), "non2xx": non2xx, "errors": 0, "seconds": elapsed,
            "rps": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}


def load(url: str, seconds: int, connections: int, lua: Path, delay_ms: float = 0) -> dict[str, float]:
    if shutil.which("wrk"):
        return run_wrk(url, seconds, connections, lua, delay_ms)
    return asyncio.run(python_load(url, seconds, connections))


class Server:
    """One server under test: bare Starlette, or the collector with some flags, on its own port."""

    def __init__(self, tmp: Path, name: str, flags: tuple[str, ...] | None) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}/e"
        self.db: Path | None = None
        if flags is None:  # the floor of the stack: same server settings (uvloop, httptools, no access log)
            cmd = [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(self.port), "--no-access-log",
                   "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
            health = f"http://127.0.0.1:{self.port}/"
        else:
            self.db = tmp / f"bench{'-'.join(flags) or 'default'}.duckdb"
            subprocess.run([sys.executable, "-m", "webleads", "site", "add", "bench", "--origin", ORIGIN,
                            "--db", str(self.db)], check=True, capture_output=True)
            cmd = [sys.executable, "-m", "webleads", "serve", "--db", str(self.db), "--port", str(self.port), *flags]
            health = f"http://127.0.0.1:{self.port}/healthz"
        self.proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_up(health, self.proc)
        self.runs: dict[int, dict[str, float]] = {}
        self.extra: list[dict[str, float]] = []  # warm-up and calibration runs: their answers count too

    @property
    def best(self) -> int:
        return max(self.runs, key=lambda c: self.runs[c]["rps"])

    @property
    def peak(self) -> dict[str, float]:
        return self.runs[self.best]

    def commit_buckets(self) -> dict[str, float]:
        """The collector's histogram of commit durations (its /metrics, open to local clients)."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        return {m.group(1): float(m.group(2)) for m in
                re.finditer(r'^webleads_commit_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.M)}

    def half_peak(self, seconds: int, lua: Path) -> None:
        """About half the peak rate, at the peak's connections: each waits a think time between its
        requests. Rate = connections / (think time + latency), and the latency at half load is not
        the peak's: short runs measure it and correct the think time (twice), after a first run that
        wakes the server (it may have a checkpoint due after idling while the others had their turn)."""
        best, target = self.best, self.peak["rps"] / 2
        delay_ms = best / target * 1000
        self.extra.append(load(self.url, 2, best, lua, delay_ms))
        for _ in range(2):
            probe = load(self.url, 3, best, lua, delay_ms)
            self.extra.append(probe)
            latency_ms = max(0.0, best / probe["rps"] * 1000 - delay_ms)
            delay_ms = max(0.0, best / target * 1000 - latency_ms)
        before = self.commit_buckets()
        self.half = load(self.url, seconds, best, lua, delay_ms)
        after = self.commit_buckets()
        self.slow = {b: after[b] - before.get(b, 0) for b in after}

    def pause(self, paused: bool) -> None:
        """SIGSTOP/SIGCONT the server's main process (the collector's database process, where its
        writer and its housekeeping run), so that an idle checkpoint after its turn does not fall in
        another server's measured run."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    def stop(self) -> None:
        self.pause(False)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)

    def stored(self) -> int:
        assert self.db is not None
        with duckdb.connect(str(self.db), read_only=True) as conn:
            return int(conn.execute("SELECT count(*) FROM event_log").fetchone()[0])  # type: ignore[index]

    def acknowledged(self) -> tuple[int, int]:
        every = [*self.extra, *self.runs.values(), self.half]
        return sum(int(r["requests"] - r["non2xx"]) for r in every), sum(int(r["non2xx"]) for r in every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each measured run of the sweep")
    parser.add_argument("--half-seconds", type=int, default=60,
                        help="length of the run at half the peak: long enough to hold the writer's occasional "
                             "pauses (a checkpoint, a refresh of the sessions) at their usual rate")
    parser.add_argument("--connections", default="50,100,200,400",
                        help="comma-separated numbers of open connections to try (default 50,100,200,400)")
    parser.add_argument("--compare", default="0,2",
                        help="other worker counts to run the collector with ('' for none; 0 = one process)")
    args = parser.parse_args()
    try:
        levels = sorted({int(c) for c in args.connections.split(",") if c.strip()})
        others = [int(w) for w in args.compare.split(",") if w.strip()]
    except ValueError:
        raise SystemExit("--connections and --compare take comma-separated whole numbers, e.g. 50,100,200") from None
    if not levels or min(levels) < 1:
        raise SystemExit("--connections needs at least one number of connections, each at least 1")
    tmp = Path(tempfile.mkdtemp(prefix="webleads-bench-"))
    lua = tmp / "beacon.lua"
    lua.write_text(LUA)
    (tmp / "bare_app.py").write_text(BARE_APP)
    print(f"load: {'wrk' if shutil.which('wrk') else 'python asyncio client (install wrk for real numbers)'}, "
          f"{', '.join(map(str, levels))} connections, {args.seconds}s each, on {os.cpu_count()} cores", flush=True)

    # Every server runs from the start; at each level they take turns, so that a busy moment of this
    # shared machine falls on all of them rather than on one. The collector: full validation,
    # enrichment, durable group commit; as shipped, then with the other worker counts.
    servers: list[Server] = []
    try:
        servers.append(Server(tmp, "bare starlette", None))
        servers.append(Server(tmp, "collector", ()))
        servers += [Server(tmp, f"collector --workers {w}", ("--workers", str(w))) for w in others]
        # Only the server being measured runs; the others are paused meanwhile.
        def turn(current: Server) -> None:
            for server in servers:
                server.pause(server is not current)

        for server in servers:
            turn(server)
            server.extra.append(load(server.url, 2, levels[-1], lua))  # warm-up
        for c in levels:
            for server in servers:
                turn(server)
                server.runs[c] = load(server.url, args.seconds, c, lua)
        bare, collectors = servers[0], servers[1:]
        for server in collectors:
            turn(server)
            server.half_peak(args.half_seconds, lua)
    finally:
        for server in servers:
            server.stop()

    def line(name: str, r: dict[str, float]) -> str:
        return (f"{name:<40} {r['rps']:>9,.0f} req/s   p50 {r['p50_ms']:7.2f} ms   p99 {r['p99_ms']:7.2f} ms"
                f"   non-2xx {int(r['non2xx'])}   socket errors {int(r['errors'])}")

    print()
    for c in levels:
        print(line(f"bare starlette, {c} connections", bare.runs[c]))
        for s in collectors:
            ratio = s.runs[c]["rps"] / bare.runs[c]["rps"]
            print(line(f"{s.name}, {c} connections", s.runs[c]) + f"   ratio {ratio:.2f}")
    print()
    print(f"bare starlette peak: {bare.peak['rps']:,.0f} req/s at {bare.best} connections")
    for s in collectors:
        acked, refused = s.acknowledged()
        stored = s.stored()
        print(f"{s.name}: peak {s.peak['rps']:,.0f} req/s at {s.best} connections, "
              f"ratio to bare peak {s.peak['rps'] / bare.peak['rps']:.2f} (goal >= 0.60); "
              f"p99 at ~half peak ({s.half['rps']:,.0f} req/s = {s.half['rps'] / s.peak['rps']:.2f} of its peak, "
              f"for {s.half['seconds']:.0f} s) "
              f"{s.half['p99_ms']:.2f} ms (goal < 50 ms); "
              f"acknowledged {acked:,}, stored {stored:,}, refused (503) {refused:,}, lost {max(0, acked - stored):,}")
        if "+Inf" in s.slow:
            h = s.slow
            print(f"  commits during the half-peak run: {h['+Inf']:,.0f}, of which over 50 ms "
                  f"{h['+Inf'] - h.get('0.05', 0):,.0f}, over 250 ms {h['+Inf'] - h.get('0.25', 0):,.0f}; "
                  f"p50 there {s.half['p50_ms']:.2f} ms")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Ingest benchmark: the collector against a bare Starlette app answering 204, same load, same run.

    python bench/ingest.py [--seconds 8] [--half-seconds 30] [--connections 50,100,200,400] [--compare 0,2]

Drives each server on 127.0.0.1 with wrk (Debian's `wrk`; `apt-get install wrk`), POSTing real
beacons (a pool of 200 user-agents, 3 pages with UTM parameters), at each number of open connections
in turn (closed loop: a connection sends its next request when the last one is answered).

Why a sweep: a durable group commit answers each request after its transaction, so with few
connections the collector waits on commits while the CPUs idle; its ceiling shows only when enough
requests arrive at once to fill the batches, as the beacons of many visitors do. Each server's peak is
its best level; the ratio is collector peak / bare peak, and the ratio at every level is printed too.

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
from typing import Any

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
                  '","referrer":"https://www.google.fr/"}'
    end
    local n = 0
    local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
    request = function()
      n = n + 1
      local headers = {["Content-Type"] = "text/plain", ["Origin"] = "https://www.ecloserie.test",
                       ["User-Agent"] = agents[(n % 200) + 1]}
      return wrk.format("POST", "/e", headers, bodies[(n % 3) + 1])
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


def sweep(url: str, levels: list[int], seconds: int, lua: Path) -> dict[str, Any]:
    """Each level in turn (after a warm-up at the highest); the peak is the best level."""
    warm = load(url, 2, levels[-1], lua)
    runs = {c: load(url, seconds, c, lua) for c in levels}
    best = max(runs, key=lambda c: runs[c]["rps"])
    return {"warm": warm, "runs": runs, "best": best, "peak": runs[best]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each measured run of the sweep")
    parser.add_argument("--half-seconds", type=int, default=30,
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

    # 1. the floor of the stack: bare Starlette, same server settings (uvloop, httptools, no access log)
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--no-access-log",
                             "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"], cwd=tmp)
    try:
        wait_up(f"http://127.0.0.1:{port}/", bare)
        floor = sweep(f"http://127.0.0.1:{port}/e", levels, args.seconds, lua)
    finally:
        bare.send_signal(signal.SIGTERM)
        bare.wait(30)

    # 2. the collector: full validation, enrichment, durable group commit; as shipped, then with the
    #    other worker counts for comparison
    runs = [("collector", run_collector(tmp, lua, levels, args, ()))]
    runs += [(f"collector --workers {w}", run_collector(tmp, lua, levels, args, ("--workers", str(w))))
             for w in others]

    def line(name: str, r: dict[str, float]) -> str:
        return (f"{name:<40} {r['rps']:>9,.0f} req/s   p50 {r['p50_ms']:7.2f} ms   p99 {r['p99_ms']:7.2f} ms"
                f"   non-2xx {int(r['non2xx'])}   socket errors {int(r['errors'])}")

    print()
    for c in levels:
        print(line(f"bare starlette, {c} connections", floor["runs"][c]))
        for name, r in runs:
            print(line(f"{name}, {c} connections", r["runs"][c])
                  + f"   ratio {r['runs'][c]['rps'] / floor['runs'][c]['rps']:.2f}")
    print()
    print(f"bare starlette peak: {floor['peak']['rps']:,.0f} req/s at {floor['best']} connections")
    for name, r in runs:
        print(f"{name}: peak {r['peak']['rps']:,.0f} req/s at {r['best']} connections, "
              f"ratio to bare peak {r['peak']['rps'] / floor['peak']['rps']:.2f} (goal >= 0.60); "
              f"p99 at ~half peak ({r['half']['rps']:,.0f} req/s for {r['half']['seconds']:.0f} s) "
              f"{r['half']['p99_ms']:.2f} ms (goal < 50 ms); "
              f"acknowledged {r['acked']:,}, stored {r['stored']:,}, refused (503) {r['refused']:,}, "
              f"lost {max(0, r['acked'] - r['stored']):,}")
    shutil.rmtree(tmp, ignore_errors=True)


def run_collector(tmp: Path, lua: Path, levels: list[int], args: argparse.Namespace,
                  flags: tuple[str, ...]) -> dict[str, Any]:
    db = tmp / f"bench{'-'.join(flags) or 'default'}.duckdb"
    subprocess.run([sys.executable, "-m", "webleads", "site", "add", "bench", "--origin", ORIGIN, "--db", str(db)],
                   check=True, capture_output=True)
    port = free_port()
    collector = subprocess.Popen([sys.executable, "-m", "webleads", "serve", "--db", str(db), "--port", str(port),
                                  *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/e"
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", collector)
        result = sweep(url, levels, args.seconds, lua)
        # about half the peak rate, at the peak's connections: each waits a think time between its
        # requests. Rate = connections / (think time + latency); the latency at half load is not the
        # peak's, so a short first run measures it and the second uses it.
        best, target = result["best"], result["peak"]["rps"] / 2
        delay_ms = best / target * 1000
        probe = load(url, 3, best, lua, delay_ms)
        latency_ms = max(0.0, best / probe["rps"] * 1000 - delay_ms)
        result["half"] = load(url, args.half_seconds, best, lua, max(0.0, best / target * 1000 - latency_ms))
        result["probe"] = probe
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(60)
    with duckdb.connect(str(db), read_only=True) as conn:
        stored = conn.execute("SELECT count(*) FROM event_log").fetchone()[0]  # type: ignore[index]
    every = [result["warm"], *result["runs"].values(), result["probe"], result["half"]]
    return {**result, "stored": stored, "acked": sum(r["requests"] - r["non2xx"] for r in every),
            "refused": sum(r["non2xx"] for r in every)}


if __name__ == "__main__":
    main()

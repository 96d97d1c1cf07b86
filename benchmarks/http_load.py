"""HTTP API under load, on loopback only, while the agent consumes Kafka.

    python benchmarks/http_load.py [--concurrent 1000] [--rounds 3] [--slow 2000]

Starts a local Tansu broker and ``canarywatch run`` (a separate process, bearer token on,
listening on 127.0.0.1), and a producer process that keeps sending simulated OTLP spans and
logs for the whole run. Then:

- concurrent: ``--rounds`` times, ``--concurrent`` ``GET /v1/verdicts`` (with the token) sent
  at once on separate connections; every answer's status and latency (from the moment the
  round starts, so queueing counts) is recorded. ``consumed`` is how many Kafka records the
  agent folded during those rounds (``canarywatch_records_consumed`` before and after), to
  show it kept consuming.
- slow clients: ``--slow`` connections each send half a request line and then one byte a
  second for ``--slow-s`` seconds; meanwhile ``/healthz`` is asked 50 times on fresh
  connections, and the server's thread count is read from ``/proc/<pid>/status``.

- bare server: the same rounds against a bare ``ApiServer`` (same token, same verdicts body,
  no agent, no consume loop) in a process of its own, right after: the floor this machine
  sets at this moment, so ``agent p99 / bare p99`` says what the agent itself adds even on a
  loaded machine.

Targets (issue 19): all answered, p99 under 1 s; slow clients hold a bounded number of
threads, ``/healthz`` under 100 ms. The agent's CPU seconds over the rounds and the machine's
load average are printed too: latency on a shared machine says as much about its other
tenants as about the server. Prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from canarywatch.broker import LocalBroker, create_topics, free_port

TOKEN = "bench-token-0123456789abcdef0123"


def _produce_forever(bootstrap: str) -> None:
    """Simulated collector traffic (real OTLP protobuf), repeated with shifted times."""
    from kafka import KafkaProducer

    from canarywatch.sim.generator import generate_messages
    from canarywatch.sim.scenario import Scenario

    scenario = Scenario(duration_s=120.0, rps=200.0, seed=3)
    base = [(k.value, m) for k, m in generate_messages(scenario)]
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    rep = 0
    while True:
        shift = int(rep * 120e9)
        for kind, message in base:
            copy = type(message)()
            copy.CopyFrom(message)
            if kind == "otlp_spans":
                for rs in copy.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            span.start_time_unix_nano += shift
                            span.end_time_unix_nano += shift
            else:
                for rl in copy.resource_logs:
                    for sl in rl.scope_logs:
                        for record in sl.log_records:
                            record.time_unix_nano += shift
            producer.send(kind, copy.SerializeToString())
            time.sleep(0.002)
        rep += 1


def _serve_bare() -> None:
    """A bare ApiServer on a free loopback port (printed), until stdin closes."""
    from prometheus_client import CollectorRegistry

    from canarywatch.server import ApiServer, VerdictBoard

    server = ApiServer("127.0.0.1:0", VerdictBoard(), CollectorRegistry(), lambda: True,
                       bearer_token=TOKEN)
    server.start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()


def _bare_rounds(rounds: int, n: int) -> list[tuple[int, float]]:
    bare = subprocess.Popen([sys.executable, __file__, "--serve-bare"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert bare.stdout is not None and bare.stdin is not None
    try:
        port = int(bare.stdout.readline())
        results: list[tuple[int, float]] = []
        for _ in range(rounds):
            results.extend(asyncio.run(_round(port, n)))
        return results
    finally:
        bare.stdin.close()
        bare.wait(30)


def _get(url: str, token: str | None = None, timeout_s: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def _consumed(base: str) -> float:
    _, text = _get(base + "/metrics")
    return sum(float(v) for v in re.findall(
        rb"^canarywatch_records_consumed_total\{[^}]*\} (\S+)$", text, re.M))


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the agent and its HTTP API process)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found.extend(_tree(int(child)))
    return found


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> int:
    """Threads of ``pid`` and its descendants."""
    total = 0
    for each in _tree(pid):
        status = Path(f"/proc/{each}/status").read_text()
        found = re.search(r"^Threads:\s+(\d+)$", status, re.M)
        total += int(found.group(1)) if found else 0
    return total


async def _one_get(port: int, started: float) -> tuple[int, float]:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /v1/verdicts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                     b"Connection: close\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 30.0)
        await reader.read()
        writer.close()
        status = int(head.split()[1]) if head else 0
    except (OSError, asyncio.TimeoutError, ValueError, IndexError):
        status = 0
    return status, time.perf_counter() - started


async def _round(port: int, n: int) -> list[tuple[int, float]]:
    started = time.perf_counter()
    return list(await asyncio.gather(*(_one_get(port, started) for _ in range(n))))


async def _slow_clients(port: int, n: int, hold_s: float, pid: int) -> dict[str, float]:
    writers = []
    for _ in range(n):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")
        writers.append(writer)
    threads: list[int] = []
    health_ms: list[float] = []
    ok = 0
    deadline = time.monotonic() + hold_s
    loop = asyncio.get_running_loop()
    while time.monotonic() < deadline:
        for writer in writers:
            writer.write(b"s")  # one byte a second per client, never finishing the headers
        threads.append(_threads(pid))
        for _ in range(5):
            began = time.perf_counter()
            status, _ = await loop.run_in_executor(None, _get,
                                                   f"http://127.0.0.1:{port}/healthz")
            health_ms.append((time.perf_counter() - began) * 1000)
            ok += status == 200
        await asyncio.sleep(1.0)
    for writer in writers:
        writer.close()
    health_ms.sort()
    return {"threads_max": max(threads), "health_ok": ok, "health_n": len(health_ms),
            "health_p50_ms": statistics.median(health_ms),
            "health_p99_ms": health_ms[min(len(health_ms) - 1, int(len(health_ms) * 0.99))],
            "health_max_ms": health_ms[-1]}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow", type=int, default=2000)
    parser.add_argument("--slow-s", type=float, default=10.0)
    parser.add_argument("--produce", metavar="BOOTSTRAP", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        _serve_bare()
        return 0
    if args.produce:
        _produce_forever(args.produce)
        return 0

    with tempfile.TemporaryDirectory(prefix="cw-http-load-") as tmp, LocalBroker() as broker:
        bootstrap = broker.bootstrap_servers
        create_topics(bootstrap, ["otlp_spans", "otlp_logs"])
        token = Path(tmp) / "token"
        token.write_text(TOKEN)
        port = free_port()
        config = {"kafka": {"bootstrap_servers": [bootstrap]},
                  "server": {"listen": f"127.0.0.1:{port}", "bearer_token_file": str(token)},
                  "state_dir": str(Path(tmp) / "state")}
        (Path(tmp) / "cw.yaml").write_text(yaml.safe_dump(config))
        # The producer runs in its own process, so it takes no GIL from the load client.
        producer = subprocess.Popen([sys.executable, __file__, "--produce", bootstrap],
                                    stdin=subprocess.DEVNULL)
        agent = subprocess.Popen([sys.executable, "-m", "canarywatch", "run", "--config",
                                  str(Path(tmp) / "cw.yaml")], stdin=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and (
                    _get(base + "/readyz")[0] != 200 or _consumed(base) == 0):
                time.sleep(0.5)
            threads_idle = _threads(agent.pid)
            results: list[tuple[int, float]] = []
            load_avg = os.getloadavg()[0]
            before = _consumed(base)
            api_pids = _tree(agent.pid)[1:]
            cpu_before = _cpu_s(agent.pid)
            api_cpu_before = sum(_cpu_s(p) for p in api_pids)
            began = time.monotonic()
            for _ in range(args.rounds):
                results.extend(asyncio.run(_round(port, args.concurrent)))
            load_s = time.monotonic() - began
            api_cpu_s = sum(_cpu_s(p) for p in api_pids) - api_cpu_before
            cpu_s = _cpu_s(agent.pid) - cpu_before + api_cpu_s
            consumed = _consumed(base) - before
            slow = asyncio.run(_slow_clients(port, args.slow, args.slow_s, agent.pid))
            bare_load_avg = os.getloadavg()[0]
            bare = [lat for _, lat in _bare_rounds(args.rounds, args.concurrent)]
        finally:
            producer.terminate()
            agent.terminate()
            agent.wait(30)
            producer.wait(30)
    latencies = [lat for _, lat in results]
    answered = sum(1 for status, _ in results if status == 200)
    print(f"{'measure':46} {'value':>14}")
    print(f"{'concurrent GET /v1/verdicts (per round)':46} {args.concurrent:>14}")
    print(f"{'rounds':46} {args.rounds:>14}")
    print(f"{'answered 200':46} {f'{answered}/{len(results)}':>14}")
    print(f"{'latency p50 (s)':46} {statistics.median(latencies):>14.3f}")
    print(f"{'latency p99 (s)':46} {_pct(latencies, 0.99):>14.3f}")
    print(f"{'latency max (s)':46} {max(latencies):>14.3f}")
    print(f"{'bare server, same rounds: latency p50 (s)':46} {statistics.median(bare):>14.3f}")
    print(f"{'bare server, same rounds: latency p99 (s)':46} {_pct(bare, 0.99):>14.3f}")
    print(f"{'  load average (1 min) before the bare rounds':46} {bare_load_avg:>14.2f}")
    print(f"{'records consumed during the rounds':46} {consumed:>14.0f}")
    print(f"{'  over (s)':46} {load_s:>14.2f}")
    print(f"{'agent CPU in the rounds (s, both processes)':46} {cpu_s:>14.2f}")
    print(f"{'  of which its HTTP API process (s)':46} {api_cpu_s:>14.2f}")
    print(f"{'machine load average (1 min) at start':46} {load_avg:>14.2f}")
    print(f"{'CPUs':46} {os.cpu_count():>14}")
    print(f"{'agent threads, idle (API process included)':46} {threads_idle:>14}")
    print(f"{'slow clients held open':46} {args.slow:>14}")
    print(f"{'agent threads with slow clients (max)':46} {slow['threads_max']:>14.0f}")
    health = f"{slow['health_ok']:.0f}/{slow['health_n']:.0f}"
    print(f"{'/healthz answered 200 meanwhile':46} {health:>14}")
    print(f"{'/healthz p50 (ms)':46} {slow['health_p50_ms']:>14.1f}")
    print(f"{'/healthz p99 (ms)':46} {slow['health_p99_ms']:>14.1f}")
    print(f"{'/healthz max (ms)':46} {slow['health_max_ms']:>14.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The README's local quick start, three commands as a user types them: `canarywatch broker`,
`canarywatch simulate --to-kafka`, `canarywatch run`; the daemon logs its lifecycle at INFO
and a clean stop logs no ERROR."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from canarywatch.broker import broker_binary, free_port

SCRIPT = Path(sys.executable).parent / "canarywatch"


def _verdicts(port: int) -> list[dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/verdicts", timeout=2) as r:
            return list(json.loads(r.read())["verdicts"])
    except OSError:
        return []


def test_broker_simulate_run_end_to_end(tmp_path: Path) -> None:
    """broker + simulate --to-kafka + run: the daemon finds the rollback, logs listening
    address, brokers, topics, partitions, state, the verdict change and its stop at INFO, and
    SIGTERM ends it with exit 0 and no ERROR line."""
    broker_binary()  # the demo extra (installed by .[dev]); BrokerError otherwise
    kafka = f"127.0.0.1:{free_port()}"
    http = free_port()
    broker = subprocess.Popen([str(SCRIPT), "broker", "--listen", kafka],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    daemon: subprocess.Popen[str] | None = None
    try:
        assert broker.stdout is not None
        banner = broker.stdout.readline()
        assert f"listening on {kafka}" in banner, banner
        produced = subprocess.run(
            [str(SCRIPT), "simulate", "--to-kafka", kafka, "--duration-s", "150",
             "--fault", "new_error@30:GET /cart=0.3"],
            capture_output=True, text=True, timeout=300, check=False)
        assert produced.returncode == 0, produced.stderr
        assert "otlp_spans:" in produced.stdout and "otlp_logs:" in produced.stdout
        daemon = subprocess.Popen(
            [str(SCRIPT), "run", "--bootstrap-servers", kafka, "--http-listen",
             f"127.0.0.1:{http}", "--state-dir", str(tmp_path / "state"), "--log-format",
             "text"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 180
        actions: list[object] = []
        while time.monotonic() < deadline and "rollback" not in actions:
            assert daemon.poll() is None, daemon.communicate()[1]
            actions = [v["action"] for v in _verdicts(http)]
            time.sleep(0.5)
        assert "rollback" in actions
        daemon.send_signal(signal.SIGTERM)
        _, log = daemon.communicate(timeout=60)
        assert daemon.returncode == 0, log
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        broker.send_signal(signal.SIGINT)  # what Ctrl-C does
        broker_rc = broker.wait(timeout=30)
    assert broker_rc == 0
    lines = log.splitlines()
    assert not [line for line in lines if line.startswith(("ERROR", "CRITICAL"))], log
    info = "\n".join(line for line in lines if line.startswith("INFO "))
    for expected in (f"HTTP API listening on 127.0.0.1:{http}",
                     f"on brokers {kafka}", "subscribed to otlp_spans,otlp_logs",
                     "partition otlp_spans:0 assigned", "no saved state",
                     "checkout/1.5.0: rollback", "stopped cleanly"):
        assert expected in info, (expected, log)

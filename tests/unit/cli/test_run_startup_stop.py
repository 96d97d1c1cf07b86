"""A SIGTERM that reaches `canarywatch run` while it is still starting (importing, reading
its config) is a stop request like any other: exit 0 and a log line, not death by the
signal (exit 143). The config is a FIFO, so the test knows the command is past its first
lines and blocked reading its config when it sends the signal."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from cli_helpers import SCRIPT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _open_once_read(fifo: Path, proc: subprocess.Popen[str], timeout_s: float = 60) -> int:
    """The FIFO's write end, once ``proc`` has opened it for reading (fails, never hangs,
    when ``proc`` exits first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            time.sleep(0.01)
            continue
        os.set_blocking(fd, True)
        return fd
    raise AssertionError(f"`run` never opened its config (exit {proc.poll()})")


def test_sigterm_while_reading_the_config_exits_0(tmp_path: Path) -> None:
    fifo = tmp_path / "canarywatch.yaml"
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARYWATCH_")}
    proc = subprocess.Popen(
        [str(SCRIPT), "run", "--config", str(fifo), "--log-format", "text",
         "--bootstrap-servers", f"127.0.0.1:{_free_port()}",  # nothing listens there
         "--http-listen", f"127.0.0.1:{_free_port()}", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        fd = _open_once_read(fifo, proc)
        proc.send_signal(signal.SIGTERM)
        os.write(fd, b"analysis:\n  persistence: 2\n")
        os.close(fd)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "SIGTERM received during start-up" in out
    assert "stopped cleanly" in out
    assert "ERROR" not in out

"""No secret reaches a log line (at DEBUG), /metrics, an error body or a state file."""

from __future__ import annotations

import json
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from sasl_stub import SaslStub

from canarywatch.redact import forms_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PASSWORD = "Pa55-w\\ord'XYZ-sasl"  # a backslash and a quote: escaped in a bytes repr
TOKEN = "api-token-0123456789abcdef"
HOOK_SECRET = "hmac-secret-for-webhooks"
URL_PASSWORD = "url-pass-s3cr3t"


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_sasl_plain_at_debug_against_a_broker_stub_leaks_no_secret(tmp_path: Path) -> None:
    """At DEBUG the daemon logs in with SASL PLAIN; no output, metric or state file leaks."""
    stub = SaslStub(accept=False)
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "sasl").write_text(PASSWORD + "\n")
    (secrets_dir / "token").write_text(TOKEN + "\n")
    (secrets_dir / "hook").write_text(HOOK_SECRET)
    state = tmp_path / "state"
    config = {
        "kafka": {"bootstrap_servers": [stub.bootstrap],
                  "security": {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                               "sasl_username": "alice",
                               "sasl_password_file": str(secrets_dir / "sasl")}},
        "server": {"listen": "127.0.0.1:0", "bearer_token_file": str(secrets_dir / "token")},
        "actions": {"webhooks": [{"name": "hook", "on": ["rollback"],
                                  "url": f"http://ops:{URL_PASSWORD}@127.0.0.1:9/hook",
                                  "secret_file": str(secrets_dir / "hook")}]},
        "state_dir": str(state),
    }
    config_path = tmp_path / "canarywatch.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "canarywatch", "run", "--config", str(config_path),
             "--log-level", "DEBUG", "--log-format", "json"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        port = None
        deadline = time.monotonic() + 180  # a loaded machine starts slowly
        while time.monotonic() < deadline and (port is None or len(stub.logins) < 2):
            found = re.search(rb"HTTP API listening on 127\.0\.0\.1:(\d+)", log_path.read_bytes())
            port = int(found.group(1)) if found else None
            time.sleep(0.2)
        assert port is not None, log_path.read_text()
        # The password really went over the wire, so the client had it to log.
        assert stub.logins and PASSWORD.encode() in stub.logins[0]
        base = f"http://127.0.0.1:{port}"
        assert _get(base + "/v1/verdicts")[0] == 401
        wrong_status, wrong_body = _get(base + "/v1/verdicts", token=TOKEN[:-1] + "x")
        assert wrong_status == 401
        assert _get(base + "/v1/verdicts", token=TOKEN)[0] == 200
        status, metrics = _get(base + "/metrics")
        assert status == 200
        assert b'canarywatch_http_auth_failures_total{endpoint="verdicts"} 2.0' in metrics
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stub.close()
    output = log_path.read_bytes()
    lines = output.decode("utf-8", "replace").splitlines()
    assert any("SaslAuthenticateRequest" in line for line in lines), "no SASL DEBUG line"
    decoded = "\n".join(str(value) for line in lines if line.startswith("{")
                        for value in json.loads(line).values())
    written = {"log": output, "log messages": decoded.encode(), "metrics": metrics,
               "error": wrong_body}
    for path in state.iterdir():
        written[path.name] = path.read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for secret in (PASSWORD, TOKEN, HOOK_SECRET, URL_PASSWORD):
        for form in forms_of(secret):
            for where, data in written.items():
                assert form.encode() not in data, (secret, form, where)

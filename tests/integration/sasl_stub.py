"""A small Kafka-protocol broker stub that takes SASL PLAIN logins and records them.

It answers ApiVersions (as a Kafka 2.8 broker), SaslHandshake (PLAIN) and SaslAuthenticate
(accepting or refusing the login), and closes the connection on anything else. Responses are
encoded with kafka-python's own protocol classes.
"""

from __future__ import annotations

import socket
import struct
import threading

from kafka.protocol.broker_version_data import BROKER_API_VERSIONS
from kafka.protocol.metadata.api_versions import ApiVersionsResponse
from kafka.protocol.sasl import SaslAuthenticateResponse, SaslHandshakeResponse

_API_VERSIONS, _SASL_HANDSHAKE, _SASL_AUTHENTICATE = 18, 17, 36


class SaslStub:
    """Listens on loopback; ``logins`` holds the raw SaslAuthenticate requests received."""

    def __init__(self, accept: bool = False) -> None:
        self.accept = accept
        self.logins: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        with conn:
            try:
                while not self._stop.is_set():
                    size = _read(conn, 4)
                    if size is None:
                        return
                    payload = _read(conn, struct.unpack(">i", size)[0])
                    if payload is None:
                        return
                    reply = self._answer(payload)
                    if reply is None:
                        return
                    conn.sendall(reply)
            except OSError:
                return

    def _answer(self, payload: bytes) -> bytes | None:
        api_key, version, correlation = struct.unpack(">hhi", payload[:8])
        response: object
        if api_key == _API_VERSIONS:
            version = min(version, 3)
            keys = [ApiVersionsResponse.ApiVersion(api_key=k, min_version=lo, max_version=hi)
                    for k, (lo, hi) in sorted(BROKER_API_VERSIONS[(2, 8)].items())]
            response = ApiVersionsResponse(version=version, error_code=0, api_keys=keys,
                                           throttle_time_ms=0)
        elif api_key == _SASL_HANDSHAKE:
            response = SaslHandshakeResponse(version=version, error_code=0,
                                             mechanisms=["PLAIN"])
        elif api_key == _SASL_AUTHENTICATE:
            self.logins.append(payload)
            response = SaslAuthenticateResponse(
                version=version, error_code=0 if self.accept else 58,
                error_message=None if self.accept else "Authentication failed",
                auth_bytes=b"", session_lifetime_ms=0)
        else:
            return None
        response.with_header(correlation_id=correlation)  # type: ignore[attr-defined]
        return bytes(response.encode(header=True, framed=True))  # type: ignore[attr-defined]

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2.0)


def _read(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data

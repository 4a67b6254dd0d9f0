"""A raw HTTP/1.1 exchange over a loopback socket: malformed requests urllib would not send."""

import json
import socket
import time


def exchange(port: int, data: bytes, timeout: float = 30.0, pause_after: float | None = None):
    """Send `data`, read the answer until the server closes; -> (status, parsed JSON body, s).

    `pause_after`: send nothing more and wait for the server to answer on its own (a client
    that stalls). The status is None when the server closed without answering."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    elapsed = time.monotonic() - start
    answer = b"".join(chunks)
    if not answer:
        return None, None, elapsed
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"application/json" in head, head
    return status, json.loads(body), elapsed


def post(path: str, body: bytes, headers: dict | None = None) -> bytes:
    """A POST request's bytes; Content-Length from the body unless `headers` sets it (None
    drops it)."""
    headers = {"Content-Length": str(len(body)), **(headers or {})}
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

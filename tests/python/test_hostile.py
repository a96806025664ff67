"""Hostile clients (issue 13): slow request bodies, a key made by another process, and the
limits that keep one key from locking out the others."""

from __future__ import annotations

import json
import socket
import threading
import time

from conftest import Server, assert_error, auth, create_key

PROBE_SECONDS = 1.0


def slow_request(server: Server, head: str, first: bytes = b"") -> socket.socket:
    """Opens a connection, sends `head` (request line and headers) and `first` bytes of body."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(head.encode() + first)
    return s


def read_until_closed(s: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (AssertionError if it
    keeps it open longer than `timeout`)."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            raise AssertionError(f"the server kept the connection open for {timeout} s; it sent {data[:300]!r}")
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
        if time.monotonic() > deadline:
            raise AssertionError(f"the server kept the connection open for {timeout} s; it sent {data[:300]!r}")


def status_and_body(data: bytes) -> tuple[int, dict | None]:
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def test_slow_bodies_take_no_request_slot(tmp_path, start_server):
    """Connections that send their body a byte at a time must not hold the request slots:
    requests of every key, the slow key's included, are served meanwhile."""
    db = tmp_path / "db"
    slow_key = create_key(db, "slow", "read")
    other = create_key(db, "other", "read")
    admin = create_key(db, "admin", "admin")
    server = start_server(db, args=["--max-concurrent", "4"])
    head = (
        "POST /v1/memory/recall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {slow_key['token']}\r\nContent-Length: 100000\r\n\r\n"
    )
    slow = [slow_request(server, head, b"{") for _ in range(12)]
    try:
        statuses: dict[str, list[int]] = {"admin": [], "other": [], "slow": []}
        with server.client(timeout=10) as c:
            deadline = time.monotonic() + PROBE_SECONDS
            while time.monotonic() < deadline:
                for name, key in [("admin", admin), ("other", other), ("slow", slow_key)]:
                    r = c.get("/v1/scan", params={"prefix": "agent:"}, headers=auth(key["token"]))
                    statuses[name].append(r.status_code)
                time.sleep(0.05)
        for name, got in statuses.items():
            assert set(got) == {200}, f"{name}: {got.count(503)} of {len(got)} requests refused while slow bodies arrive"
    finally:
        for s in slow:
            s.close()


def test_slow_bodies_are_cut_off(start_server):
    """A body that arrives slower than the minimum rate, after the grace time, ends its
    request with 408 and the connection: fixed-length and chunked, REST and /mcp, and on a
    route that answers without reading its body."""
    server = start_server(args=["--body-timeout-ms", "1000", "--min-body-rate", "1000"])
    cases = {
        "content-length": (
            "PUT /v1/facts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
            b'{"key":"slow","value":"',
        ),
        "chunked": (
            "POST /v1/memory/recall HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"1\r\n{\r\n",
        ),
        "mcp": (
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\nContent-Length: 5000\r\n\r\n",
            b'{"jsonrpc":"2.0",',
        ),
        "unread": (
            "GET /v1/facts?key=nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n",
            b"x",
        ),
    }
    results: dict[str, object] = {}

    def attack(name: str, head: str, first: bytes) -> None:
        s = slow_request(server, head, first)
        stop = threading.Event()

        def trickle() -> None:
            # a byte every 200 ms: 5 bytes/s, below the 1000 bytes/s minimum
            while not stop.wait(0.2):
                try:
                    s.sendall(b"1\r\na\r\n" if name == "chunked" else b"a")
                except OSError:
                    return

        t = threading.Thread(target=trickle)
        t.start()
        try:
            results[name] = read_until_closed(s, 15)
        except AssertionError as e:
            results[name] = e
        finally:
            stop.set()
            t.join()
            s.close()

    threads = [threading.Thread(target=attack, args=(n, h, f)) for n, (h, f) in cases.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for name in cases:
        got = results.get(name)
        assert isinstance(got, bytes), f"{name}: {got}"
        status, body = status_and_body(got)
        if name == "unread":
            # answered at once (the route needs no body), then closed when the body is too slow
            assert status == 404, (name, got[:300])
        else:
            assert status == 408, (name, got[:300])
            assert body and body["error"]["code"] == "body_timeout", (name, body)
            assert "min_body_rate" in body["error"]["message"], body
    with server.client() as c:
        assert c.get("/health").status_code == 200
        assert_error(c.get("/v1/facts", params={"key": "slow"}), 404, "not_found")


def test_a_slow_body_above_the_minimum_rate_is_served(start_server):
    """The grace time is not a deadline for the whole body: one that keeps arriving faster
    than the minimum rate is read to the end, however long it takes."""
    server = start_server(args=["--body-timeout-ms", "1000", "--min-body-rate", "1000"])
    value = "v" * 20_000
    body = json.dumps({"key": "steady", "value": value}).encode()
    s = slow_request(
        server,
        f"PUT /v1/facts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n",
    )
    try:
        # 400 bytes every 20 ms: 20 kB/s, 20 times the minimum, for about a second
        for i in range(0, len(body), 400):
            s.sendall(body[i : i + 400])
            time.sleep(0.02)
        status, answer = status_and_body(read_until_closed(s, 15))
        assert status == 200, answer
    finally:
        s.close()
    with server.client() as c:
        assert c.get("/v1/facts", params={"key": "steady"}).json()["value"] == value


def test_a_body_that_stops_is_cut_off_after_the_grace_time(start_server):
    """Almost all of a body at once, then nothing: by the average rate alone (1 byte/s here)
    the server would wait a day; it may not go body_timeout_ms without a byte."""
    server = start_server(args=["--body-timeout-ms", "1000", "--min-body-rate", "1"])
    n = 100_000
    s = slow_request(
        server,
        f"PUT /v1/facts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {n}\r\n\r\n",
        b'{"key":"stalled","value":"' + b"v" * (n - 30),
    )
    try:
        status, body = status_and_body(read_until_closed(s, 15))
    finally:
        s.close()
    assert status == 408, body
    assert body and body["error"]["code"] == "body_timeout", body
    assert "stopped arriving" in body["error"]["message"], body
    with server.client() as c:
        assert_error(c.get("/v1/facts", params={"key": "stalled"}), 404, "not_found")


def test_first_key_from_another_process_applies_to_the_next_request(tmp_path, start_server):
    db = tmp_path / "db"
    server = start_server(db)
    with server.client() as c:
        assert c.get("/v1/scan", params={"prefix": "a"}).status_code == 200
        key = create_key(db, "first", "admin")  # another process: llmdb key create
        assert_error(c.put("/v1/facts", json={"key": "k", "value": 1}), 401, "unauthorized")
        assert_error(c.get("/v1/scan", params={"prefix": "a"}), 401, "unauthorized")
        r = c.get("/v1/facts", params={"key": "k"}, headers=auth(key["token"]))
        assert_error(r, 404, "not_found")  # the refused write wrote nothing

"""Faults: slow and vanishing clients, SIGKILL under load, SIGTERM with requests in flight,
and start-up refusals."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import threading
import time

import httpx
from mcp import ClientSession

from conftest import LLMDB, Server, assert_error, create_key, run_llmdb
from mcp_checks import http_transport, ok


def raw_connect(server: Server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return s


def read_response(s: socket.socket, timeout: float = 10) -> tuple[int, bytes]:
    """Reads one HTTP/1.1 response (Content-Length bodies) from a raw socket."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a full response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def remember_request(key: str, content: str, declared: int | None = None) -> tuple[bytes, bytes]:
    body = json.dumps({"key": key, "content": content}).encode()
    head = (
        f"POST /v1/memory/remember HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared if declared is not None else len(body)}\r\n\r\n"
    ).encode()
    return head, body


def test_slow_clients_do_not_block_others(server):
    slow = []
    # one that sent half of its headers, one half of its body
    s1 = raw_connect(server)
    s1.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    slow.append(s1)
    head, body = remember_request("agent:context:slow", "slowly")
    s2 = raw_connect(server)
    s2.sendall(head + body[: len(body) // 2])
    slow.append(s2)
    try:
        time.sleep(0.3)
        with server.client(timeout=5) as c:
            for i in range(20):
                r = c.post("/v1/memory/remember", json={"key": f"agent:context:fast{i}", "content": i})
                assert r.status_code == 200, r.text
            assert c.get("/health").status_code == 200
            # the slow one finishes its body and gets its answer
            s2.sendall(body[len(body) // 2 :])
            status, resp = read_response(s2)
            assert status == 200, resp
            assert json.loads(resp)["keys"] == ["agent:context:slow"]
    finally:
        for s in slow:
            s.close()


def test_client_disconnecting_mid_request(server):
    for _ in range(5):
        head, body = remember_request("agent:context:vanished", "never complete", declared=10_000)
        s = raw_connect(server)
        s.sendall(head + body)
        s.close()
    # and one that vanishes in the middle of its headers
    s = raw_connect(server)
    s.sendall(b"POST /v1/memory/remember HTTP/1.1\r\nContent-Le")
    s.close()
    # and one that vanishes mid-body on /mcp
    s = raw_connect(server)
    s.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"jsonrpc\"")
    s.close()
    time.sleep(0.3)
    with server.client(timeout=5) as c:
        assert c.get("/health").status_code == 200
        r = c.post("/v1/memory/remember", json={"key": "agent:context:after", "content": "still serving"})
        assert r.status_code == 200, r.text
        assert_error(c.get("/v1/facts", params={"key": "agent:context:vanished"}), 404, "not_found")


def scan_all(c: httpx.Client, prefix: str) -> dict[str, object]:
    out, cursor = {}, None
    while True:
        params = {"prefix": prefix, "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        r = c.get("/v1/scan", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        for f in page["facts"]:
            out[f["key"]] = f["value"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def test_sigkill_under_write_load_loses_no_acknowledged_write(tmp_path, start_server):
    db = tmp_path / "db"
    server = start_server(db)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def writer(n: int) -> None:
        with server.client(timeout=5) as c:
            i = 0
            while not stop.is_set():
                key = f"agent:progress:w{n}-{i}"
                try:
                    r = c.post("/v1/memory/remember", json={"key": key, "content": {"writer": n, "i": i}})
                except httpx.HTTPError:
                    return  # the server died: this write was not acknowledged
                if r.status_code == 200:
                    with lock:
                        acked.append(key)
                else:
                    errors.append(f"{r.status_code} {r.text}")
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(acked) < 200:
        time.sleep(0.05)
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors, errors[:5]
    assert len(acked) >= 50, f"only {len(acked)} writes acknowledged before SIGKILL"
    with lock:
        expected = list(acked)

    again = start_server(db)
    with again.client() as c:
        stored = scan_all(c, "agent:progress:")
        missing = [k for k in expected if k not in stored]
        assert not missing, f"{len(missing)} of {len(expected)} acknowledged writes lost, e.g. {missing[:5]}"
        for k in expected[:: max(1, len(expected) // 50)]:
            n, i = k.removeprefix("agent:progress:w").split("-")
            assert stored[k]["content"] == {"writer": int(n), "i": int(i)}, stored[k]
        r = c.post("/v1/memory/remember", json={"key": "agent:context:after-crash", "content": 1})
        assert r.status_code == 200, r.text
    assert again.stop() == 0, again.log()
    v = run_llmdb("verify", "--db", str(db), check=False)
    assert v.returncode == 0, v.stdout + v.stderr


def test_sigterm_lets_requests_in_flight_finish(tmp_path, start_server):
    db = tmp_path / "db"
    server = start_server(db)
    # requests in flight: headers sent, bodies half sent
    pending = []
    for i in range(3):
        head, body = remember_request(f"agent:context:inflight{i}", f"in flight {i}")
        s = raw_connect(server)
        s.sendall(head + body[:10])
        pending.append((s, body))
    # and a busy load of ordinary requests
    stop = threading.Event()
    results: list[str] = []

    def load() -> None:
        with server.client(timeout=10) as c:
            while not stop.is_set():
                try:
                    r = c.get("/v1/scan", params={"prefix": "agent:"})
                except httpx.TransportError:
                    return  # refused or closed once the server stops: not an answer
                results.append(str(r.status_code))

    loaders = [threading.Thread(target=load) for _ in range(3)]
    for t in loaders:
        t.start()
    time.sleep(0.5)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    for s, body in pending:
        s.sendall(body[10:])
    answers = []
    for s, _ in pending:
        try:
            answers.append(read_response(s))
        finally:
            s.close()
    stop.set()
    for t in loaders:
        t.join(15)
    try:
        code = server.proc.wait(20)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"llmdb serve did not exit within 20s of SIGTERM:\n{server.log()}")
    assert [a[0] for a in answers] == [200, 200, 200], answers
    assert code == 0, f"exit status {code}:\n{server.log()}"
    # the ordinary requests that were answered got 200 (or 503 while shutting down)
    assert "200" in results and set(results) <= {"200", "503"}, set(results)
    again = start_server(db)
    with again.client() as c:
        for i in range(3):
            r = c.get("/v1/memory/history", params={"key": f"agent:context:inflight{i}"})
            assert r.status_code == 200 and len(r.json()["versions"]) == 1, r.text


def test_sigterm_with_an_open_mcp_session_exits(start_server):
    """An MCP client keeps its GET /mcp event stream open; SIGTERM must still stop the
    server promptly (closing the MCP sessions) with status 0."""
    server = start_server()
    outcome = {}

    async def main():
        async with http_transport(server.url + "/mcp") as st:
            async with ClientSession(st[0], st[1]) as s:
                await s.initialize()
                ok(await s.call_tool("remember", {"key": "agent:context:mcp", "content": "before SIGTERM"}))
                await asyncio.sleep(0.5)
                t0 = time.monotonic()
                server.proc.send_signal(signal.SIGTERM)
                while server.proc.poll() is None and time.monotonic() - t0 < 10:
                    await asyncio.sleep(0.1)
                outcome["code"] = server.proc.poll()
                outcome["seconds"] = time.monotonic() - t0

    try:
        asyncio.run(asyncio.wait_for(main(), 30))
    except BaseException:
        pass  # the transport may complain that the server went away
    if server.proc.poll() is None:
        server.kill()
    assert outcome.get("code") == 0, (
        f"llmdb serve was still running {outcome.get('seconds', 0):.1f}s after SIGTERM with an MCP session open"
        f" (exit {outcome.get('code')}):\n{server.log()[-2000:]}"
    )


def test_unwritable_data_directory_is_refused_clearly(tmp_path):
    blocker = tmp_path / "somefile"
    blocker.write_text("a regular file, not a directory")
    p = subprocess.run(
        [str(LLMDB), "serve", "--db", str(blocker / "db"), "--port", "0"],
        capture_output=True, text=True, timeout=30,
    )
    assert p.returncode != 0
    assert "cannot open the database" in p.stderr and str(blocker / "db") in p.stderr, p.stderr


def test_disk_full_at_start_up_is_refused_clearly(tmp_path):
    """A 16 KiB tmpfs cannot hold a new database: start-up fails with a clear message."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if m.returncode != 0:
        import pytest
        pytest.skip(f"cannot mount a tmpfs here: {m.stderr.strip()}")
    try:
        p = subprocess.run(
            [str(LLMDB), "serve", "--db", str(mnt / "db"), "--port", "0"],
            capture_output=True, text=True, timeout=30,
        )
        assert p.returncode != 0
        assert "cannot open the database" in p.stderr and "disk is full" in p.stderr, p.stderr
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_public_address_without_keys_is_refused(tmp_path):
    p = subprocess.run(
        [str(LLMDB), "serve", "--db", str(tmp_path / "db"), "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=30,
    )
    assert p.returncode != 0
    assert "refusing to listen on 0.0.0.0 without API keys" in p.stderr, p.stderr
    assert "llmdb key create" in p.stderr


def test_public_address_with_keys_starts_and_needs_them(tmp_path, start_server):
    db = tmp_path / "db"
    k = create_key(db, "ops", "read")
    server = start_server(db, args=["--host", "0.0.0.0"])
    with server.client() as c:
        assert_error(c.get("/v1/scan", params={"prefix": "a"}), 401, "unauthorized")
        r = c.get("/v1/scan", params={"prefix": "a"}, headers={"Authorization": f"Bearer {k['token']}"})
        assert r.status_code == 200, r.text


def test_bad_settings_are_refused(tmp_path):
    for args, needle in [
        (["--port", "70000"], "port"),
        (["--log-level", "loud"], "log level"),
        (["--sync", "sometimes"], "sync"),
        (["--tls-cert", str(tmp_path / "c.pem")], "TLS"),
        (["--body-timeout-ms", "0"], "body_timeout_ms"),
        (["--min-body-rate", "0"], "min_body_rate"),
        (["--max-concurrent-per-key", "0"], "max_concurrent_per_key"),
        (["--mcp-max-sessions-per-key", "0"], "mcp_max_sessions_per_key"),
        # upper bounds: a duration that would overflow in nanoseconds, one thread per slot
        (["--body-timeout-ms", "9000000000000000"], "body_timeout_ms must be an integer from 1 to 86400000"),
        (["--query-timeout-ms", "9223372036854775807"], "query_timeout_ms must be an integer from 1 to 86400000"),
        (["--max-concurrent", "100000"], "max_concurrent must be an integer from 1 to 4096"),
    ]:
        p = subprocess.run(
            [str(LLMDB), "serve", "--db", str(tmp_path / "db"), *args], capture_output=True, text=True, timeout=30
        )
        assert p.returncode != 0, (args, p.stderr)
        assert needle in p.stderr, (args, p.stderr)


def test_concurrency_limit_answers_503_and_recovers(start_server):
    server = start_server(args=["--max-concurrent", "2"])
    statuses: list[int] = []
    lock = threading.Lock()

    def hammer(n: int) -> None:
        with server.client(timeout=10) as c:
            for i in range(15):
                r = c.post("/v1/memory/remember", json={"key": f"agent:progress:c{n}-{i}", "content": i})
                if r.status_code == 503:
                    assert_error(r, 503, "busy")
                with lock:
                    statuses.append(r.status_code)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert 200 in statuses
    # no slot leaked: once the load is gone every request is served
    with server.client() as c:
        for i in range(10):
            assert c.get("/v1/scan", params={"prefix": "agent:"}).status_code == 200

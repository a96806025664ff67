"""TLS, and the LQL row and time limits."""

from __future__ import annotations

import signal
import ssl
import subprocess
import time

import httpx

from conftest import LLMDB, assert_error, free_port


def test_tls_serves_https_with_the_given_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    port = free_port()
    log = open(tmp_path / "tls.log", "wb")
    proc = subprocess.Popen(
        [str(LLMDB), "serve", "--db", str(tmp_path / "db"), "--port", str(port),
         "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    ctx = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/health", verify=ctx, timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, (tmp_path / "tls.log").read_text()
                assert time.monotonic() < deadline, "no TLS answer"
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=ctx) as c:
            assert c.put("/v1/facts", json={"key": "k", "value": 1}).status_code == 200
            assert c.get("/v1/facts", params={"key": "k"}).json()["value"] == 1
        # Plain HTTP on the TLS port does not get an answer.
        try:
            plain = httpx.get(f"http://127.0.0.1:{port}/health", timeout=3)
            assert plain.status_code != 200
        except httpx.HTTPError:
            pass
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        log.close()


def test_tls_with_a_bad_key_file_is_refused_at_start_up(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    p = subprocess.run(
        [str(LLMDB), "serve", "--db", str(tmp_path / "db"), "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key)],
        capture_output=True, text=True, timeout=30,
    )
    assert p.returncode != 0
    assert p.stderr.strip(), "no message"


def test_query_row_limit_gives_a_clear_error(start_server):
    server = start_server(args=["--query-max-rows", "5"])
    with server.client() as c:
        ops = [{"op": "put", "key": f"row:{i:05}", "value": i} for i in range(50)]
        assert c.post("/v1/apply", json={"operations": ops}).status_code == 200
        r = c.post("/v1/query", json={"lql": "SELECT key FROM kv('row:') LIMIT 3"})
        assert r.status_code == 200 and len(r.json()["rows"]) == 3
        assert_error(r := c.post("/v1/query", json={"lql": "SELECT key FROM kv('row:')"}), 400, "invalid_query")
        assert "more than 5 rows" in r.text, r.text


def test_query_time_limit_gives_a_clear_error(start_server):
    server = start_server(args=["--query-timeout-ms", "1"])
    with server.client() as c:
        ops = [{"op": "put", "key": f"row:{i:05}", "value": i} for i in range(5000)]
        assert c.post("/v1/apply", json={"operations": ops}).status_code == 200
        r = c.post("/v1/query", json={"lql": "SELECT value, COUNT(*) AS n FROM kv('row:') GROUP BY value ORDER BY n"})
        assert_error(r, 400, "invalid_query")
        assert "longer than 1 ms" in r.text, r.text

"""Fixtures for the integration tests of `llmdb serve` and `llmdb mcp`.

Every server runs the debug binary (LLMDB_BIN overrides it) on a fresh temporary
database and a free port, is ready once GET /health answers, and is stopped with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
LLMDB = Path(os.environ.get("LLMDB_BIN", REPO / ".build" / "debug" / "llmdb"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_llmdb(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    p = subprocess.run([str(LLMDB), *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"llmdb {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def create_key(
    db: Path | str,
    name: str,
    role: str,
    prefix: str | list[str] | None = None,
    partition: int | list[int] | None = None,
) -> dict:
    """`llmdb key create … --json`: the key's id, scope and its `token`."""
    args = ["key", "create", "--db", str(db), "--name", name, "--role", role, "--json"]
    for p in [prefix] if isinstance(prefix, str) else prefix or []:
        args += ["--prefix", p]
    for n in [partition] if isinstance(partition, int) else partition or []:
        args += ["--partition", str(n)]
    info = json.loads(run_llmdb(*args).stdout)
    assert info["token"].startswith("llmdb_"), info
    assert info["role"] == role
    return info


def revoke_key(db: Path | str, key_id: str) -> None:
    run_llmdb("key", "revoke", "--db", str(db), key_id)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class Server:
    """One `llmdb serve` process."""

    def __init__(self, db: Path, workdir: Path, args: list[str] | None = None):
        self.db = Path(db)
        self.workdir = Path(workdir)
        self.args = list(args or [])
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = self.workdir / f"serve-{id(self)}-{time.monotonic_ns()}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kw) -> httpx.Client:
        kw.setdefault("timeout", 15)
        return httpx.Client(base_url=self.url, **kw)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self, timeout: float = 30) -> "Server":
        for attempt in range(3):
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [str(LLMDB), "serve", "--db", str(self.db), "--port", str(self.port), *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    r = httpx.get(self.url + "/health", timeout=2)
                    if r.status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.kill()
                raise AssertionError(f"llmdb serve did not answer /health within {timeout}s:\n{self.log()}")
            if "address already in use" not in self.log().lower() or attempt == 2:
                raise AssertionError(f"llmdb serve exited with {self.proc.returncode}:\n{self.log()}")
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then wait; returns the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"llmdb serve did not exit within {timeout}s of SIGTERM:\n{self.log()}")
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture(scope="session", autouse=True)
def llmdb_binary() -> Path:
    if not LLMDB.is_file() or not os.access(LLMDB, os.X_OK):
        pytest.exit(f"{LLMDB} is missing: build it with `swift build --product llmdb`", returncode=2)
    return LLMDB


@pytest.fixture
def start_server(tmp_path):
    """start_server(db=None, args=[]) -> a running Server (stopped with SIGTERM afterwards)."""
    servers: list[Server] = []

    def start(db: Path | str | None = None, args: list[str] | None = None) -> Server:
        s = Server(Path(db) if db else tmp_path / "db", tmp_path, args)
        servers.append(s)
        return s.start()

    yield start
    for s in servers:
        try:
            s.stop()
        finally:
            s.kill()


@pytest.fixture
def server(start_server) -> Server:
    """A server on a fresh database, with no API keys (loopback: no key needed)."""
    return start_server()


@pytest.fixture
def http(server):
    with server.client() as c:
        yield c


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    """The response is `status` with the body {"error": {"code", "message"}}."""
    assert r.status_code == status, f"{r.request.method} {r.request.url}: expected {status}, got {r.status_code}: {r.text!r}"
    assert r.headers.get("content-type", "").startswith("application/json"), (
        f"{r.request.method} {r.request.url}: error without a JSON content type: {r.headers.get('content-type')!r} {r.text!r}"
    )
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    err = body["error"]
    assert isinstance(err.get("code"), str) and err["code"], body
    assert isinstance(err.get("message"), str) and err["message"], body
    if code is not None:
        assert err["code"] == code, body
    return err

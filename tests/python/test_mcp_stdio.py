"""MCP over stdio: `llmdb mcp --db PATH` driven by the official Python MCP client."""

from __future__ import annotations

import asyncio
import json
import subprocess

from mcp import ClientSession, StdioServerParameters, stdio_client

from conftest import LLMDB, run_llmdb
from mcp_checks import SCHEMA, VECTORS, check_tool_errors, exercise_all_tools

COLLECTION = "people"


def prepare(db) -> set[str]:
    """A collection with a schema and two documents, written with the CLI."""
    run_llmdb("schema", "set", "--db", str(db), COLLECTION, json.dumps(SCHEMA))
    run_llmdb("doc", "insert", "--db", str(db), COLLECTION, '{"name":"Ada Lovelace","age":36}', "--id", "ada")
    run_llmdb("doc", "insert", "--db", str(db), COLLECTION, '{"name":"Alan Turing","age":41}', "--id", "alan")
    run_llmdb("vector", "create", "--db", str(db), VECTORS["name"], "--dim", str(VECTORS["dimensions"]))
    for key, vector, meta in VECTORS["vectors"]:
        run_llmdb("vector", "put", "--db", str(db), VECTORS["name"], key, json.dumps(vector), "--meta", json.dumps(meta))
    return {"ada", "alan"}


async def with_session(db, body):
    params = StdioServerParameters(command=str(LLMDB), args=["mcp", "--db", str(db)])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            info = getattr(init, "server_info", None) or getattr(init, "serverInfo")
            assert info.name == "llmdb"
            await body(session)


def test_stdio_all_tools(tmp_path):
    db = tmp_path / "db"
    docs = prepare(db)
    asyncio.run(asyncio.wait_for(with_session(db, lambda s: exercise_all_tools(s, COLLECTION, docs)), 60))


def test_stdio_errors(tmp_path):
    db = tmp_path / "db"
    asyncio.run(asyncio.wait_for(with_session(db, check_tool_errors), 60))


def test_stdio_bad_database_exits_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    p = run_llmdb("mcp", "--db", str(blocker / "db"), check=False)
    assert p.returncode != 0
    assert "cannot open the database" in p.stderr, p.stderr


def test_stdio_answers_every_request_before_exiting_at_end_of_input(tmp_path):
    """A client may write its requests and close stdin (`llmdb mcp < requests.jsonl`):
    every request read before the end of input is carried out and answered, then the
    process exits 0."""
    db = tmp_path / "db"
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "pipe", "version": "0"}}}
    for attempt in range(3):
        key = f"agent:context:eof{attempt}"
        lines = [
            init,
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "remember", "arguments": {"key": key, "content": "piped"}}},
        ]
        p = subprocess.run(
            [str(LLMDB), "mcp", "--db", str(db)],
            input="".join(json.dumps(x) + "\n" for x in lines),
            capture_output=True, text=True, timeout=30,
        )
        assert p.returncode == 0, p.stderr
        answers = {m.get("id"): m for m in map(json.loads, p.stdout.splitlines()) if "id" in m}
        assert set(answers) == {1, 2, 3}, f"attempt {attempt}: answered ids {sorted(answers, key=str)}:\n{p.stdout[:1000]}"
        assert not answers[3]["result"].get("isError"), answers[3]
        h = run_llmdb("history", key, "--db", str(db), "--json", check=False)
        assert h.returncode == 0 and "piped" in h.stdout, f"attempt {attempt}: the remember was not written: {h.stderr}"

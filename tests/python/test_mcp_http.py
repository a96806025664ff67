"""MCP over streamable HTTP at /mcp of `llmdb serve`, driven by the official Python client."""

from __future__ import annotations

import asyncio

import httpx
from mcp import ClientSession

from conftest import assert_error, auth, create_key
from mcp_checks import SCHEMA, VECTORS, check_tool_errors, exercise_all_tools, http_transport, ok

COLLECTION = "people"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def with_session(url: str, body, headers: dict | None = None):
    async with http_transport(url, headers) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            init = await session.initialize()
            info = getattr(init, "server_info", None) or getattr(init, "serverInfo")
            assert info.name == "llmdb"
            return await body(session)


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def prepare_rest(c: httpx.Client) -> set[str]:
    r = c.put(f"/v1/collections/{COLLECTION}/schema", json={"schema": SCHEMA})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    for doc_id, name, age in [("ada", "Ada Lovelace", 36), ("alan", "Alan Turing", 41)]:
        r = c.post(f"/v1/collections/{COLLECTION}/documents", json={"id": doc_id, "document": {"name": name, "age": age}})
        assert r.status_code == 200, r.text
        assert r.json()["id"] == doc_id
    r = c.post(f"/v1/vectors/{VECTORS['name']}", json={"dimensions": VECTORS["dimensions"]})
    assert r.status_code == 200, r.text
    batch = [{"key": k, "vector": v, "metadata": m} for k, v, m in VECTORS["vectors"]]
    r = c.put(f"/v1/vectors/{VECTORS['name']}/vectors", json={"vectors": batch})
    assert r.status_code == 200, r.text
    return {"ada", "alan"}


def test_http_all_tools(server, http):
    docs = prepare_rest(http)
    run(with_session(server.url + "/mcp", lambda s: exercise_all_tools(s, COLLECTION, docs)))
    # what MCP wrote is visible over REST
    r = http.post("/v1/query", json={"lql": f"SELECT _id FROM {COLLECTION} ORDER BY _id"})
    assert r.status_code == 200, r.text
    assert len(r.json()["rows"]) == 3
    # the tool calls are in the metrics, per tool
    metrics = http.get("/metrics").text
    for tool in ["remember", "recall", "query"]:
        assert f'route="mcp:tools/call:{tool}",status="200"' in metrics, tool


def test_http_errors(server):
    run(with_session(server.url + "/mcp", check_tool_errors))


def test_http_two_sessions_share_the_database(server):
    async def write(s):
        return ok(await s.call_tool("remember", {"key": "agent:context:shared", "content": "seen by both sessions"}))

    async def read(s):
        return ok(await s.call_tool("recall", {"query": "both sessions"}))

    w = run(with_session(server.url + "/mcp", write))
    r = run(with_session(server.url + "/mcp", read))
    assert [m["key"] for m in r["memories"]] == ["agent:context:shared"]
    assert r["memories"][0]["tx"] == w["tx"]


def test_http_session_protocol_errors(server):
    with httpx.Client(base_url=server.url, timeout=10, headers=MCP_HEADERS) as c:
        # a request that is not initialize, without a session
        r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert r.status_code == 400, r.text
        # an unknown session
        r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                   headers={"Mcp-Session-Id": "00000000-0000-0000-0000-000000000000"})
        assert r.status_code == 404, r.text
        # a real session, then DELETE ends it
        r = c.post("/mcp", json=INIT)
        assert r.status_code == 200, r.text
        sid = r.headers.get("mcp-session-id")
        assert sid, r.headers
        r = c.delete("/mcp", headers={"Mcp-Session-Id": sid})
        assert r.status_code in (200, 204), r.text
        r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, headers={"Mcp-Session-Id": sid})
        assert r.status_code == 404, r.text


def test_http_mcp_needs_a_key_and_binds_the_session_to_it(tmp_path, start_server):
    db = tmp_path / "db"
    a = create_key(db, "agent-a", "write")
    b = create_key(db, "agent-b", "write")
    server = start_server(db)
    with httpx.Client(base_url=server.url, timeout=10, headers=MCP_HEADERS) as c:
        assert_error(c.post("/mcp", json=INIT), 401, "unauthorized")
        assert_error(c.post("/mcp", json=INIT, headers=auth("llmdb_000000000000_" + "0" * 48)), 401, "unauthorized")
        r = c.post("/mcp", json=INIT, headers=auth(a["token"]))
        assert r.status_code == 200, r.text
        sid = r.headers["mcp-session-id"]
        # another key may not use that session
        r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                   headers={**auth(b["token"]), "Mcp-Session-Id": sid})
        assert r.status_code == 403, r.text

    async def body(s):
        return ok(await s.call_tool("remember", {"key": "agent:context:k", "content": "with a key"}))

    assert run(with_session(server.url + "/mcp", body, auth(a["token"])))["keys"] == ["agent:context:k"]


def test_http_messages_the_sdk_would_never_answer_are_refused(server):
    """A request the MCP library would read as a response, or with an id it cannot answer
    with, would stay in progress for ever: each is refused with 400, at once, and the
    session is still answered afterwards."""
    with httpx.Client(base_url=server.url, timeout=10, headers=MCP_HEADERS) as c:
        r = c.post("/mcp", json=INIT)
        assert r.status_code == 200, r.text
        sid = r.headers["mcp-session-id"]
        h = {"Mcp-Session-Id": sid}
        assert c.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=h).status_code == 202
        for message in [
            {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "result": {}},
            {"jsonrpc": "2.0", "id": True, "method": "tools/list"},
            {"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"},
            {"jsonrpc": "2.0", "id": None, "method": "tools/list"},
        ]:
            r = c.post("/mcp", json=message, headers=h)
            assert r.status_code == 400, (message, r.status_code, r.text[:300])
            assert r.json()["error"]["code"] == -32600, r.text
        r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 8, "method": "tools/list"}, headers=h)
        assert r.status_code == 200 and '"tools"' in r.text, r.text[:300]


def test_http_canonically_equivalent_members_are_refused(server):
    """The MCP library would merge "café" (NFC) and "cafe\\u0301" (NFD) into one argument."""
    with httpx.Client(base_url=server.url, timeout=10, headers=MCP_HEADERS) as c:
        r = c.post("/mcp", json=INIT)
        sid = r.headers["mcp-session-id"]
        call = ('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"remember","arguments":'
                '{"key":"agent:knowledge:u","content":{"caf\\u00e9":1,"cafe\\u0301":2}}}}')
        r = c.post("/mcp", content=call, headers={"Mcp-Session-Id": sid})
        assert r.status_code == 400, r.text[:300]
        assert "canonically equivalent" in r.json()["error"]["message"], r.text

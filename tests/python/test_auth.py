"""API keys, roles and scopes over REST, MCP and LQL."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from mcp import ClientSession

from conftest import assert_error, auth, create_key, revoke_key
from mcp_checks import err, http_transport, ok


@pytest.fixture
def keyed(tmp_path, start_server):
    """A server whose database has an admin, a read, a prefix-scoped write and a
    partition-scoped write key (created before it starts)."""
    db = tmp_path / "db"
    keys = {
        "admin": create_key(db, "admin", "admin"),
        "reader": create_key(db, "reader", "read"),
        "knowledge": create_key(db, "knowledge-writer", "write", prefix="agent:knowledge:"),
        "p7": create_key(db, "p7-writer", "write", partition=7),
    }
    server = start_server(db)
    with server.client() as c:
        yield server, c, keys, db


def test_prefix_scoped_key_over_rest(keyed):
    server, c, keys, _ = keyed
    h = auth(keys["knowledge"]["token"])
    r = c.post("/v1/memory/remember", json={"key": "agent:knowledge:lmdb", "content": "LMDB is a B+tree"}, headers=h)
    assert r.status_code == 200, r.text
    r = c.post("/v1/memory/recall", json={"query": "B+tree", "namespace": "agent:knowledge:"}, headers=h)
    assert r.status_code == 200, r.text
    assert [m["key"] for m in r.json()["memories"]] == ["agent:knowledge:lmdb"]
    # recall without a namespace: the key's only prefix
    r = c.post("/v1/memory/recall", json={"query": "B+tree"}, headers=h)
    assert r.status_code == 200 and len(r.json()["memories"]) == 1, r.text
    r = c.get("/v1/facts", params={"key": "agent:knowledge:lmdb"}, headers=h)
    assert r.status_code == 200, r.text

    # outside the prefix: 403
    e = assert_error(
        c.post("/v1/memory/remember", json={"key": "agent:decision:x", "content": "no"}, headers=h), 403, "forbidden"
    )
    assert "agent:knowledge:" in e["message"]
    assert_error(c.get("/v1/facts", params={"key": "agent:decision:x"}, headers=h), 403, "forbidden")
    assert_error(c.post("/v1/memory/recall", json={"query": "x", "namespace": "agent:decision:"}, headers=h), 403)
    assert_error(c.get("/v1/memory/history", params={"key": "agent:decision:x"}, headers=h), 403)
    assert_error(c.post("/v1/memory/remember", json={"memories": [
        {"key": "agent:knowledge:ok", "content": 1}, {"key": "agent:decision:no", "content": 2}]}, headers=h), 403)
    assert_error(c.get("/v1/scan", headers=h), 403)  # a scan over everything
    assert_error(c.get("/v1/transactions", headers=h), 403)
    # the refused batch wrote nothing
    admin = auth(keys["admin"]["token"])
    assert_error(c.get("/v1/facts", params={"key": "agent:knowledge:ok"}, headers=admin), 404, "not_found")
    assert_error(c.get("/v1/facts", params={"key": "agent:decision:x"}, headers=admin), 404, "not_found")

    # LQL: a prefix-limited key may not run it at all
    e = assert_error(c.post("/v1/query", json={"lql": "SELECT key FROM kv('agent:decision:')"}, headers=h), 403)
    assert e["code"] == "forbidden"
    assert_error(c.post("/v1/query", json={"lql": "SELECT key FROM kv('agent:knowledge:')"}, headers=h), 403)


def test_prefix_scoped_key_over_mcp(keyed):
    server, _, keys, _ = keyed

    async def body(s):
        r = ok(await s.call_tool("remember", {"key": "agent:knowledge:mcp", "content": "scoped via MCP"}))
        assert r["keys"] == ["agent:knowledge:mcp"]
        r = ok(await s.call_tool("recall", {"query": "scoped"}))
        assert [m["key"] for m in r["memories"]] == ["agent:knowledge:mcp"]
        e = err(await s.call_tool("remember", {"key": "agent:decision:mcp", "content": "no"}))
        assert e["code"] == "forbidden", e
        e = err(await s.call_tool("recall", {"query": "x", "namespace": "agent:decision:"}))
        assert e["code"] == "forbidden", e
        e = err(await s.call_tool("history", {"key": "agent:decision:mcp"}))
        assert e["code"] == "forbidden", e
        e = err(await s.call_tool("query", {"lql": "SELECT key FROM kv('agent:decision:')"}))
        assert e["code"] == "forbidden", e
        e = err(await s.call_tool("rollback", {"prefix": "agent:", "tx": 1, "reason": "no"}))
        assert e["code"] == "forbidden", e
        ns = ok(await s.call_tool("list_namespaces", {}))
        assert [n["namespace"] for n in ns["namespaces"]] == ["agent:knowledge"], ns

    async def main():
        async with http_transport(server.url + "/mcp", auth(keys["knowledge"]["token"])) as st:
            async with ClientSession(st[0], st[1]) as s:
                await s.initialize()
                await body(s)

    asyncio.run(asyncio.wait_for(main(), 60))


def test_read_key_cannot_write(keyed):
    _, c, keys, _ = keyed
    h = auth(keys["reader"]["token"])
    assert c.get("/v1/scan", params={"prefix": "agent:"}, headers=h).status_code == 200
    assert c.post("/v1/query", json={"lql": "SELECT key FROM kv('agent:')"}, headers=h).status_code == 200
    e = assert_error(c.post("/v1/memory/remember", json={"key": "agent:context:x", "content": 1}, headers=h), 403)
    assert e["code"] == "forbidden" and "read" in e["message"]
    assert_error(c.put("/v1/facts", json={"key": "k", "value": 1}, headers=h), 403, "forbidden")
    assert_error(c.post("/v1/query", json={"lql": "INSERT INTO t (_id) VALUES ('x')"}, headers=h), 403, "forbidden")
    assert_error(c.post("/v1/query", json={"lql": "  -- sneaky\n insert into t (_id) values ('x')"}, headers=h), 403)
    # write key cannot do admin things
    w = auth(keys["knowledge"]["token"])
    assert_error(c.put("/v1/collections/agent:knowledge:c/schema", json={"schema": {"type": "object"}}, headers=w), 403)
    # admin can
    a = auth(keys["admin"]["token"])
    assert c.put("/v1/collections/c/schema", json={"schema": {"type": "object"}}, headers=a).status_code == 200


def test_partition_scoped_key(keyed):
    _, c, keys, _ = keyed
    h = auth(keys["p7"]["token"])
    r = c.put("/v1/facts", json={"key": "k", "value": 1, "partition": 7}, headers=h)
    assert r.status_code == 200, r.text
    assert c.get("/v1/facts", params={"key": "k", "partition": 7}, headers=h).json()["value"] == 1
    assert_error(c.put("/v1/facts", json={"key": "k", "value": 1}, headers=h), 403, "forbidden")
    assert_error(c.get("/v1/facts", params={"key": "k", "partition": 0}, headers=h), 403, "forbidden")
    assert_error(c.post("/v1/query", json={"lql": "SELECT key FROM kv"}, headers=h), 403, "forbidden")
    # what covers every partition: the transaction log, /metrics, the code registry
    for path in ["/v1/transactions", "/metrics", "/v1/code", "/v1/code/any"]:
        e = assert_error(c.get(path, headers=h), 403, "forbidden")
        assert "partition" in e["message"], e
        assert_error(c.get(path, headers=auth(keys["knowledge"]["token"])), 403, "forbidden")
    assert c.get("/v1/transactions", headers=auth(keys["reader"]["token"])).status_code == 200
    assert c.get("/metrics", headers=auth(keys["reader"]["token"])).status_code == 200


def test_partition_scoped_key_over_mcp(keyed):
    """The MCP tools run the same operations, so they refuse the same things."""
    server, _, keys, _ = keyed

    async def main():
        async with http_transport(server.url + "/mcp", auth(keys["p7"]["token"])) as st:
            async with ClientSession(st[0], st[1]) as s:
                await s.initialize()
                r = ok(await s.call_tool("remember", {"key": "agent:context:p7", "content": "mine", "partition": 7}))
                assert r["keys"] == ["agent:context:p7"]
                e = err(await s.call_tool("remember", {"key": "agent:context:p0", "content": "not mine"}))
                assert e["code"] == "forbidden", e
                e = err(await s.call_tool("query", {"lql": "SELECT key FROM kv"}))
                assert e["code"] == "forbidden", e
                e = err(await s.call_tool("list_namespaces", {}))
                assert e["code"] == "forbidden", e
                assert ok(await s.call_tool("list_namespaces", {"partition": 7}))["namespaces"]

    asyncio.run(asyncio.wait_for(main(), 60))


def test_bad_missing_and_revoked_keys(keyed):
    server, c, keys, db = keyed
    good = keys["reader"]
    assert c.get("/v1/scan", params={"prefix": "a"}, headers=auth(good["token"])).status_code == 200
    assert c.get("/v1/scan", params={"prefix": "a"}, headers={"X-API-Key": good["token"]}).status_code == 200

    for headers in [
        {},  # no key once keys exist
        auth("llmdb_nope"),
        auth(good["token"][:-1] + ("0" if good["token"][-1] != "0" else "1")),  # wrong secret
        auth("llmdb_" + "f" * 12 + "_" + "0" * 48),  # unknown id
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "garbage"},
    ]:
        e = assert_error(c.get("/v1/scan", params={"prefix": "a"}, headers=headers), 401, "unauthorized")
        assert "key" in e["message"].lower() or "llmdb_" in e["message"], e
        assert_error(c.post("/v1/memory/remember", json={"key": "agent:context:x", "content": 1}, headers=headers), 401)

    revoke_key(db, good["id"])
    assert_error(c.get("/v1/scan", params={"prefix": "a"}, headers=auth(good["token"])), 401, "unauthorized")
    # the others still work
    assert c.get("/v1/scan", params={"prefix": "a"}, headers=auth(keys["admin"]["token"])).status_code == 200
    # /health and /openapi.json need no key
    assert c.get("/health").status_code == 200
    assert c.get("/openapi.json").status_code == 200


def test_require_auth_without_keys(tmp_path, start_server):
    server = start_server(args=["--require-auth"])
    with server.client() as c:
        assert_error(c.get("/v1/scan", params={"prefix": "a"}), 401, "unauthorized")
        assert c.get("/health").status_code == 200


def test_no_keys_on_loopback_is_open(server, http):
    r = http.post("/v1/memory/remember", json={"key": "agent:context:open", "content": "no key needed"})
    assert r.status_code == 200, r.text


def test_read_key_cannot_write_through_lql_wrappers(keyed):
    """The read-only check must see through SETTING DEFAULT … and EXPLAIN, not just the
    first word of the text."""
    _, c, keys, _ = keyed
    admin = auth(keys["admin"]["token"])
    r = c.post("/v1/query", json={"lql": "INSERT INTO t (_id, a) VALUES ('keep', 1)"}, headers=admin)
    assert r.status_code == 200, r.text
    h = auth(keys["reader"]["token"])
    for lql in [
        "SETTING DEFAULT VALID_TIME AS OF '2026-01-01' INSERT INTO t (_id, a) VALUES ('x', 1)",
        "SETTING DEFAULT SYSTEM_TIME AS OF TRANSACTION 1 ERASE ALL FROM t",
        "setting default valid_time as of '2026-01-01' UPDATE t SET a = 2 WHERE _id = 'keep'",
        "SETTING DEFAULT VALID_TIME AS OF '2026-01-01' DELETE FROM t WHERE _id = 'keep'",
        "EXPLAIN INSERT INTO t (_id, a) VALUES ('y', 1)",
        "-- a comment\nBEGIN; INSERT INTO t (_id, a) VALUES ('z', 1); COMMIT",
    ]:
        e = assert_error(c.post("/v1/query", json={"lql": lql}, headers=h), 403, "forbidden")
        assert "read-only" in e["message"] or "write" in e["message"], (lql, e)
    r = c.post("/v1/query", json={"lql": "SELECT _id, a FROM t ORDER BY _id"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [{"_id": "keep", "a": 1}], r.text


def test_mcp_session_is_bound_to_the_key_not_its_name(tmp_path, start_server):
    """Two keys may share a name; a weaker one must not act through the stronger one's
    MCP session."""
    db = tmp_path / "db"
    strong = create_key(db, "agent", "admin")
    weak = create_key(db, "agent", "read", prefix="agent:knowledge:")
    server = start_server(db)
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as c:
        r = c.post("/mcp", json=init, headers=auth(strong["token"]))
        assert r.status_code == 200, r.text
        sid = r.headers["mcp-session-id"]
        h = {**auth(weak["token"]), "Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18"}
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "remember", "arguments": {"key": "agent:decision:hijack", "content": "written with a read key"}}}
        r = c.post("/mcp", json=call, headers=h)
        assert r.status_code == 403, f"the read key used the admin key's session: {r.status_code} {r.text[:300]}"
        assert_error(c.get("/v1/facts", params={"key": "agent:decision:hijack"}, headers=auth(strong["token"])), 404)

#!/usr/bin/env python3
"""Issue 13: a cross join of two 3,000-document collections against `llmdb serve` with a 5 s
query limit, four times, with the server's RSS after each; then an integer-overflow query and a
6,000-term chain. Usage: scripts/measure-hostile-join.py LLMDB_BINARY LABEL ROUNDS (run it
with the binaries of two commits to compare them)."""
import json, os, signal, socket, subprocess, sys, time, tempfile
import urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
def post(port, path, body, timeout=600):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r: return r.status, r.read().decode()
    except urllib.error.HTTPError as e: return e.code, e.read().decode()
    except Exception as e: return None, repr(e)

binary, label, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = tempfile.mkdtemp()
port = free_port()
p = subprocess.Popen([binary, "serve", "--db", d + "/db", "--port", str(port), "--query-timeout-ms", "5000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(200):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1); break
    except Exception: time.sleep(0.1)
rows = ", ".join(f"('d{i}', {i}, '{'x' * 100}')" for i in range(3000))
print(label, "insert", post(port, "/v1/query", {"lql": f"INSERT INTO big (_id, n, pad) VALUES {rows}"})[0])
print(label, "rss before MB", round(rss(p.pid)))
for i in range(rounds):
    t = time.monotonic()
    st, body = post(port, "/v1/query", {"lql": "SELECT COUNT(*) AS n FROM big a JOIN big b ON 1=1"})
    print(label, f"join {i}: {time.monotonic()-t:.2f}s status {st} {body[:120]!r} rss MB {round(rss(p.pid))}")
for lql, params in [("SELECT (-9223372036854775807-1) / -1 AS x FROM big", {}), ("SELECT " + "+".join(["1"]*6000) + " AS x FROM big", {})]:
    st, body = post(port, "/v1/query", {"lql": lql, "parameters": params}, timeout=60)
    alive = p.poll() is None
    print(label, f"{lql[:40]!r}: status {st} {body[:100]!r}; server alive: {alive} (exit {p.poll()})")
    if not alive: break
p.send_signal(signal.SIGKILL); p.wait()

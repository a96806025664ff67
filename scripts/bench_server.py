#!/usr/bin/env python3
"""LLMDB server benchmark driver (issue 6; stdlib only, plus wrk).

Side by side in one run, on the same data:
    HTTP        `llmdb serve` (release, .build-bench/release/llmdb) on a fresh database, loaded by
                wrk (scripts/bench_server.lua, one wrk thread) and, for the batch ingest, by this
                script's own client;
    in-process  Benchmarks/.build/release/llmdb-server-bench: the library calls behind each route
                (Database.get, Database.write { put }, AgentMemory.recall, AgentMemory.remember),
                on its own fresh database with the same sync policy.
The workloads, in order (each round runs both sides; the figures are medians over rounds):
    get       GET /v1/facts?key=fact:%06d (random of --facts keys)  vs Database.get
    get1      the same on one connection                            vs Database.get on one thread
    put       PUT /v1/facts, one durable transaction each           vs Database.write { put }
    remember  POST /v1/memory/remember, batches of --batch memories, one connection, in turn
                                                                    vs AgentMemory.remember, same batches
    recall    POST /v1/memory/recall {query, limit 10} over the memories
                                                                    vs AgentMemory.recall
    mcp       POST /mcp tools/call `recall` (the same queries) in one MCP session, SSE responses
                                                                    vs AgentMemory.recall
The memories (generated here, deterministic): Zipf-distributed (s = 1) words of a vocabulary of
4,000 pseudo-words, 10–40 words each; queries: 2–4 distinct words among the 101st–2,000th most
frequent. The report: ops/s and p50/p95/p99 latency for both sides, HTTP ÷ in-process ratios,
and the targets of issue 6 (GET ≥ 20,000/s with p99 < 5 ms; recall p95 < 10 ms over 100,000
memories; ingest ≥ 10,000 memories/s).

    python3 scripts/bench_server.py [--memories N] [--facts N] [--seconds S] [--rounds R]
                                    [--out FILE.md] [--no-build]
"""

import argparse
import collections
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_SCRATCH = os.path.join(ROOT, ".build-bench")
SERVER = os.path.join(SERVER_SCRATCH, "release", "llmdb")
INPROC = os.path.join(ROOT, "Benchmarks", ".build", "release", "llmdb-server-bench")
LUA = os.path.join(ROOT, "scripts", "bench_server.lua")

# Targets of issue 6.
GET_MIN_PER_S = 20_000
GET_MAX_P99_MS = 5.0
RECALL_MAX_P95_MS = 10.0
INGEST_MIN_PER_S = 10_000

VOCABULARY = 4000
KINDS = ["knowledge", "context", "analysis", "decision"]
STOP_WORDS = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "if", "in",
    "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "were", "will", "with",
}


def log(msg):
    print(f"bench_server: {msg}", file=sys.stderr, flush=True)


def build():
    cmds = [
        ["swift", "build", "-c", "release", "--product", "llmdb", "--scratch-path", SERVER_SCRATCH],
        ["swift", "build", "-c", "release", "--package-path", os.path.join(ROOT, "Benchmarks"),
         "--product", "llmdb-server-bench"],
    ]
    for cmd in cmds:
        log("running " + " ".join(cmd))
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)


# MARK: Data (the formulas are the same in llmdb-server-bench and bench_server.lua)

def fact_value(i):
    return '{"n":%d,"name":"fact %d","tags":["alpha","beta"],"text":"%s"}' % (i, i, "v" * 40)


def memory_key(i):
    return "agent:%s:m%06d" % (KINDS[i % 4], i)


def confidence(i):
    return 0.5 + (i % 50) / 100


def generate(n_memories, n_queries, folder):
    """Writes memories.txt (one content per line) and queries.txt; returns facts about them."""
    rng = random.Random(42)
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    words, seen = [], set()
    while len(words) < VOCABULARY:
        w = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.choice((2, 2, 3))))
        if rng.random() < 0.3:
            w += rng.choice("nrst")
        if w not in seen and w not in STOP_WORDS:
            seen.add(w)
            words.append(w)
    cum, total = [], 0.0
    for r in range(1, VOCABULARY + 1):
        total += 1.0 / r
        cum.append(total)
    df = collections.Counter()
    lengths = []
    with open(os.path.join(folder, "memories.txt"), "w") as f:
        for _ in range(n_memories):
            m = rng.choices(words, cum_weights=cum, k=rng.randint(10, 40))
            df.update(set(m))
            lengths.append(len(m))
            f.write(" ".join(m) + "\n")
    mid = words[100:2000]
    queries, postings = [], []
    for _ in range(n_queries):
        q = rng.sample(mid, rng.randint(2, 4))
        postings.append(sum(df[w] for w in q))
        queries.append(" ".join(q))
    with open(os.path.join(folder, "queries.txt"), "w") as f:
        f.write("\n".join(queries) + "\n")
    postings.sort()
    return {
        "memories": n_memories,
        "queries": n_queries,
        "words_avg": sum(lengths) / len(lengths),
        "postings_median": postings[len(postings) // 2],
        "postings_p95": postings[int(len(postings) * 0.95)],
        "queries_list": queries,
    }


# MARK: HTTP

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        payload = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), payload

    def json(self, method, path, body=None, want=200):
        status, _, payload = self.call(method, path, body)
        if status != want:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {payload[:300]!r}")
        return json.loads(payload)

    def close(self):
        self.conn.close()


class Server:
    def __init__(self, folder, tag, sync):
        self.port = free_port()
        self.db = os.path.join(folder, f"server-{tag}.llmdb")
        self.logpath = os.path.join(folder, f"server-{tag}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMDB_")}
        cmd = [SERVER, "serve", "--db", self.db, "--port", str(self.port), "--log-level", "warning",
               "--sync", sync]
        log("running " + " ".join(cmd))
        self.logfile = open(self.logpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.logfile, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llmdb serve exited with {self.proc.returncode}: {self.tail()}")
            try:
                c = Client(self.port)
                status, _, _ = c.call("GET", "/health")
                c.close()
                if status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("llmdb serve did not answer /health within 60 s")
            time.sleep(0.1)

    def rss_mb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):  # the heap, not LMDB's mapped file
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def tail(self):
        self.logfile.flush()
        with open(self.logpath) as f:
            return f.read()[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()
        for p in (self.db, self.db + "-lock"):
            if os.path.exists(p):
                os.unlink(p)


def wrk(port, mode, wrk_args, connections, seconds):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", LUA,
           f"http://127.0.0.1:{port}", "--", mode] + [str(a) for a in wrk_args]
    log("running " + " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    result = None
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            result = json.loads(line)
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-1000:]} {proc.stderr[-1000:]}")
    errors = sum(result["errors"].values())
    if errors:
        raise RuntimeError(f"wrk {mode}: {result['errors']} errors in {result['requests']} requests")
    log(f"{mode}: {result['requests']} requests = {result['per_s']:,.0f}/s, p50 {result['p50_us']} µs, "
        f"p95 {result['p95_us']} µs, p99 {result['p99_us']} µs")
    return result


def sse_json(payload):
    """The JSON-RPC message of an SSE (or plain JSON) response body."""
    text = payload.decode()
    if text.lstrip().startswith("{"):
        return json.loads(text)
    msg = None
    for line in text.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data.startswith("{"):
                msg = json.loads(data)
    if msg is None:
        raise RuntimeError(f"no JSON-RPC message in the response: {text[:300]!r}")
    return msg


def mcp_session(port, query):
    """initialize + notifications/initialized; checks one tools/call recall. Returns (id, version)."""
    c = Client(port)
    accept = {"Accept": "application/json, text/event-stream"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "bench_server", "version": "1"}}}
    status, headers, payload = c.call("POST", "/mcp", init, accept)
    if status != 200 or "mcp-session-id" not in headers:
        raise RuntimeError(f"MCP initialize: HTTP {status} {headers} {payload[:300]!r}")
    session = headers["mcp-session-id"]
    version = sse_json(payload)["result"]["protocolVersion"]
    h = dict(accept, **{"Mcp-Session-Id": session, "MCP-Protocol-Version": version})
    status, _, payload = c.call("POST", "/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, h)
    if status not in (200, 202):
        raise RuntimeError(f"MCP notifications/initialized: HTTP {status} {payload[:300]!r}")
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "recall", "arguments": {"query": query, "limit": 10}}}
    status, headers, payload = c.call("POST", "/mcp", call, h)
    msg = sse_json(payload)
    if status != 200 or msg.get("result", {}).get("isError"):
        raise RuntimeError(f"MCP tools/call recall: HTTP {status} {payload[:500]!r}")
    hits = json.loads(msg["result"]["content"][0]["text"]).get("memories", [])
    c.close()
    return session, version, len(hits), headers.get("content-type", "?")


def http_round(args, folder, tag, data):
    server = Server(folder, tag, args.sync)
    out = {}
    try:
        c = Client(server.port)
        # Facts (not timed), in transactions of 10,000 as in-process.
        for start in range(0, args.facts, 10_000):
            ops = ['{"op":"put","key":"fact:%06d","value":%s}' % (i, fact_value(i))
                   for i in range(start, min(args.facts, start + 10_000))]
            c.json("POST", "/v1/apply", ('{"operations":[' + ",".join(ops) + "]}").encode())
        fact = c.json("GET", "/v1/facts?key=fact:%06d" % (args.facts // 2))
        if fact.get("value", {}).get("n") != args.facts // 2:
            raise RuntimeError(f"GET /v1/facts returned {fact}")
        warm = max(1, round(args.seconds / 4))
        wrk(server.port, "get", [args.facts], args.get_connections, warm)
        out["get"] = wrk(server.port, "get", [args.facts], args.get_connections, args.seconds)
        out["get1"] = wrk(server.port, "get", [args.facts], 1, args.seconds)
        out["put"] = wrk(server.port, "put", [args.facts], args.put_connections, args.seconds)

        # Ingest: POST /v1/memory/remember in batches, one connection, one batch after another.
        with open(os.path.join(folder, "memories.txt")) as f:
            contents = [line.rstrip("\n") for line in f if line.strip()]
        bodies = []
        for start in range(0, len(contents), args.batch):
            batch = [{"key": memory_key(i), "content": contents[i], "confidence": confidence(i)}
                     for i in range(start, min(len(contents), start + args.batch))]
            bodies.append(json.dumps({"memories": batch}).encode())
        lat = []
        t0 = time.perf_counter()
        for body in bodies:
            t = time.perf_counter()
            status, _, payload = c.call("POST", "/v1/memory/remember", body)
            lat.append(time.perf_counter() - t)
            if status != 200:
                raise RuntimeError(f"POST /v1/memory/remember: HTTP {status}: {payload[:300]!r}")
        secs = time.perf_counter() - t0
        lat.sort()
        out["remember"] = {
            "memories": len(contents), "batches": len(bodies), "seconds": secs,
            "per_s": len(contents) / secs, "body_bytes_avg": sum(map(len, bodies)) / len(bodies),
            "p50_us": lat[len(lat) // 2] * 1e6, "p95_us": lat[min(len(lat) - 1, int(len(lat) * 0.95))] * 1e6,
            "p99_us": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6,
        }
        log(f"remember: {len(contents)} memories in {len(bodies)} requests in {secs:.2f} s = "
            f"{len(contents) / secs:,.0f} memories/s")

        # Recall: check that the first queries find something, then load.
        hits = sum(len(c.json("POST", "/v1/memory/recall", {"query": q, "limit": 10})["memories"])
                   for q in data["queries_list"][:20])
        if hits == 0:
            raise RuntimeError("the first 20 queries recall nothing over HTTP")
        c.close()
        queries = os.path.join(folder, "queries.txt")
        wrk(server.port, "recall", [queries], args.recall_connections, warm)
        out["recall"] = wrk(server.port, "recall", [queries], args.recall_connections, args.seconds)

        session, version, mcp_hits, ctype = mcp_session(server.port, data["queries_list"][0])
        if mcp_hits == 0:
            raise RuntimeError("the MCP recall of the first query found nothing")
        rss = server.rss_mb()
        out["mcp"] = wrk(server.port, "mcp", [queries, session, version], args.recall_connections, args.seconds)
        out["mcp"]["content_type"] = ctype
        out["mcp"]["protocol"] = version
        out["mcp"]["rss_before_mb"] = rss
        out["mcp"]["rss_after_mb"] = server.rss_mb()
    except Exception:
        log("server log: " + server.tail())
        raise
    finally:
        server.stop()
    return out


def inproc_round(args, folder):
    cmd = [INPROC, "--dir", folder, "--memories-file", os.path.join(folder, "memories.txt"),
           "--queries-file", os.path.join(folder, "queries.txt"), "--facts", str(args.facts),
           "--seconds", str(args.seconds), "--threads", str(args.threads),
           "--put-threads", str(args.put_connections), "--batch", str(args.batch), "--sync", args.sync]
    result, err = benchlib.run_json(cmd, "in-process", log)
    if err:
        raise RuntimeError(f"llmdb-server-bench {err}")
    return result


# MARK: Report

def med(rounds, *path):
    xs = []
    for r in rounds:
        v = r
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if v is not None:
            xs.append(v)
    if not xs:
        return None
    xs.sort()
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def fnum(v, digits=0):
    return "—" if v is None else f"{v:,.{digits}f}"


def fus(v):
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"


def fratio(r):
    return "—" if r is None else (f"{r:,.3f}×" if r < 0.1 else f"{r:,.2f}×")


ROWS = [
    # (key in HTTP results, key in in-process results, label, in-process label, unit)
    ("get", "get", "GET /v1/facts", "`Database.get`", "gets"),
    ("get1", "get1", "GET /v1/facts, 1 connection", "`Database.get`, 1 thread", "gets"),
    ("put", "put", "PUT /v1/facts (durable)", "`Database.write { put }`", "puts"),
    ("recall", "recall", "POST /v1/memory/recall", "`AgentMemory.recall`", "recalls"),
    ("mcp", "recall", "MCP `tools/call` recall", "`AgentMemory.recall`", "calls"),
    ("remember", "remember", "POST /v1/memory/remember", "`AgentMemory.remember`", "memories"),
]


def build_report(args, data, http_rounds, inproc_rounds, info, errors):
    L = ["# LLMDB server benchmark (issue 6)", ""]
    n_mem = data["memories"]
    L.append(
        f"`llmdb serve` (release, sync `{args.sync}`, loopback, no API keys) driven by wrk (one thread) beside the "
        f"library calls behind each route in one process (`llmdb-server-bench`, its own database, same sync), "
        f"{len(http_rounds)} round(s), medians. {args.facts:,} facts of about 100 bytes of JSON; {n_mem:,} memories "
        f"of {data['words_avg']:.1f} words on average (Zipf-distributed over a vocabulary of {VOCABULARY:,} "
        f"pseudo-words, 10–40 words each, content a JSON string), ingested in batches of {args.batch:,}; "
        f"{data['queries']:,} recall queries of 2–4 words among the 101st–2,000th most frequent (postings per "
        f"query: median {data['postings_median']:,}, p95 {data['postings_p95']:,}); recall limit 10. "
        f"Each load lasts {args.seconds} s (GET and recall after a warm-up)."
    )
    L.append("")
    L.extend(info)
    try:
        wv = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()
        L.append(f"- wrk: {(wv or ['?'])[0]}")
    except OSError:
        pass
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "Package.swift"],
                               capture_output=True, text=True).stdout.strip()
        L.append(f"- source: commit {head}{' with uncommitted changes under Sources/' if dirty else ''}")
    except OSError:
        pass
    L.append(f"- concurrency: GET {args.get_connections} connections (and 1), PUT {args.put_connections}, recall and MCP "
             f"{args.recall_connections}, remember 1 (batches in turn); in-process get and recall on {args.threads} "
             f"threads (and get on 1), put on {args.put_connections} (durable commits gain from group commit), remember on 1")
    L.append("")
    for e in errors:
        L.append(f"**{e}**")
        L.append("")

    L.append("Throughput is operations per second (for remember: memories per second; its latencies are per "
             "batch request). Latencies in µs: wrk's per-request figures at that concurrency (closed loop: each "
             "connection sends its next request when the answer arrives), and per call in process. "
             "The ratio column is HTTP ÷ in-process throughput (the share of the library's speed the server "
             "keeps); the last one HTTP ÷ in-process p50 latency.")
    L.append("")
    L.append("| workload | HTTP ops/s | p50 | p95 | p99 | in-process | ops/s | p50 | p95 | p99 "
             "| throughput HTTP ÷ in-process | p50 HTTP ÷ in-process |")
    L.append("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for hk, ik, label, ilabel, _ in ROWS:
        hp = med(http_rounds, hk, "per_s")
        ip = med(inproc_rounds, ik, "memories_per_s" if ik == "remember" else "per_s")
        hl = [med(http_rounds, hk, p) for p in ("p50_us", "p95_us", "p99_us")]
        il = [med(inproc_rounds, ik, p) for p in ("p50_us", "p95_us", "p99_us")]
        L.append(f"| {label} | {fnum(hp)} | {' | '.join(fus(x) for x in hl)} | {ilabel} | {fnum(ip)} "
                 f"| {' | '.join(fus(x) for x in il)} | {fratio(benchlib.div(hp, ip))} "
                 f"| {fratio(benchlib.div(hl[0], il[0]))} |")
    L.append("")
    if len(http_rounds) > 1:
        L.append("Per round (HTTP ops/s / in-process ops/s):")
        L.append("")
        for hk, ik, label, _, _ in ROWS:
            ikey = "memories_per_s" if ik == "remember" else "per_s"
            pairs = [f"{fnum((h.get(hk) or {}).get('per_s'))} / {fnum((i.get(ik) or {}).get(ikey))}"
                     for h, i in zip(http_rounds, inproc_rounds)]
            L.append(f"- {label}: " + "; ".join(pairs))
        L.append("")
    if http_rounds:
        rb = med(http_rounds, "remember", "body_bytes_avg")
        ha = med(inproc_rounds, "recall", "hits_avg")
        L.append(f"Remember request bodies: {fnum(rb)} bytes on average. In-process recall returned "
                 f"{ha if ha is None else f'{ha:.1f}'} hits per query on average. MCP responses: "
                 f"`{http_rounds[0].get('mcp', {}).get('content_type', '?')}`, protocol "
                 f"{http_rounds[0].get('mcp', {}).get('protocol', '?')}.")
        L.append("")
        before, after = med(http_rounds, "mcp", "rss_before_mb"), med(http_rounds, "mcp", "rss_after_mb")
        calls = med(http_rounds, "mcp", "requests")
        if before is not None and after is not None and calls:
            L.append(f"Server anonymous resident memory (RssAnon: the heap, not LMDB's mapped file) around the MCP "
                     f"load (one session): {before:,.0f} MB before, "
                     f"{after:,.0f} MB after {calls:,.0f} `tools/call` requests "
                     f"({(after - before) * 1024 * 1024 / calls:,.0f} bytes per call).")
            L.append("")

    get_s, get_p99 = med(http_rounds, "get", "per_s"), med(http_rounds, "get", "p99_us")
    rec_p95, mcp_p95 = med(http_rounds, "recall", "p95_us"), med(http_rounds, "mcp", "p95_us")
    ing = med(http_rounds, "remember", "per_s")
    L.append(f"| target of issue 6 | measured | |")
    L.append("|---|---|---|")

    def verdict(ok):
        return "—" if ok is None else ("met" if ok else "missed")

    ok = None if get_s is None or get_p99 is None else get_s >= GET_MIN_PER_S and get_p99 < GET_MAX_P99_MS * 1e3
    L.append(f"| GET /v1/facts ≥ {GET_MIN_PER_S:,}/s with p99 < {GET_MAX_P99_MS:g} ms | {fnum(get_s)}/s, "
             f"p99 {fus(None if get_p99 is None else get_p99 / 1e3)} ms | {verdict(ok)} |")
    ok = None if rec_p95 is None else rec_p95 < RECALL_MAX_P95_MS * 1e3
    L.append(f"| recall p95 < {RECALL_MAX_P95_MS:g} ms over {n_mem:,} memories (REST; MCP for information) "
             f"| REST {fus(None if rec_p95 is None else rec_p95 / 1e3)} ms, MCP "
             f"{fus(None if mcp_p95 is None else mcp_p95 / 1e3)} ms | {verdict(ok)} |")
    ok = None if ing is None else ing >= INGEST_MIN_PER_S
    L.append(f"| ingest ≥ {INGEST_MIN_PER_S:,} memories/s (POST /v1/memory/remember, batches of {args.batch:,}) "
             f"| {fnum(ing)}/s | {verdict(ok)} |")
    L.append("")
    if n_mem != 100_000:
        L.append(f"(The recall target is for 100,000 memories; this run has {n_mem:,}.)")
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memories", type=int, default=100_000, help="memories to ingest and recall (default 100000)")
    ap.add_argument("--facts", type=int, default=100_000, help="facts for GET (default 100000)")
    ap.add_argument("--queries", type=int, default=1000, help="distinct recall queries (default 1000)")
    ap.add_argument("--seconds", type=int, default=5, help="length of each load, seconds (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each figure is the median (default 3)")
    ap.add_argument("--batch", type=int, default=5000, help="memories per remember request (default 5000)")
    ap.add_argument("--get-connections", type=int, default=16)
    ap.add_argument("--put-connections", type=int, default=16)
    ap.add_argument("--recall-connections", type=int, default=2)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="in-process threads for get and recall (default: the CPUs)")
    ap.add_argument("--sync", default="full", choices=["full", "meta", "none"],
                    help="commit durability, both sides (default full, as llmdb serve)")
    ap.add_argument("--out", help="also write the report to this markdown file")
    ap.add_argument("--no-build", action="store_true",
                    help="use the built binaries as they are (default: swift build them first)")
    ap.add_argument("--tmpdir", help="parent of the scratch dir (default: system temp dir)")
    args = ap.parse_args()
    if args.rounds < 1 or args.seconds < 1 or not 1 <= args.batch <= 10_000:
        ap.error("--rounds and --seconds must be at least 1, --batch from 1 to 10000")
    if not 1000 <= args.facts <= 999_999 or not 100 <= args.memories <= 999_999:
        ap.error("--facts is from 1000 to 999999 and --memories from 100 to 999999 (keys are %06d)")
    if shutil.which("wrk") is None:
        sys.exit("bench_server: wrk is not installed (make bench-server installs it: apt-get install wrk)")
    if not args.no_build:
        build()
    for b in (SERVER, INPROC):
        if not os.path.exists(b):
            sys.exit(f"bench_server: {b} is missing; run without --no-build (or make bench-server)")

    info = benchlib.machine_info()
    folder = tempfile.mkdtemp(prefix="llmdb-server-bench-", dir=args.tmpdir)
    http_rounds, inproc_rounds, errors = [], [], []
    try:
        t = time.time()
        data = generate(args.memories, args.queries, folder)
        log(f"generated {args.memories} memories and {args.queries} queries in {time.time() - t:.1f} s "
            f"(postings per query: median {data['postings_median']}, p95 {data['postings_p95']})")
        for r in range(args.rounds):
            log(f"round {r + 1} of {args.rounds}")
            # Alternate which side goes first, so a drift in the machine's load hits both.
            sides = ["http", "inproc"] if r % 2 == 0 else ["inproc", "http"]
            for side in sides:
                try:
                    if side == "http":
                        http_rounds.append(http_round(args, folder, str(r), data))
                    else:
                        inproc_rounds.append(inproc_round(args, folder))
                except Exception as e:  # noqa: BLE001 -- reported, the other side still runs
                    errors.append(f"round {r + 1}, {side}: {e}")
                    log(errors[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = build_report(args, data, http_rounds, inproc_rounds, info, errors)
    benchlib.write_report(report, args.out, log)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()

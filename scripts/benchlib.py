"""Helpers shared by the benchmark drivers (scripts/bench_wasm.py, scripts/bench_docs.py, scripts/bench_lql.py)."""
import datetime
import json
import os
import platform
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd, tag, log, env=None):
    """Runs cmd, echoing its stderr; returns (the last JSON object on its stdout, error or None)."""
    log("running " + " ".join(cmd))
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                env=env)
    except OSError as e:
        return None, f"failed to run: {e}"

    def pump():
        for line in proc.stderr:
            print(f"  [{tag}] {line.rstrip()}", file=sys.stderr, flush=True)

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    result = None
    for line in proc.stdout:
        line = line.strip()
        if not line:
            continue
        try:
            result = json.loads(line)
        except json.JSONDecodeError:
            print(f"  [{tag}] (stdout) {line}", file=sys.stderr, flush=True)
    rc = proc.wait()
    th.join(timeout=5)
    if rc != 0:
        return None, f"exited with status {rc}"
    if result is None:
        return None, "printed no JSON result"
    return result, None



def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return [
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- nproc: {nproc}",
        f"- CPU: {cpu}",
        f"- kernel: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- load average at start: {load}",
    ]



def div(a, b):
    return None if a is None or b is None or not b else a / b


def write_report(report, out, log):
    """Prints the report, and writes it to `out` (creating its folder) when given."""
    print(report)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(report + "\n")
        log(f"wrote {out}")

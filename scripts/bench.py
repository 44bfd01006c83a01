#!/usr/bin/env python3
"""Runs the measurements behind scripts/bench and writes BENCHMARKS.md. See scripts/bench."""

import json
import math
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
BIN = ROOT / "target/release/bbpipe"
LIMIT = ROOT / "target/release/examples/parse_limit"
PY = sys.executable
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "100000 1000000").split()]
REPOS = 40
# Every run writes to a directory of its own, all deleted at the end: this disk's ext4 has no
# journal, and without one it skips inodes freed in the last minutes when it creates files, so
# deleting a dataset right before writing the next would slow every contender down.
RUNS_DIR = OUT / "runs"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def timed(cmd, env=None):
    """Wall seconds and peak RSS (KiB) of a command, by GNU time."""
    result = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{result.stderr}")
    wall, rss = result.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss), result.stdout


def fixtures(runs, repos=REPOS, seed=7):
    path = OUT / f"fixtures-{runs}"
    if not (path / "recording.json").exists():
        print(f"generating {runs} runs in {path} ...", flush=True)
        sh([PY, ROOT / "scripts/gen_fixtures.py", "--out", path, "--repos", str(repos), "--runs", str(runs),
            "--seed", str(seed)])
    return path


def size_of(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def median(values):
    return statistics.median(values)


def replay_size(runs):
    fx = fixtures(runs)
    input_bytes = sum(f.stat().st_size for f in fx.rglob("page-*.json"))
    rows = {"replay": [], "rss": [], "parse": [], "io": [], "python": [], "python_rss": []}
    out_bytes = 0
    for i in range(RUNS):
        print(f"  {runs} runs, round {i + 1}/{RUNS}", flush=True)
        out = RUNS_DIR / f"replay-{runs}-{i}"
        wall, rss, _ = timed([BIN, "-q", "replay", fx, "--out", out])
        rows["replay"].append(wall)
        rows["rss"].append(rss)
        out_bytes = size_of(out)
        rows["parse"].append(json.loads(sh([LIMIT, fx]).stdout)["seconds"])
        rows["io"].append(json.loads(sh([LIMIT, fx, "--io-only"]).stdout)["seconds"])
        py_out = RUNS_DIR / f"python-{runs}-{i}"
        wall, rss, _ = timed([PY, ROOT / "scripts/bench_python_baseline.py", fx, py_out])
        rows["python"].append(wall)
        rows["python_rss"].append(rss)
    m = {k: median(v) for k, v in rows.items()}
    return {
        "runs": runs, "input_mb": input_bytes / 1e6, "output_mb": out_bytes / 1e6,
        "replay_s": m["replay"], "runs_per_s": runs / m["replay"], "mb_per_s": input_bytes / 1e6 / m["replay"],
        "rss_mib": m["rss"] / 1024, "parse_s": m["parse"], "io_s": m["io"], "python_s": m["python"],
        "python_rss_mib": m["python_rss"] / 1024,
        "of_parse": m["parse"] / m["replay"], "of_io": m["io"] / m["replay"], "vs_python": m["python"] / m["replay"],
        "all": rows,
    }


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def extraction(latency_ms=50, concurrency=4):
    fx = fixtures(20000, seed=11)
    ws = next(p for p in fx.iterdir() if (p / "repositories").is_dir())
    repo_pages = len(list((ws / "repositories").glob("page-*.json")))
    pipeline_pages = 0
    for repo in ws.iterdir():
        pages = sorted((repo / "pipelines").glob("page-*.json")) if repo.name != "repositories" else []
        if pages:
            size = json.loads(pages[0].read_text()).get("size", 0)
            pipeline_pages += max(1, math.ceil(size / 100))
    minimum = repo_pages + pipeline_pages
    port = free_port()
    server = subprocess.Popen([PY, ROOT / "scripts/bench_mock_server.py", fx, str(port), str(latency_ms)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        walls, made = [], []
        env = {"BITBUCKET_ACCESS_TOKEN": "bench-token", "BITBUCKET_API_URL": f"http://127.0.0.1:{port}/2.0"}
        for i in range(RUNS):
            out = RUNS_DIR / f"export-{i}"
            wall, _, stdout = timed([BIN, "export", "--workspace", ws.name, "--out", out, "--concurrency",
                                     str(concurrency), "--max-requests-per-hour", "100000000"], env)
            walls.append(wall)
            made.append(int(re.search(r"requests\s+(\d+)", stdout).group(1)))
    finally:
        server.kill()
    requests = made[0]
    bound = requests * latency_ms / 1000 / concurrency
    return {"minimum": minimum, "requests": made, "wall_s": median(walls), "bound_s": bound,
            "ratio": median(walls) / bound, "latency_ms": latency_ms, "concurrency": concurrency,
            "all": walls, "pages_on_disk": repo_pages + sum(len(list((r / "pipelines").glob("page-*.json")))
                                                           for r in ws.iterdir() if r.name != "repositories")}


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({cpu}), {mem / 1024 / 1024:.0f} GiB, {platform.system()} {platform.release()}"


def main():
    """Measures and writes BENCHMARKS.md; `--report` only rewrites it from bench-out/results.json."""
    if "--report" not in sys.argv[1:]:
        OUT.mkdir(exist_ok=True)
        shutil.rmtree(RUNS_DIR, ignore_errors=True)
        try:
            measure()
        finally:
            shutil.rmtree(RUNS_DIR, ignore_errors=True)
    saved = json.loads((OUT / "results.json").read_text())
    report(saved["replay"], saved["extraction"], saved.get("date", str(date.today())),
           saved.get("machine", machine()))


def measure():
    results = []
    for runs in SIZES:
        print(f"replay, {runs} runs", flush=True)
        results.append(replay_size(runs))
    print("extraction against the mock API", flush=True)
    ex = extraction()
    saved = {"date": str(date.today()), "machine": machine(), "replay": results, "extraction": ex}
    (OUT / "results.json").write_text(json.dumps(saved, indent=2))


def report(results, ex, day, machine_text):
    def ok(flag):
        return "met" if flag else "**not met**"

    def per_size(key, floor):
        verdicts = {ok(r[key] >= floor) for r in results}
        if len(verdicts) == 1:
            return verdicts.pop()
        return ", ".join(f"{ok(r[key] >= floor)} at {r['runs']:,}" for r in results)

    lines = [
        "# Benchmarks",
        "",
        f"Measured {day} on {machine_text} by `scripts/bench` (medians of {RUNS} runs, the",
        "contenders run in turn within each round, so they share the machine's state; the machine is",
        "shared and noisy, so read the ratios, not the seconds). Fixtures: `scripts/gen_fixtures.py",
        f"--repos {REPOS} --runs N --seed 7`. Raw figures: `bench-out/results.json`.",
        "",
        "## Replay to local Parquet",
        "",
        "| runs | input | replay | runs/s | input MB/s | peak RSS | output | parse limit | I/O limit | replay / parse limit | replay / I/O limit | Python (json + pyarrow) | bbpipe / Python | Python peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['runs']:,} | {r['input_mb']:.0f} MB | {r['replay_s']:.2f} s | {r['runs_per_s']:,.0f} | "
            f"{r['mb_per_s']:.0f} | {r['rss_mib']:.0f} MiB | {r['output_mb']:.1f} MB | {r['parse_s']:.2f} s | "
            f"{r['io_s']:.2f} s | {r['of_parse']:.0%} | {r['of_io']:.0%} | {r['python_s']:.1f} s | "
            f"{r['vs_python']:.1f}x | {r['python_rss_mib']:.0f} MiB |")
    big = max(results, key=lambda r: r["runs"])
    small = min(results, key=lambda r: r["runs"])
    growth = big["rss_mib"] / small["rss_mib"]
    of_parse = ", ".join("%.0f%% at %s" % (r["of_parse"] * 100, f"{r['runs']:,}") for r in results)
    vs_python = ", ".join("%.1fx at %s" % (r["vs_python"], f"{r['runs']:,}") for r in results)
    lines += [
        "",
        "- parse limit: `examples/parse_limit` reads the same pages and decodes them with serde_json into",
        "  the same fields, nothing else; I/O limit: the same, reading the files only.",
        "- Python: `scripts/bench_python_baseline.py`, json + pyarrow writing the same Hive-partitioned",
        "  dataset (zstd, sorted by created_at).",
        "",
        "## Extraction against a mock API",
        "",
        f"`scripts/bench_mock_server.py` serves a generated workspace (40 repositories, 20,000 runs) and",
        f"adds {ex['latency_ms']} ms to every request; `bbpipe export --concurrency {ex['concurrency']}`.",
        "",
        "| requests made | minimum (ceil(repos/100) + Σ max(1, ceil(runs/100))) | wall time | requests × latency / concurrency | ratio |",
        "|---|---|---|---|---|",
        f"| {ex['requests'][0]} | {ex['minimum']} | {ex['wall_s']:.2f} s | {ex['bound_s']:.2f} s | {ex['ratio']:.2f} |",
        "",
        "## Targets",
        "",
        "| target | where we stand | |",
        "|---|---|---|",
        f"| replay throughput ≥ 50% of the parse limit | {of_parse} | {per_size('of_parse', 0.5)} |",
        f"| ≥ 10× the Python script | {vs_python} | {per_size('vs_python', 10)} |",
        f"| peak RSS ≤ 256 MiB at 1M runs | {big['rss_mib']:.0f} MiB at {big['runs']:,} | {ok(big['rss_mib'] <= 256)} |",
        (f"| peak RSS at 1M ≤ 1.2 × the 100k figure | {growth:.2f}x | {ok(growth <= 1.2)} |"
         if len(results) > 1 else "| peak RSS at 1M ≤ 1.2 × the 100k figure | one size measured | n/a |"),
        f"| exactly the minimum number of requests | {ex['requests'][0]} made, {ex['minimum']} minimum | {ok(all(m == ex['minimum'] for m in ex['requests']))} |",
        f"| wall time ≤ 1.25 × requests × latency / concurrency | {ex['ratio']:.2f} | {ok(ex['ratio'] <= 1.25)} |",
    ]
    lines += [
        "",
        "## Where the time goes (perf, 2026-11-28)",
        "",
        "- How replay runs: one transform worker per core decodes pages while load splits batches",
        "  by day and, past the 32 MiB budget, writes the partition longest without new rows.",
        "  Replay sends a workspace's days newest first across its repositories, so that partition",
        "  is complete: at 1M runs ~300 of 320 days are written while pages are still decoded and",
        "  the end of the run writes the last ~20. Rows for a day already written would be spilled",
        "  and merged into its file at the end (exports, which read a few repositories at a time).",
        "- 1M runs: bound by decoding (serde_json, as in the parse limit) on both cores; load keeps",
        "  up beside it.",
        "- 100k runs: bound by the number of files. 320 daily partitions of ~310 rows each cost",
        "  ~0.6 ms of encoding per file whatever their rows (`cargo bench -p bbpipe-load`:",
        "  `encode_day` 0.78 ms at 310 rows, 2.3 ms at 3,100), most of it zstd creating a",
        "  compression context for each of the 33 column chunks: each creation runs three `cpuid`",
        "  instructions, which trap to the hypervisor in a VM (3.8 µs each here). parquet's writer",
        "  offers no way to reuse contexts; bbpipe builds zstd without runtime BMI2 dispatch, which",
        "  removed the same cost for the decompression contexts parquet also creates. Creating",
        "  the files costs ~0.15 ms each on this disk. Both cores are busy throughout (1.8 on",
        "  average), so the remaining gap is CPU, not waiting.",
        "- Memory: the budget counts rows being written as well as rows waiting, and days complete",
        "  in order, so peak RSS no longer grows with the workspace; glibc is held to two malloc",
        "  arenas at start-up (more arenas cost memory and bought no speed).",
        "- Extraction: above the latency bound are the dataset written after the last response",
        "  (~0.3 s: no day is complete before the last repository is) and per-request overhead.",
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

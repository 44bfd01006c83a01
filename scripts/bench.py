#!/usr/bin/env python3
"""Runs the measurements behind scripts/bench and writes BENCHMARKS.md. See scripts/bench."""

import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from mock_api import free_port, mock_api

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
    wall, rss, _, stdout = timed_cpu(cmd, env)
    return wall, rss, stdout


def timed_cpu(cmd, env=None):
    """Wall seconds, peak RSS (KiB), CPU seconds (user + system, all threads) and stdout."""
    result = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", *cmd], capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{result.stderr}")
    wall, rss, user, system = result.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss), float(user) + float(system), result.stdout


def fixtures(runs, repos=REPOS, seed=7):
    path = OUT / f"fixtures-{runs}"
    if not (path / "recording.json").exists():
        print(f"generating {runs} runs in {path} ...", flush=True)
        sh([PY, ROOT / "scripts/gen_fixtures.py", "--out", path, "--repos", str(repos), "--runs", str(runs),
            "--seed", str(seed), "--with", ""])  # runs only: what the replay benchmarks measure
    return path


def size_of(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def median(values):
    return statistics.median(values)


def replay_size(runs):
    fx = fixtures(runs)
    input_bytes = sum(f.stat().st_size for f in fx.rglob("page-*.json"))
    rows = {"replay": [], "rss": [], "replay_day": [], "rss_day": [], "parse": [], "io": [], "python": [],
            "python_rss": [], "replay_cpu": [], "parse_cpu": [], "replay_rules": [], "rules_apply": [], "rules_apply_rss": []}
    rules = ROOT / "fixtures/demo/deploy-rules.toml"
    # The demo's rules with one rule renamed: every deployment of that rule is replaced.
    renamed = OUT / "deploy-rules-renamed.toml"
    renamed.write_text(rules.read_text().replace('name = "services-staging"', 'name = "services-stage"'))
    out_bytes = 0
    for i in range(RUNS):
        print(f"  {runs} runs, round {i + 1}/{RUNS}", flush=True)
        out = RUNS_DIR / f"replay-{runs}-{i}"
        wall, rss, cpu, _ = timed_cpu([BIN, "-q", "replay", fx, "--out", out])
        rows["replay"].append(wall)
        rows["rss"].append(rss)
        rows["replay_cpu"].append(cpu)
        out_bytes = size_of(out)
        day_out = RUNS_DIR / f"replay-day-{runs}-{i}"
        wall, rss, _ = timed([BIN, "-q", "replay", fx, "--out", day_out, "--partition-by", "day"])
        rows["replay_day"].append(wall)
        rows["rss_day"].append(rss)
        rules_out = RUNS_DIR / f"rules-{runs}-{i}"
        wall, _, _ = timed([BIN, "-q", "replay", fx, "--out", rules_out, "--rules", rules])
        rows["replay_rules"].append(wall)
        wall, rss, _ = timed([BIN, "-q", "rules", "apply", rules_out, "--rules", renamed])
        rows["rules_apply"].append(wall)
        rows["rules_apply_rss"].append(rss)
        _, _, cpu, stdout = timed_cpu([LIMIT, fx])
        rows["parse"].append(json.loads(stdout)["seconds"])
        rows["parse_cpu"].append(cpu)
        rows["io"].append(json.loads(sh([LIMIT, fx, "--io-only"]).stdout)["seconds"])
        py_out = RUNS_DIR / f"python-{runs}-{i}"
        wall, rss, _ = timed([PY, ROOT / "scripts/bench_python_baseline.py", fx, py_out])
        rows["python"].append(wall)
        rows["python_rss"].append(rss)
    m = {k: median(v) for k, v in rows.items()}
    print(f"  {runs} runs, queries", flush=True)
    queries = query_speed(out, day_out)
    return {
        "runs": runs, "input_mb": input_bytes / 1e6, "output_mb": out_bytes / 1e6,
        "files": len(list((out / "pipeline_runs").rglob("*.parquet"))),
        "files_day": len(list((day_out / "pipeline_runs").rglob("*.parquet"))),
        "replay_day_s": m["replay_day"], "rss_day_mib": m["rss_day"] / 1024,
        "replay_rules_s": m["replay_rules"], "rules_apply_s": m["rules_apply"],
        "rules_apply_rss_mib": m["rules_apply_rss"] / 1024,
        "queries": queries,
        "replay_s": m["replay"], "runs_per_s": runs / m["replay"], "mb_per_s": input_bytes / 1e6 / m["replay"],
        "rss_mib": m["rss"] / 1024, "parse_s": m["parse"], "io_s": m["io"], "python_s": m["python"],
        "python_rss_mib": m["python_rss"] / 1024,
        "replay_cpu_s": m["replay_cpu"], "parse_cpu_s": m["parse_cpu"],
        "cpu_of_parse": median([r / p for r, p in zip(rows["replay_cpu"], rows["parse_cpu"])]),
        "of_parse": m["parse"] / m["replay"], "of_io": m["io"] / m["replay"], "vs_python": m["python"] / m["replay"],
        "all": rows,
    }


def delta_vs_parquet(runs, rounds=5):
    """Replay to Parquet and to Delta, side by side: each round runs both, which goes first
    alternating (the first of a round reads the fixtures from a colder page cache)."""
    fx = fixtures(runs)
    times = {"parquet": [], "delta": []}
    rss = {"parquet": [], "delta": []}
    for i in range(rounds):
        print(f"  {runs} runs, Parquet and Delta, round {i + 1}/{rounds}", flush=True)
        order = ["parquet", "delta"] if i % 2 == 0 else ["delta", "parquet"]
        for fmt in order:
            out = RUNS_DIR / f"format-{fmt}-{runs}-{i}"
            wall, peak, _ = timed([BIN, "-q", "replay", fx, "--out", out, "--format", fmt])
            times[fmt].append(wall)
            rss[fmt].append(peak)
    return {"runs": runs, "rounds": rounds, "parquet_s": median(times["parquet"]),
            "delta_s": median(times["delta"]),
            "ratio": median([d / p for d, p in zip(times["delta"], times["parquet"])]),
            "parquet_rss_mib": median(rss["parquet"]) / 1024, "delta_rss_mib": median(rss["delta"]) / 1024,
            "all": {"times": times, "rss": rss}}


def query_speed(month_out, day_out, repeats=7):
    """Median seconds of two DuckDB queries over the month and the day layout of the same runs,
    each on a fresh connection, the layouts in turn; and whether both layouts gave one answer."""
    import duckdb

    def scan(out):
        return f"read_parquet('{out}/pipeline_runs/**/*.parquet', hive_partitioning = true)"

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    newest = con.execute(f"SELECT max(created_at) FROM {scan(month_out)}").fetchone()[0]
    cutoff = newest - timedelta(days=30)
    since = f"created_at >= TIMESTAMPTZ '{cutoff.isoformat()}'"
    queries = {
        "last 30 days: runs per repository and status": {
            "month": f"SELECT repository, status, count(*) FROM {scan(month_out)} "
                     f"WHERE created_month >= '{cutoff:%Y-%m}' AND {since} GROUP BY ALL ORDER BY ALL",
            "day": f"SELECT repository, status, count(*) FROM {scan(day_out)} "
                   f"WHERE created_date >= DATE '{cutoff:%Y-%m-%d}' AND {since} GROUP BY ALL ORDER BY ALL",
        },
        "full table: runs, build seconds and mean duration per status": {
            layout: f"SELECT status, count(*), sum(build_seconds_used), avg(duration_seconds) "
                    f"FROM {scan(out)} GROUP BY ALL ORDER BY ALL"
            for layout, out in (("month", month_out), ("day", day_out))
        },
    }
    results = {}
    for name, by_layout in queries.items():
        seconds = {"month": [], "day": []}
        answers = {}
        for _ in range(repeats):
            for layout, sql in by_layout.items():
                fresh = duckdb.connect()
                fresh.execute("SET TimeZone = 'UTC'")
                start = time.perf_counter()
                answers[layout] = fresh.execute(sql).fetchall()
                seconds[layout].append(time.perf_counter() - start)
                fresh.close()
        results[name] = {"month_s": median(seconds["month"]), "day_s": median(seconds["day"]),
                         "ratio": median(seconds["day"]) / median(seconds["month"]),
                         "same_answer": answers["month"] == answers["day"], "all": seconds}
    return results


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
    with mock_api(fx, latency_ms) as port:
        walls, made = [], []
        env = {"BITBUCKET_ACCESS_TOKEN": "bench-token", "BITBUCKET_API_URL": f"http://127.0.0.1:{port}/2.0"}
        for i in range(RUNS):
            out = RUNS_DIR / f"export-{i}"
            wall, _, stdout = timed([BIN, "export", "--workspace", ws.name, "--out", out, "--concurrency",
                                     str(concurrency), "--max-requests-per-hour", "100000000"], env)
            walls.append(wall)
            made.append(int(re.search(r"requests\s+(\d+)", stdout).group(1)))
    requests = made[0]
    bound = requests * latency_ms / 1000 / concurrency
    return {"minimum": minimum, "requests": made, "wall_s": median(walls), "bound_s": bound,
            "ratio": median(walls) / bound, "latency_ms": latency_ms, "concurrency": concurrency,
            "all": walls, "pages_on_disk": repo_pages + sum(len(list((r / "pipelines").glob("page-*.json")))
                                                           for r in ws.iterdir() if r.name != "repositories")}


def credentials(per_token_rps=8, latency_ms=20):
    """A rate-limited export (each token: PER_TOKEN_RPS requests a second, 429 beyond) with one
    credential and with two, alternating, through --config: the wall time should halve."""
    fx = fixtures(3000, repos=60, seed=13)
    ws = next(p for p in fx.iterdir() if (p / "repositories").is_dir())
    walls = {1: [], 2: []}
    made = {1: [], 2: []}
    with mock_api(fx, latency_ms, per_token_rps) as port:
        env = {"BENCH_TOKEN_1": "bench-token-1", "BENCH_TOKEN_2": "bench-token-2"}
        for i in range(RUNS):
            for count in (1, 2):
                time.sleep(1.5)  # both buckets full again
                config = RUNS_DIR / f"credentials-{count}-{i}.toml"
                out = RUNS_DIR / f"credentials-{count}-{i}"
                tokens = "".join(f'[[workspace.credential]]\nname = "token-{n}"\ntoken_env = "BENCH_TOKEN_{n}"\n'
                                 for n in range(1, count + 1))
                config.write_text(f'out = "{out}"\napi_url = "http://127.0.0.1:{port}/2.0"\n'
                                  f'max_requests_per_hour = 100000000\n'
                                  f'[[workspace]]\nname = "{ws.name}"\n{tokens}')
                wall, _, stdout = timed([BIN, "export", "--config", config, "--concurrency", "4",
                                         "--retry-delay-ms", "100", "--summary", "json"], env)
                summary = json.loads(stdout)
                requests = summary["workspaces"][0]["report"]["requests"]
                walls[count].append(wall)
                made[count].append({c["name"]: c["requests"] for c in requests["credentials"]}
                                   | {"rate_limited": requests["rate_limited"]})
    return {"per_token_rps": per_token_rps, "latency_ms": latency_ms, "one_s": median(walls[1]),
            "two_s": median(walls[2]), "ratio": median(walls[2]) / median(walls[1]),
            "all": walls, "requests": made}


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({cpu}), {mem / 1024 / 1024:.0f} GiB, {platform.system()} {platform.release()}"


def main():
    """Measures and writes BENCHMARKS.md; `--report` only rewrites it from bench-out/results.json."""
    if "--delta" in sys.argv[1:]:
        # Only the Delta-versus-Parquet measurement, into the saved results.
        saved = json.loads((OUT / "results.json").read_text())
        RUNS_DIR.mkdir(parents=True, exist_ok=True)
        try:
            saved["delta"] = [delta_vs_parquet(runs) for runs in SIZES]
        finally:
            shutil.rmtree(RUNS_DIR, ignore_errors=True)
        (OUT / "results.json").write_text(json.dumps(saved, indent=2))
    elif "--credentials" in sys.argv[1:]:
        # Only the two-credential measurement, into the saved results.
        saved = json.loads((OUT / "results.json").read_text())
        RUNS_DIR.mkdir(parents=True, exist_ok=True)
        try:
            saved["extraction"]["credentials"] = credentials()
        finally:
            shutil.rmtree(RUNS_DIR, ignore_errors=True)
        (OUT / "results.json").write_text(json.dumps(saved, indent=2))
    elif "--big" in sys.argv[1:]:
        # One round at 3M runs beside one at 1M, into the saved results.
        saved = json.loads((OUT / "results.json").read_text())
        RUNS_DIR.mkdir(parents=True, exist_ok=True)
        try:
            saved["big"] = big_round()
        finally:
            shutil.rmtree(RUNS_DIR, ignore_errors=True)
        (OUT / "results.json").write_text(json.dumps(saved, indent=2))
    elif "--report" not in sys.argv[1:]:
        OUT.mkdir(exist_ok=True)
        shutil.rmtree(RUNS_DIR, ignore_errors=True)
        try:
            measure()
        finally:
            shutil.rmtree(RUNS_DIR, ignore_errors=True)
    saved = json.loads((OUT / "results.json").read_text())
    report(saved["replay"], saved["extraction"], saved.get("date", str(date.today())),
           saved.get("machine", machine()), saved.get("delta"), saved.get("big"))


def big_round(big=3_000_000, base=1_000_000):
    """Memory as the work grows past 1M runs: one replay of 3M runs beside one of 1M, the 3M
    fixtures (~5 GB) generated for it and removed after."""
    rows = {}
    try:
        for runs in (base, big):
            fx = fixtures(runs)
            print(f"  {runs} runs, one round", flush=True)
            wall, rss, cpu, _ = timed_cpu([BIN, "-q", "replay", fx, "--out", RUNS_DIR / f"big-{runs}"])
            rows[runs] = {"runs": runs, "replay_s": wall, "rss_mib": rss / 1024, "cpu_s": cpu}
            shutil.rmtree(RUNS_DIR / f"big-{runs}", ignore_errors=True)
    finally:
        shutil.rmtree(OUT / f"fixtures-{big}", ignore_errors=True)
    return {"base": rows[base], "big": rows[big], "growth": rows[big]["rss_mib"] / rows[base]["rss_mib"]}


def measure():
    results = []
    for runs in SIZES:
        print(f"replay, {runs} runs", flush=True)
        results.append(replay_size(runs))
    print("extraction against the mock API", flush=True)
    ex = extraction()
    print("two credentials against a rate-limited mock API", flush=True)
    ex["credentials"] = credentials()
    print("replay to Delta beside replay to Parquet", flush=True)
    delta = [delta_vs_parquet(runs) for runs in SIZES]
    saved = {"date": str(date.today()), "machine": machine(), "replay": results, "extraction": ex,
             "delta": delta}
    (OUT / "results.json").write_text(json.dumps(saved, indent=2))


def report(results, ex, day, machine_text, delta=None, grown=None):
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
        "- CPU (user + system seconds of all threads, GNU time), replay beside the parse limit (one",
        "  thread); the ratio is the median of each round's: " + ", ".join(
            "%s runs %.2f s / %.2f s = %.2fx" % (f"{r['runs']:,}", r["replay_cpu_s"], r["parse_cpu_s"], r["cpu_of_parse"])
            for r in results) + ".",
        "- Python: `scripts/bench_python_baseline.py`, json + pyarrow writing the same Hive-partitioned",
        "  dataset as bbpipe's default (by month, zstd, sorted by created_at).",
        "",
        "## Month and day partitions, side by side",
        "",
        "The same replay with `--partition-by day` (the only layout before 2026-12; its figures match",
        "that version's), in the same rounds; then DuckDB queries over both outputs, each on a fresh",
        "connection, the layouts in turn (medians of 7). Both layouts gave the same answers.",
        "",
        "| runs | pipeline_runs files (month / day) | replay by month | replay by day | day / month | peak RSS by month | by day |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['runs']:,} | {r['files']} / {r['files_day']} | {r['replay_s']:.2f} s | {r['replay_day_s']:.2f} s | "
            f"{r['replay_day_s'] / r['replay_s']:.2f}x | {r['rss_mib']:.0f} MiB | {r['rss_day_mib']:.0f} MiB |")
    lines += [
        "",
        "| runs | query | by month | by day | day / month |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        for name, q in r["queries"].items():
            lines.append(f"| {r['runs']:,} | {name} | {q['month_s'] * 1000:.0f} ms | {q['day_s'] * 1000:.0f} ms | "
                         f"{q['ratio']:.2f}x |")
    if all("rules_apply_s" in r for r in results):
        lines += [
            "",
            "## Re-deriving deployments (`bbpipe rules apply`)",
            "",
            "A replay with the demo's deploy rules, then `rules apply` with one rule renamed (its",
            "deployments all replaced), in the same rounds: re-deriving reads the runs back (the",
            "columns rules read, a month at a time) instead of decoding JSON pages.",
            "",
            "| runs | replay with rules | rules apply | apply / replay | rules apply peak RSS |",
            "|---|---|---|---|---|",
        ]
        for r in results:
            lines.append(f"| {r['runs']:,} | {r['replay_rules_s']:.2f} s | {r['rules_apply_s']:.2f} s | "
                         f"{r['rules_apply_s'] / r['replay_rules_s']:.2f} | {r['rules_apply_rss_mib']:.0f} MiB |")
    if delta:
        lines += [
            "",
            "## Delta Lake tables (`--format delta`)",
            "",
            "Replay into Delta tables (the same Parquet files, plus one log commit per table, written",
            f"by delta_kernel) beside replay to Parquet: {delta[0]['rounds']} rounds, each running both, which",
            "goes first alternating; the ratio is the median of each round's Delta / Parquet.",
            "",
            "| runs | replay to Parquet | replay to Delta | Delta / Parquet | peak RSS Parquet | peak RSS Delta |",
            "|---|---|---|---|---|---|",
        ]
        for d in delta:
            lines.append(f"| {d['runs']:,} | {d['parquet_s']:.2f} s | {d['delta_s']:.2f} s | "
                         f"{d['ratio']:.2f}x | {d['parquet_rss_mib']:.0f} MiB | {d['delta_rss_mib']:.0f} MiB |")
    same = all(q["same_answer"] for r in results for q in r["queries"].values())
    if not same:
        lines[lines.index("connection, the layouts in turn (medians of 7). Both layouts gave the same answers.")] = \
            "connection, the layouts in turn (medians of 7). **The layouts gave different answers.**"
    lines += [
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
        "| replay CPU ≤ 1.5 × the parse limit's CPU | " + ", ".join(
            "%.2fx at %s" % (r["cpu_of_parse"], f"{r['runs']:,}") for r in results)
        + f" | {ok(all(r['cpu_of_parse'] <= 1.5 for r in results))} |",
        f"| peak RSS ≤ 160 MiB at 1M runs | {big['rss_mib']:.0f} MiB at {big['runs']:,} | {ok(big['rss_mib'] <= 160)} |",
        (f"| peak RSS at 1M ≤ 1.2 × the 100k figure | {growth:.2f}x | {ok(growth <= 1.2)} |"
         if len(results) > 1 else "| peak RSS at 1M ≤ 1.2 × the 100k figure | one size measured | n/a |"),
        (f"| peak RSS at 3M ≤ 1.2 × the 1M figure (one round each, `scripts/bench --big`) | "
         f"{grown['big']['rss_mib']:.0f} / {grown['base']['rss_mib']:.0f} MiB = {grown['growth']:.2f}x | "
         f"{ok(grown['growth'] <= 1.2)} |"
         if grown else "| peak RSS at 3M ≤ 1.2 × the 1M figure | not measured (`scripts/bench --big`) | n/a |"),
        f"| DuckDB queries faster by month than by day | " + ", ".join(
            "%.2fx at %s" % (min(q["ratio"] for q in r["queries"].values()), f"{r['runs']:,}") for r in results)
        + f" (slowest of the two queries) | {ok(all(q['ratio'] > 1 for r in results for q in r['queries'].values()))} |",
    ] + ([
        f"| replay to Delta ≤ 1.3 × replay to Parquet | " + ", ".join(
            "%.2fx at %s" % (d["ratio"], f"{d['runs']:,}") for d in delta)
        + f" | {ok(all(d['ratio'] <= 1.3 for d in delta))} |",
    ] if delta else []) + [
        f"| exactly the minimum number of requests | {ex['requests'][0]} made, {ex['minimum']} minimum | {ok(all(m == ex['minimum'] for m in ex['requests']))} |",
        f"| wall time ≤ 1.25 × requests × latency / concurrency | {ex['ratio']:.2f} | {ok(ex['ratio'] <= 1.25)} |",
    ]
    cred = ex.get("credentials")
    if cred:
        lines[lines.index("## Targets"):lines.index("## Targets")] = [
            "## Two credentials against a rate-limited API",
            "",
            f"The same mock gives each credential {cred['per_token_rps']} requests a second (a bucket of",
            "one second's worth; Bitbucket's 429, text/plain, beyond) and adds",
            f"{cred['latency_ms']} ms to every request. `bbpipe export --config` of a workspace of 60",
            "repositories and 3,000 runs, with one credential and with two (`[[workspace.credential]]`),",
            f"alternating, {len(cred['all']['1'] if '1' in cred['all'] else cred['all'][1])} runs each (medians):",
            "",
            "| credentials | wall time | requests per credential, 429s (first run) |",
            "|---|---|---|",
        ] + [
            f"| {n} | {cred['one_s' if n == 1 else 'two_s']:.2f} s | "
            + ", ".join(f"{k} {v}" for k, v in (cred['requests'][str(n)] if str(n) in cred['requests'] else cred['requests'][n])[0].items())
            + " |"
            for n in (1, 2)
        ] + [
            "",
            f"Two credentials take {cred['ratio']:.2f} × the time of one: half the work each, and less",
            "waiting: with one credential every 429 costs a backoff (exponential with jitter, from twice",
            "`--retry-delay-ms`) longer than the bucket needs to refill; with two, the limited one rests",
            "while the other works.",
            "",
        ]
        lines.append(f"| two credentials halve a rate-limited export (≤ 0.6 ×) | {cred['ratio']:.2f}x | {ok(cred['ratio'] <= 0.6)} |")
    lines += [
        "",
        "## Where the time goes (perf and heaptrack, 2026-12-01)",
        "",
        "Profiles come from `cargo build --profile profiling`: the release build with line tables",
        "(the shipped release profile strips them).",
        "",
        "- How replay runs: one transform worker per core decodes pages while load splits batches",
        "  by month and, past the 32 MiB budget, writes the partition longest without new rows.",
        "  Replay sends a workspace's days newest first across its repositories, so months complete",
        "  one after another.",
        "- 100k runs: a month (~9,000 rows) fits the budget and is written once, as it completes:",
        "  11 files instead of 320. The per-file cost that bound the day layout (~0.6 ms of zstd",
        "  context creation per file: three `cpuid` per column chunk, which trap to the hypervisor)",
        "  is gone, so replay went from 28% to 54-66% of the parse limit (two bench runs on",
        "  2026-12-01). What is left above it is decoding on both cores and encoding ~7 MB of",
        "  Parquet; the Python script also got faster with fewer files (6.4 s by day, 4.2 s by",
        "  month), which is why the ratio to it is 7.8-8.8x, not 10x.",
        "- 1M runs: a month (~95,000 rows, ~30 MB of Arrow) is larger than the budget. While its",
        "  rows still arrive it is spilled as sorted files (merged as they are written); once the",
        "  next month's rows show it has gone cold it is merged from those files a batch at a time",
        "  and encoded as it goes (`crates/load/src/write/sorted_inputs.rs`), beside the decoding of",
        "  the next month. Until 2026-12-02 the sink wrote the month it was in early (once with 12",
        "  rows), spilled the rest and merged both at the end: every month was encoded twice and the",
        "  end-of-run merge took ~1 s on 2 cores. Now only the last two months are merged at the end",
        "  (side by side, 1M runs: peak RSS 174-181 to 153-158 MiB, CPU 7.96 to 7.58 s).",
        "- Memory: the budget counts rows being written as well as rows waiting; glibc is held to two",
        "  malloc arenas, maps blocks of 1 MiB and more and trims above 1 MiB. By month at 1M runs,",
        "  peak RSS is ~150 MiB against ~90 MiB at 100k runs and ~100 MiB by day: the budget, plus up",
        "  to two months being merged beside it (a batch per sorted file, and the row group being",
        "  encoded: pages of 256 KiB per column, closed at ~4 MiB encoded), plus what glibc keeps. A",
        "  month is never held whole, nor is its file: a streamed merge uploads its file as it is",
        "  encoded (1 MiB chunks into object_store's BufWriter,",
        "  `crates/load/src/write/upload_stream.rs`; before 2026-12-02 the whole file waited in memory,",
        "  ~20 MB a month at 3M runs). What still grows with a month (heaptrack, 2026-12-03: peak heap",
        "  94 MB at 1M runs, 115 MB at 3M): its spill files, read a batch each during its merge",
        "  (+9 MB), the row groups on their way to the upload (+5 MB), the keys a merge has seen, 8",
        "  bytes a row (+4 MB), and the sink's bookkeeping (+4 MB). `--partition-by day` keeps",
        "  ~100 MiB. Tried, not kept (side by side, 100k and 1M runs): mimalloc (100k: 1.6x the CPU,",
        "  335 MiB) and jemalloc (same CPU; 136 MiB at 100k, 367 MiB at 1M): both keep freed memory",
        "  that glibc, tuned as above, returns.",
        '- Profile of replay at 100k runs (2026-12-02, perf at 2,999 Hz with DWARF call graphs, share',
        '  of all CPU samples, callees included): decoding runs with serde_json 32%, appending them to',
        "  the Arrow builders 13%, reading the page files 11% (kernel copy and tokio's blocking pool),",
        '  the partition merge 13% (dedupe by key, sort, and the copy into sorted order: `interleave`',
        '  7%), Parquet encoding 14% (zstd 5%, byte arrays and dictionaries 6%); the rest is tokio,',
        '  allocation and the kernel. Side by side the same day, replay took 1.06-1.15 CPU-seconds',
        "  against the parse limit's 0.31-0.43 (2.7-3.4x): to reach 1.5x, everything beyond reading and",
        '  decoding would have to shrink to a third.',
        '- Tried, not kept (side by side, 100k runs, 3 rounds): `sonic-rs` through serde into the',
        "  same structs, 0.96-1.02x serde_json's decode time (without compile-time AVX2 it has no SIMD",
        '  path, and a portable binary cannot assume it); fat LTO with one codegen unit, replay 0.82-0.88',
        '  user-seconds against 0.82-0.90 without: no change beyond noise, for a much longer build.',
        "- Extraction: above the latency bound are the dataset written after the last response",
        "  and per-request overhead.",
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

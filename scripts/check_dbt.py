"""The dbt package (dbt/bbpipe) on the demo's output: `dbt build` passes every data test, for
Parquet and for Delta, and every mart figure of the report's default window equals
`bbpipe report --json` on the same dataset, field by field; a dataset without deployments (no
rules) builds with empty marts.

    .venv-dbt/bin/python scripts/check_dbt.py target/debug/bbpipe

Runs in the dbt venv (.venv-dbt, scripts/requirements-dbt.txt): dbt-duckdb, and DuckDB 1.5.5
with its delta extension from site-packages (loaded through the package's
`bbpipe_duckdb_extensions` var: no download).
"""

import json
import math
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from checks import check, finish  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dbt" / "bbpipe"
DBT = Path(sys.executable).parent / "dbt"


def delta_extension():
    import duckdb_extension_delta

    return str(next(Path(duckdb_extension_delta.__file__).parent.rglob("delta.duckdb_extension")))


def replay(binary, out, extra):
    subprocess.run([binary, "replay", str(ROOT / "fixtures" / "demo"), "--out", str(out), "-q", *extra],
                   check=True)


def dbt_build(work, dataset, fmt):
    """`dbt build` of the package on `dataset`; the DuckDB file it built."""
    database = work / f"{fmt}.duckdb"
    profiles = work / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "profiles.yml").write_text(
        "bbpipe:\n  target: check\n  outputs:\n    check:\n      type: duckdb\n"
        f"      path: {database}\n      threads: 2\n"
        # At connect time: DuckDB takes no unsigned extension once the database is open.
        "      config_options:\n        allow_unsigned_extensions: true\n")
    variables = {"bbpipe_path": str(dataset), "bbpipe_format": fmt,
                 "bbpipe_duckdb_extensions": [delta_extension()] if fmt == "delta" else []}
    env = dict(os.environ, DBT_PROFILES_DIR=str(profiles), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    run = subprocess.run([str(DBT), "build", "--vars", json.dumps(variables), "--project-dir", str(PACKAGE),
                          "--target-path", str(work / f"target-{fmt}"), "--log-path", str(work / "logs")],
                         env=env, capture_output=True, text=True)
    check(f"[{fmt}] dbt build passes every model and data test", run.returncode, 0)
    if run.returncode != 0:
        print(run.stdout[-3000:])
        finish("check_dbt")
    return database


def rows(database, sql):
    con = duckdb.connect(str(database), read_only=True)
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    out = [dict(zip(names, r)) for r in cursor.fetchall()]
    con.close()
    return out


def near(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def close(name, got, want):
    check(name, near(got, want) or (got, want), True)


def quantile(values, q):
    """DuckDB's quantile_cont: linear interpolation between ranks."""
    values = sorted(values)
    if not values:
        return None
    position = (len(values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def compare(fmt, database, report):
    window = report["window"]
    start, end = date.fromisoformat(window["from"]), date.fromisoformat(window["to"])
    in_window = lambda day: start <= day <= end
    label = f"[{fmt}]"

    # Deployments per service, environment and week.
    marts = {(r["week_start"], r["service"], r["environment"]): r
             for r in rows(database, "select * from dora_deployments")}
    want = {(date.fromisoformat(w["week"]), w["service"], w["environment"]): w
            for w in report["weekly_deployments"]}
    got = {k: v for k, v in marts.items() if in_window(k[0])}
    check(f"{label} dora_deployments: the report's weeks, services and environments", sorted(got), sorted(want))
    for key, week in want.items():
        mart = got.get(key, {})
        check(f"{label} dora_deployments {key}: successful", mart.get("successful_deployments"), week["successful"])
        check(f"{label} dora_deployments {key}: failed", mart.get("failed_deployments"), week["failed"])

    # Per service and environment over the window, and the time to restore.
    restores = rows(database, "select * from dora_time_to_restore")
    for group in report["deployments"]:
        key = (group["service"], group["environment"])
        weeks = [v for k, v in got.items() if (k[1], k[2]) == key]
        successful = sum(w["successful_deployments"] for w in weeks)
        failed = sum(w["failed_deployments"] for w in weeks)
        check(f"{label} {key}: deployments", successful + failed, group["deployments"])
        close(f"{label} {key}: deploy frequency", successful / window["weeks"], group["deploy_frequency_per_week"])
        close(f"{label} {key}: change failure rate", failed / (successful + failed), group["change_failure_rate"])
        failures = [r for r in restores if (r["service"], r["environment"]) == key
                    and in_window(r["deployed_at"].date())]
        restored = [float(r["seconds_to_restore"]) for r in failures if r["restored_at"] is not None]
        ttr = group["time_to_restore"]
        check(f"{label} {key}: restored", len(restored), ttr["restored"])
        close(f"{label} {key}: time to restore (median)", quantile(restored, 0.5), ttr["median_seconds"])
        check(f"{label} {key}: failures not restored",
              sorted(r["reference_id"] for r in failures if r["restored_at"] is None),
              sorted(o["reference_id"] for o in ttr["open"]))

    # Lead time: the commits of each service and environment, and of each week.
    lead = [r for r in rows(database, "select * from dora_lead_time") if in_window(r["deployed_at"].date())]
    if report["lead_time"]["available"]:
        check(f"{label} dora_lead_time: commits in the window", sum(r["commits"] for r in lead),
              report["lead_time"]["commits"])
        for service in report["lead_time"]["services"]:
            key = (service["service"], service["environment"])
            check(f"{label} dora_lead_time {key}: commits",
                  sum(r["commits"] for r in lead if (r["service"], r["environment"]) == key), service["commits"])
        for week in report["lead_time"]["weeks"]:
            day = date.fromisoformat(week["week"])
            check(f"{label} dora_lead_time week {day}: commits",
                  sum(r["commits"] for r in lead if r["week_start"] == day), week["commits"])
    else:
        check(f"{label} dora_lead_time: empty without deployment_commits", lead, [])

    # Pipeline health per repository and week.
    health = {(r["repository"], r["week_start"]): r for r in rows(database, "select * from pipeline_health")}
    want = {(repo["repository"], date.fromisoformat(w["week"])): w
            for repo in report["repositories"] for w in repo["weeks"] if w["runs"]}
    got = {k: v for k, v in health.items() if in_window(k[1])}
    check(f"{label} pipeline_health: the report's repositories and weeks", sorted(got), sorted(want))
    for key, week in want.items():
        mart = got.get(key, {})
        for column, field in [("runs", "runs"), ("successful_runs", "success"), ("failed_runs", "failure"),
                              ("cancelled_runs", "cancelled"), ("unfinished_runs", "unfinished")]:
            check(f"{label} pipeline_health {key}: {field}", mart.get(column), week[field])
        for column, field in [("success_rate", "success_rate"), ("duration_p50_seconds", "duration_p50_seconds"),
                              ("duration_p90_seconds", "duration_p90_seconds"), ("build_minutes", "build_minutes")]:
            close(f"{label} pipeline_health {key}: {field}", mart.get(column), week[field])


def compile_for_postgres(work):
    """`dbt compile` for another adapter, reading the sources (no server: nothing is run)."""
    profiles = work / "postgres"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        "bbpipe:\n  target: pg\n  outputs:\n    pg:\n      type: postgres\n      host: 127.0.0.1\n"
        "      port: 9\n      user: nobody\n      password: none\n      dbname: analytics\n"
        "      schema: bitbucket\n      threads: 1\n")
    env = dict(os.environ, DBT_PROFILES_DIR=str(profiles), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    target = work / "target-postgres"
    run = subprocess.run([str(DBT), "compile", "--no-populate-cache", "--project-dir", str(PACKAGE),
                          "--target-path", str(target), "--log-path", str(work / "logs")],
                         env=env, capture_output=True, text=True)
    check("[postgres] dbt compile of every model", run.returncode, 0)
    compiled = target / "compiled" / "bbpipe" / "models"
    health = (compiled / "marts" / "pipeline_health.sql").read_text() if run.returncode == 0 else ""
    check("[postgres] percentiles as percentile_cont, from the source tables",
          ("percentile_cont(0.5) within group" in health, '"stg_bbpipe__pipeline_runs"' in health), (True, True))
    runs = (compiled / "staging" / "stg_bbpipe__pipeline_runs.sql").read_text() if run.returncode == 0 else ""
    check("[postgres] staging reads the source", '"analytics"."bbpipe"."pipeline_runs"' in runs, True)


def report_of(binary, dataset):
    run = subprocess.run([binary, "report", str(dataset), "--json", "-"], check=True, capture_output=True, text=True)
    return json.loads(run.stdout)


def main():
    binary = sys.argv[1]
    rules = str(ROOT / "fixtures" / "demo" / "deploy-rules.toml")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for fmt in ["parquet", "delta"]:
            dataset = work / f"demo-{fmt}"
            replay(binary, dataset, ["--rules", rules, "--with", "steps,environments,commits", "--format", fmt])
            database = dbt_build(work, dataset, fmt)
            compare(fmt, database, report_of(binary, dataset))
        # No rules: no deployments table; the marts build, the deployment ones empty.
        bare = work / "bare"
        replay(binary, bare, [])
        (work / "bare-run").mkdir()
        database = dbt_build(work / "bare-run", bare, "parquet")
        for mart in ["dora_deployments", "dora_time_to_restore", "dora_lead_time"]:
            check(f"[no deployments] {mart} is empty", rows(database, f"select count(*) as n from {mart}")[0]["n"], 0)
        check("[no deployments] pipeline_health has the runs",
              rows(database, "select sum(runs) as n from pipeline_health")[0]["n"],
              rows(database, "select count(*) as n from stg_bbpipe__pipeline_runs")[0]["n"])
        compile_for_postgres(work)
    finish("check_dbt")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Loads bbpipe's output as warehouses do and checks types, counts and key uniqueness.

    python3 scripts/check_warehouse.py target/debug/bbpipe

Replays fixtures/demo with its deploy rules into a temporary directory, partitioned by month
(the default) and by day, then reads each Hive-partitioned tree with DuckDB and with pyarrow.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow.dataset as ds

from checks import check, finish

ROOT = Path(__file__).resolve().parent.parent


def expected_runs():
    """Distinct runs in the demo pages, counted from the JSON itself."""
    seen = set()
    for page in (ROOT / "fixtures/demo").glob("*/*/pipelines/page-*.json"):
        for run in json.loads(page.read_text())["values"]:
            seen.add((run["repository"]["uuid"], run["uuid"]))
    return len(seen)


def check_layout(binary, tmp, layout):
    """Replays the demo with `--partition-by layout` (None: the default) and reads it back."""
    out = Path(tmp) / (layout or "default")
    args = [binary, "-q", "replay", str(ROOT / "fixtures/demo"), "--out", str(out),
            "--rules", str(ROOT / "fixtures/demo/deploy-rules.toml")]
    if layout:
        args += ["--partition-by", layout]
    subprocess.run(args, check=True)
    day = layout == "day"
    name = f"[{layout or 'default: month'}]"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def scan(table):
        return f"read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)"

    # The date level: a DATE by day, `YYYY-MM` text by month (README, "Partitions").
    created, deployed, level_type = (("created_date", "deployed_date", "DATE") if day
                                     else ("created_month", "deployed_month", "VARCHAR"))
    level_of = (lambda column: f"CAST({column} AS DATE)") if day else (lambda column: f"strftime({column}, '%Y-%m')")
    types = {
        "pipeline_runs": {"created_at": "TIMESTAMP WITH TIME ZONE", "completed_at": "TIMESTAMP WITH TIME ZONE",
                          created: level_type, "workspace": "VARCHAR", "build_number": "BIGINT",
                          "first_successful": "BOOLEAN", "status": "VARCHAR"},
        "deployments": {"deployed_at": "TIMESTAMP WITH TIME ZONE", deployed: level_type,
                        "success": "BOOLEAN", "workspace": "VARCHAR"},
        "repositories": {"updated_at": "TIMESTAMP WITH TIME ZONE", "workspace": "VARCHAR",
                         "is_private": "BOOLEAN"},
    }
    for table, want in types.items():
        described = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {scan(table)}").fetchall()}
        for column, kind in want.items():
            check(f"{name} duckdb {table}.{column} type", described.get(column), kind)

    runs = expected_runs()
    check(f"{name} pipeline_runs rows", con.execute(f"SELECT count(*) FROM {scan('pipeline_runs')}").fetchone()[0], runs)
    check(f"{name} pipeline_runs keys unique",
          con.execute(f"SELECT count(DISTINCT (repo_uuid, uuid)) FROM {scan('pipeline_runs')}").fetchone()[0], runs)
    check(f"{name} {created} is the UTC {layout or 'month'} of created_at",
          con.execute(f"SELECT count(*) FROM {scan('pipeline_runs')} WHERE {created} <> {level_of('created_at')}").fetchone()[0], 0)
    check(f"{name} the last microsecond of a month stays in it",
          con.execute(f"SELECT CAST({created} AS VARCHAR) FROM {scan('pipeline_runs')} "
                      "WHERE created_at = TIMESTAMPTZ '2026-03-31 23:59:59.999999+00'").fetchone(),
          ("2026-03-31" if day else "2026-03",))
    # Engines prune on the level: a filter on it reads only that partition's files.
    level_value = "DATE '2026-03-31'" if day else "'2026-03'"
    files = con.execute(f"SELECT count(DISTINCT filename) FROM read_parquet('{out}/pipeline_runs/**/*.parquet', "
                        f"hive_partitioning = true, filename = true) WHERE {created} = {level_value}").fetchone()[0]
    check(f"{name} a filter on {created} reads one file", files, 1)
    statuses = {r[0] for r in con.execute(f"SELECT DISTINCT status FROM {scan('pipeline_runs')}").fetchall()}
    check(f"{name} statuses", statuses, {"success", "failure", "cancelled", "running", "unknown"})
    deployments = con.execute(f"SELECT count(*), count(DISTINCT reference_id) FROM {scan('deployments')}").fetchone()
    check(f"{name} deployment keys unique", deployments[0], deployments[1])
    check(f"{name} deployments exist", deployments[0] > 0, True)
    check(f"{name} {deployed} is the UTC {layout or 'month'} of deployed_at",
          con.execute(f"SELECT count(*) FROM {scan('deployments')} WHERE {deployed} <> {level_of('deployed_at')}").fetchone()[0], 0)
    check(f"{name} repositories", con.execute(f"SELECT count(*) FROM {scan('repositories')}").fetchone()[0], 9)
    if not day:
        months = con.execute(f"SELECT count(DISTINCT {created}) FROM {scan('pipeline_runs')}").fetchone()[0]
        files = len(list((out / "pipeline_runs").glob("**/*.parquet")))
        check(f"{name} one pipeline_runs file per month", files, months)

    dataset = ds.dataset(out / "pipeline_runs", format="parquet", partitioning="hive")
    check(f"{name} pyarrow rows", dataset.count_rows(), runs)
    check(f"{name} pyarrow created_at type", str(dataset.schema.field("created_at").type), "timestamp[us, tz=UTC]")
    check(f"{name} pyarrow {created} type", str(dataset.schema.field(created).type), "string")
    check(f"{name} pyarrow workspace type", str(dataset.schema.field("workspace").type), "string")
    check(f"{name} pyarrow schema version",
          dataset.schema.metadata.get(b"bbpipe.schema_version") if dataset.schema.metadata else None, b"1")


def expected_steps():
    """Steps and Bitbucket deployments in the demo pages, from the JSON itself: (steps, build
    seconds, deployments by environment type and outcome)."""
    steps, seconds = set(), 0
    for page in (ROOT / "fixtures/demo").glob("*/*/pipelines/steps/*/page-*.json"):
        for step in json.loads(page.read_text())["values"]:
            steps.add(step["uuid"])
            seconds += step.get("build_seconds_used") or 0
    types = {}
    for page in (ROOT / "fixtures/demo").glob("*/*/environments/page-*.json"):
        for env in json.loads(page.read_text())["values"]:
            types[env["uuid"]] = env["environment_type"]["name"]
    outcomes = {}
    for page in (ROOT / "fixtures/demo").glob("*/*/deployments/page-*.json"):
        for d in json.loads(page.read_text())["values"]:
            key = (types[d["environment"]["uuid"]], d["state"].get("status", {}).get("name"))
            outcomes[key] = outcomes.get(key, 0) + 1
    return len(steps), seconds, outcomes


def check_steps_and_environments(binary, tmp):
    """`--with steps,environments`: the README's queries in DuckDB against the JSON's counts."""
    out = Path(tmp) / "with"
    subprocess.run([binary, "-q", "replay", str(ROOT / "fixtures/demo"), "--out", str(out),
                    "--with", "steps,environments"], check=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def scan(table):
        return f"read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)"

    steps, seconds, outcomes = expected_steps()
    got = con.execute(f"SELECT count(*), count(DISTINCT uuid), sum(build_seconds_used) "
                      f"FROM {scan('pipeline_steps')}").fetchone()
    check("[with] pipeline_steps rows, keys, build seconds", got, (steps, steps, seconds))
    minutes = con.execute(f"""SELECT round(sum(build_minutes), 1) FROM (
        SELECT repository, name, date_trunc('week', started_at) AS week,
               round(sum(build_seconds_used) / 60.0, 1) AS build_minutes
        FROM {scan('pipeline_steps')} GROUP BY ALL)""").fetchone()[0]
    check("[with] build minutes per repository, step and week add up", abs(minutes - seconds / 60) < 1, True)
    check("[with] steps partition is the run's created month",
          con.execute(f"SELECT count(*) FROM {scan('pipeline_steps')} "
                      f"WHERE created_month <> strftime(run_created_at, '%Y-%m')").fetchone()[0], 0)
    check("[with] not-started steps have no times",
          con.execute(f"SELECT count(*) FROM {scan('pipeline_steps')} "
                      f"WHERE status IN ('not_run', 'skipped') AND started_at IS NOT NULL").fetchone()[0], 0)
    rows = con.execute(f"SELECT environment_type, outcome, count(*) FROM {scan('environment_deployments')} "
                       f"GROUP BY ALL").fetchall()
    check("[with] deployments per environment type and outcome", {(t, o): n for t, o, n in rows}, outcomes)
    check("[with] started_month is the month of started_at",
          con.execute(f"SELECT count(*) FROM {scan('environment_deployments')} "
                      f"WHERE started_month <> strftime(started_at, '%Y-%m')").fetchone()[0], 0)
    dataset = ds.dataset(out / "pipeline_steps", format="parquet", partitioning="hive")
    check("[with] pyarrow pipeline_steps rows", dataset.count_rows(), steps)


def close(a, b):
    """Equal numbers, up to float rounding (both sides compute in doubles)."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def check_report(binary, tmp):
    """`bbpipe report --json` on the demo: every number again, from DuckDB over the Parquet,
    as README's "The delivery report" defines it."""
    out = Path(tmp) / "report-data"
    subprocess.run([binary, "-q", "replay", str(ROOT / "fixtures/demo"), "--out", str(out),
                    "--rules", str(ROOT / "fixtures/demo/deploy-rules.toml"), "--with", "steps,commits"], check=True)
    report_file = Path(tmp) / "report.json"
    subprocess.run([binary, "-q", "report", str(out), "--json", str(report_file)], check=True)
    report = json.loads(report_file.read_text())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def scan(table):
        return f"read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)"

    # The default window: 13 whole weeks ending with the week of the newest run or deployment.
    newest = con.execute(f"""SELECT max(t) FROM (SELECT max(created_at) AS t FROM {scan('pipeline_runs')}
                             UNION ALL SELECT max(deployed_at) FROM {scan('deployments')})""").fetchone()[0]
    last_monday = con.execute("SELECT CAST(date_trunc('week', ?::TIMESTAMPTZ) AS DATE)", [newest]).fetchone()[0]
    start, end = con.execute("SELECT ?::DATE - INTERVAL 84 DAY, ?::DATE + INTERVAL 7 DAY",
                             [last_monday, last_monday]).fetchone()
    check("[report] window from", report["window"]["from"], str(start.date()))
    check("[report] window to", report["window"]["to"], str((end - __import__("datetime").timedelta(days=1)).date()))
    weeks = 13.0
    window = f"BETWEEN TIMESTAMPTZ '{start.date()} 00:00:00+00' AND TIMESTAMPTZ '{end.date()} 00:00:00+00' - INTERVAL 1 MICROSECOND"

    rows = con.execute(f"""
        WITH d AS (SELECT * FROM {scan('deployments')}),
             w AS (SELECT * FROM d WHERE deployed_at {window}),
             restore AS (
                SELECT f.service, f.environment,
                       (SELECT min(s.deployed_at) FROM d s WHERE s.success AND s.service = f.service
                         AND s.environment = f.environment AND s.deployed_at > f.deployed_at) AS restored_at,
                       f.deployed_at
                FROM w f WHERE NOT f.success)
        SELECT w.service, w.environment, count(*) AS n, count(*) FILTER (WHERE success) AS ok,
               count(*) FILTER (WHERE NOT success) / count(*) AS cfr,
               (SELECT quantile_cont((epoch_us(restored_at) - epoch_us(deployed_at)) / 1e6, 0.5) FROM restore r
                 WHERE r.service = w.service AND r.environment = w.environment AND restored_at IS NOT NULL) AS ttr,
               (SELECT count(*) FROM restore r WHERE r.service = w.service AND r.environment = w.environment
                 AND restored_at IS NOT NULL) AS restored,
               (SELECT count(*) FROM restore r WHERE r.service = w.service AND r.environment = w.environment
                 AND restored_at IS NULL) AS open
        FROM w GROUP BY ALL ORDER BY ALL""").fetchall()
    got = {(s["service"], s["environment"]): s for s in report["deployments"]}
    check("[report] services and environments", sorted(got), [(r[0], r[1]) for r in rows])
    for service, environment, n, ok, cfr, ttr, restored, open_ in rows:
        s = got.get((service, environment), {})
        name = f"[report] {service}/{environment}"
        check(f"{name} deployments", (s.get("deployments"), s.get("successful")), (n, ok))
        check(f"{name} deploy frequency", close(s.get("deploy_frequency_per_week"), ok / weeks), True)
        check(f"{name} change failure rate", close(s.get("change_failure_rate"), cfr), True)
        t = s.get("time_to_restore", {})
        check(f"{name} time to restore", (close(t.get("median_seconds"), ttr), t.get("restored"),
                                          len(t.get("open", []))), (True, restored, open_))
    total = con.execute(f"SELECT count(*), count(*) FILTER (WHERE success) FROM {scan('deployments')} "
                        f"WHERE deployed_at {window}").fetchone()
    all_ = report["all_deployments"]
    check("[report] all deployments", (all_["deployments"], all_["successful"]), total)

    runs = con.execute(f"""
        SELECT repository, count(*), count(*) FILTER (WHERE status = 'success'),
               count(*) FILTER (WHERE status = 'failure'), count(*) FILTER (WHERE status = 'cancelled'),
               count(*) FILTER (WHERE state IS DISTINCT FROM 'COMPLETED'),
               quantile_cont(duration_seconds, 0.5) FILTER (WHERE completed_at IS NOT NULL),
               quantile_cont(duration_seconds, 0.9) FILTER (WHERE completed_at IS NOT NULL),
               coalesce(sum(build_seconds_used), 0) / 60.0
        FROM {scan('pipeline_runs')} WHERE created_at {window} GROUP BY ALL ORDER BY ALL""").fetchall()
    got = {r["repository"]: r for r in report["repositories"]}
    check("[report] repositories", sorted(got), [r[0] for r in runs])
    for repo, n, ok, bad, cancelled, unfinished, p50, p90, minutes in runs:
        r = got.get(repo, {})
        name = f"[report] {repo}"
        check(f"{name} runs", (r.get("runs"), r.get("success"), r.get("failure"), r.get("cancelled"),
                               r.get("unfinished")), (n, ok, bad, cancelled, unfinished))
        rate = ok / (ok + bad) if ok + bad else None
        check(f"{name} success rate", close(r.get("success_rate"), rate), True)
        check(f"{name} duration p50/p90", (close(r.get("duration_p50_seconds"), p50),
                                           close(r.get("duration_p90_seconds"), p90)), (True, True))
        check(f"{name} build minutes", close(r.get("build_minutes"), minutes), True)
    weekly = con.execute(f"""
        SELECT CAST(date_trunc('week', created_at) AS VARCHAR), count(*),
               quantile_cont(duration_seconds, 0.9) FILTER (WHERE completed_at IS NOT NULL)
        FROM {scan('pipeline_runs')} WHERE created_at {window} GROUP BY 1 ORDER BY 1""").fetchall()
    check("[report] weekly runs and p90", [(w["week"], w["runs"], round(w["duration_p90_seconds"], 6))
                                           for w in report["weekly_runs"]],
          [(w[0][:10], w[1], round(w[2], 6)) for w in weekly])
    for p in report["failing_pipelines"]:
        failures = con.execute(f"""SELECT count(*) FILTER (WHERE status = 'failure'), count(*)
            FROM {scan('pipeline_runs')} WHERE created_at {window} AND repository = ?
            AND name IS NOT DISTINCT FROM ?""", [p["repository"], p["pipeline"]]).fetchone()
        check(f"[report] failing {p['repository']} {p['pipeline']}", (p["failures"], p["runs"]), failures)
    top = con.execute(f"""SELECT max(f) FROM (SELECT count(*) FILTER (WHERE status = 'failure') AS f
        FROM {scan('pipeline_runs')} WHERE created_at {window} GROUP BY repository, name)""").fetchone()[0]
    check("[report] the most failing pipeline comes first", report["failing_pipelines"][0]["failures"], top)
    unfinished = con.execute(f"SELECT count(*) FROM {scan('pipeline_runs')} WHERE created_at {window} "
                             f"AND state IS DISTINCT FROM 'COMPLETED'").fetchone()[0]
    check("[report] unfinished runs", report["unfinished_runs"]["count"], unfinished)
    for s in report["steps"]["most_build_minutes"]:
        minutes = con.execute(f"""SELECT coalesce(sum(build_seconds_used), 0) / 60.0 FROM {scan('pipeline_steps')}
            WHERE run_created_at {window} AND repository = ? AND name IS NOT DISTINCT FROM ?""",
                              [s["repository"], s["name"]]).fetchone()[0]
        check(f"[report] step minutes {s['repository']} {s['name']}", close(s["build_minutes"], minutes), True)
    for s in report["steps"]["slowest"]:
        p90 = con.execute(f"""SELECT quantile_cont(duration_seconds, 0.9) FROM {scan('pipeline_steps')}
            WHERE run_created_at {window} AND repository = ? AND name IS NOT DISTINCT FROM ?
            AND status = 'success'""", [s["repository"], s["name"]]).fetchone()[0]
        check(f"[report] slow step {s['repository']} {s['name']}", close(s["duration_p90_seconds"], p90), True)
    lead = report["lead_time"]
    overall = con.execute(f"""SELECT count(*), quantile_cont(lead_time_seconds, 0.5), quantile_cont(lead_time_seconds, 0.9)
        FROM {scan('deployment_commits')} WHERE deployed_at {window} AND lead_time_seconds IS NOT NULL""").fetchone()
    check("[report] lead time: commits, median, p90", (lead["available"], lead["commits"], close(lead["median_seconds"], overall[1]),
                                                        close(lead["p90_seconds"], overall[2])), (True, overall[0], True, True))
    per = con.execute(f"""SELECT service, environment, count(*), quantile_cont(lead_time_seconds, 0.5),
               quantile_cont(lead_time_seconds, 0.9)
        FROM {scan('deployment_commits')} WHERE deployed_at {window} AND lead_time_seconds IS NOT NULL
        GROUP BY ALL ORDER BY ALL""").fetchall()
    check("[report] lead time per service and environment",
          [(s["service"], s["environment"], s["commits"], round(s["median_seconds"], 3), round(s["p90_seconds"], 3))
           for s in lead["services"]], [(a, b, n, round(m, 3), round(p, 3)) for a, b, n, m, p in per])
    weekly = con.execute(f"""SELECT CAST(date_trunc('week', deployed_at) AS VARCHAR), count(*),
               quantile_cont(lead_time_seconds, 0.5)
        FROM {scan('deployment_commits')} WHERE deployed_at {window} AND lead_time_seconds IS NOT NULL
        GROUP BY 1 ORDER BY 1""").fetchall()
    check("[report] lead time per week", [(w["week"], w["commits"], round(w["median_seconds"], 3)) for w in lead["weeks"]],
          [(w[0][:10], w[1], round(w[2], 3)) for w in weekly])
    band = "elite" if overall[1] < 86400 else "high" if overall[1] < 7 * 86400 else "medium" if overall[1] < 30 * 86400 else "low"
    check("[report] lead time band", lead["band"], band)
    guide = (ROOT / "docs/guides/report.md").read_text()
    block = guide.split("<!-- unfinished-query:start -->")[1].split("<!-- unfinished-query:end -->")[0]
    every = con.execute(block.split("```sql")[1].split("```")[0].replace("'out/", f"'{out}/")).fetchall()
    check("[report] the guide's query lists every unfinished run", len(every), report["unfinished_runs"]["count"])
    check("[report] the page's ten are the newest of them",
          [(u["repository"], u["build_number"], u["state"]) for u in report["unfinished_runs"]["newest"]],
          [(r, b, s) for r, b, s, _ in every[:10]])


def fixture_tests():
    """The demo's recorded test reports read from the JSON: (counts by step, cases by
    (step, uuid)), and each step's name from the steps pages."""
    demo = ROOT / "fixtures/demo"
    names = {}
    for page in demo.glob("*/*/pipelines/steps/*/page-*.json"):
        for step in json.loads(page.read_text())["values"]:
            names[step["uuid"].strip("{}")] = step.get("name")
    reports, cases = {}, {}
    for path in demo.glob("*/*/pipelines/test_reports/*/*/page-0001.json"):
        reports[path.parent.name] = json.loads(path.read_text())
    for path in demo.glob("*/*/pipelines/test_cases/*/*/*.json"):
        for case in json.loads(path.read_text())["values"]:
            cases[(path.parent.name, case["uuid"])] = case
    return names, reports, cases


def duration_seconds(text):
    """An independent reading of the durations the demo writes: PT[nM]n.nS or plain seconds."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    body = text[2:-1] if text.startswith("PT") and text.endswith("S") else None
    if body is None:
        return None
    minutes, _, seconds = body.rpartition("M")
    return (float(minutes) * 60 if minutes else 0.0) + float(seconds)


def check_tests(binary, tmp):
    """`--with tests`: the tables against the fixture JSON, and the report's tests section
    against docs/guides/tests.md's queries."""
    out = Path(tmp) / "tests"
    subprocess.run([binary, "-q", "replay", str(ROOT / "fixtures/demo"), "--out", str(out),
                    "--with", "tests"], check=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def scan(table):
        return f"read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)"

    names, reports, cases = fixture_tests()
    rows = con.execute(f"SELECT replace(replace(step_uuid, '{{', ''), '}}', ''), step_name, test_cases, "
                       f"successful_test_cases, failed_test_cases, error_test_cases, skipped_test_cases "
                       f"FROM {scan('test_reports')}").fetchall()
    got = {r[0]: r[1:] for r in rows}
    want = {step: (names.get(step), r["number_of_test_cases"], r["number_of_successful_test_cases"],
                   r["number_of_failed_test_cases"], r["number_of_error_test_cases"],
                   r["number_of_skipped_test_cases"]) for step, r in reports.items()}
    check("[tests] test_reports equal the recorded reports, field by field", got, want)
    rows = con.execute(f"SELECT replace(replace(step_uuid, '{{', ''), '}}', ''), uuid, name, fully_qualified_name, "
                       f"package_name, status, duration, duration_seconds FROM {scan('test_cases')}").fetchall()
    got = {(r[0], r[1]): r[2:] for r in rows}
    want = {key: (c["name"], c["fully_qualified_name"], c["package_name"], c["status"], c["duration"],
                  duration_seconds(c["duration"])) for key, c in cases.items()}
    check("[tests] test_cases equal the recorded cases, field by field", got, want)
    check("[tests] the demo has failures, errors and passes",
          sorted({c["status"] for c in cases.values()}), ["ERROR", "FAILED", "SUCCESSFUL"])

    report_file = Path(tmp) / "tests-report.json"
    subprocess.run([binary, "-q", "report", str(out), "--json", str(report_file)], check=True)
    tests = json.loads(report_file.read_text())["tests"]
    guide = (ROOT / "docs/guides/tests.md").read_text()
    block = guide.split("<!-- tests-queries:start -->")[1].split("<!-- tests-queries:end -->")[0]
    sql = block.split("```sql")[1].split("```")[0].replace("'out/", f"'{out}/")
    statements = [q for q in sql.split(";") if q.strip()]
    check("[tests] the guide has three queries", len(statements), 3)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t else None
    failing, flaky, steps = (con.execute(q).fetchall() for q in statements)
    check("[tests] tests.failing is the guide's query",
          [(t["repository"], t["step"], t["test"], t["failures"], t["runs"], t["last_failed_at"]) for t in tests["failing"]],
          [(a, b, c, n, r, iso(t)) for a, b, c, n, r, t in failing])
    check("[tests] tests.flaky is the guide's query",
          [(t["repository"], t["step"], t["test"], t["flaky_commits"], t["failures"], t["last_seen"], t["failed_in"])
           for t in tests["flaky"]],
          [(a, b, c, k, int(n), iso(t), list(f)) for a, b, c, k, n, t, f in flaky])
    check("[tests] tests.steps is the guide's query",
          [(s["repository"], s["step"], s["failures"], s["runs"], round(s["share"], 9)) for s in tests["steps"]],
          [(a, b, n, r, round(sh, 9)) for a, b, n, r, sh in steps])
    check("[tests] the demo has flaky tests", len(tests["flaky"]) > 0, True)


def check_commits(binary, tmp):
    """`--with commits`: lead times and attribution in DuckDB and pyarrow, against the demo's
    commit graph read from the JSON (an independent `git log new ^old` in Python)."""
    out = Path(tmp) / "commits"
    subprocess.run([binary, "-q", "replay", str(ROOT / "fixtures/demo"), "--out", str(out),
                    "--rules", str(ROOT / "fixtures/demo/deploy-rules.toml"), "--with", "commits"], check=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def scan(table):
        return f"read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)"

    graph = {}
    for page in (ROOT / "fixtures/demo").glob("*/*/commits/page-*.json"):
        repo = page.parent.parent.name
        for c in json.loads(page.read_text())["values"]:
            graph.setdefault(repo, {})[c["hash"]] = [p["hash"] for p in c["parents"]]

    def reach(repo, start, stop):
        seen, todo = set(), [start]
        while todo:
            h = todo.pop()
            if h in stop or h in seen or h not in graph[repo]:
                continue
            seen.add(h)
            todo.extend(graph[repo][h])
        return seen

    deployments = con.execute(f"""SELECT reference_id, split_part(repository, '/', 2), repo_uuid, service,
               environment, deployed_at, commit_sha, success FROM {scan('deployments')}
        ORDER BY repo_uuid, service, environment, deployed_at, reference_id""").fetchall()
    expected, previous = {}, {}
    for ref, repo, uuid, service, env, at, sha, success in deployments:
        if not success or sha is None:
            continue
        chain = (uuid, service, env)
        old = previous.get(chain)
        previous[chain] = sha
        if sha not in graph.get(repo, {}) or (old is not None and old not in graph[repo]):
            expected[ref] = "history_rewritten"
            continue
        shipped = reach(repo, sha, reach(repo, old, set()) if old else set())
        expected[ref] = frozenset(shipped) if shipped else "no_new_commits"
    got = {}
    for ref, sha, reason in con.execute(
            f"SELECT reference_id, commit_sha, reason FROM {scan('deployment_commits')}").fetchall():
        if sha is None:
            got[ref] = reason
        else:
            got.setdefault(ref, set()).add(sha)
    got = {k: frozenset(v) if isinstance(v, set) else v for k, v in got.items()}
    check("[commits] every successful deployment's commits = git log new ^previous success", got, expected)
    check("[commits] lead_time_seconds = deployed_at - commit_date",
          con.execute(f"SELECT count(*) FROM {scan('deployment_commits')} WHERE commit_sha IS NOT NULL "
                      f"AND lead_time_seconds <> floor(epoch_us(deployed_at) / 1e6 - epoch_us(commit_date) / 1e6)"
                      ).fetchone()[0], 0)
    check("[commits] keys unique",
          con.execute(f"SELECT count(*) = count(DISTINCT (reference_id, coalesce(commit_sha, ''))) "
                      f"FROM {scan('deployment_commits')}").fetchone()[0], True)
    check("[commits] deployed_month is the month of deployed_at",
          con.execute(f"SELECT count(*) FROM {scan('deployment_commits')} "
                      f"WHERE deployed_month <> strftime(deployed_at, '%Y-%m')").fetchone()[0], 0)
    weekly = con.execute(f"""SELECT service, environment, date_trunc('week', deployed_at) AS week,
               count(DISTINCT reference_id) AS deployments, count(*) AS commits,
               round(median(lead_time_seconds) / 3600, 1) AS median_hours,
               round(quantile_cont(lead_time_seconds, 0.9) / 3600, 1) AS p90_hours
        FROM {scan('deployment_commits')} WHERE commit_sha IS NOT NULL
        GROUP BY ALL ORDER BY week DESC, service, environment""").fetchall()
    check("[commits] README's lead time query: medians between a minute and p90",
          all(60 / 3600 <= m <= p for *_, m, p in weekly) and len(weekly) > 50, True)
    dataset = ds.dataset(out / "deployment_commits", format="parquet", partitioning="hive")
    check("[commits] pyarrow rows", dataset.count_rows(),
          con.execute(f"SELECT count(*) FROM {scan('deployment_commits')}").fetchone()[0])


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for layout in (None, "day"):
            check_layout(binary, tmp, layout)
        check_steps_and_environments(binary, tmp)
        check_commits(binary, tmp)
        check_report(binary, tmp)
        check_tests(binary, tmp)
    finish("warehouse")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reads bbpipe's Delta Lake output with independent readers and checks it row by row.

    .venv-delta/bin/python scripts/check_delta.py target/bbpipe-failpoints

The readers: the `deltalake` package (delta-rs) and DuckDB's `delta` extension (the
`duckdb-extension-delta` wheel, loaded from site-packages: no download). The binary must be the
test build (`cargo test` builds it with crash injection, BBPIPE_FAILPOINT). Scenarios:
  1. fixtures/demo as Delta equals fixtures/demo as Parquet, every table, row by row;
  2. an incremental replay with a re-run and a new run: a new version holding exactly the
     newest rows; time travel to the previous version gives the previous rows;
  3. two workspaces written concurrently into one Delta destination, on local disk and on the
     local S3 server (moto, BBPIPE_TEST_S3_ENDPOINT): both commit, both readers see both;
  4. a kill -9 after the manifest and before the Delta commit, and one after a data file:
     the current version is unchanged and readable; the next run publishes;
  5. vacuum: removes only files no version references, past the retention;
  6. a log past 10 versions, read from its checkpoint;
  7. `rules apply` after a rule changed commits the new deployments as a new version;
  8. partitioned by day: the level is a date partition column.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import deltalake
import duckdb
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from checks import check, finish

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures/demo"
RULES = DEMO / "deploy-rules.toml"
TABLES = ["repositories", "pipeline_runs", "deployments"]


def run(binary, *args, env=None, expect=0):
    done = subprocess.run([binary, "-q", *map(str, args)], env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    if expect is not None and done.returncode != expect:
        print(done.stderr)
        raise SystemExit(f"{args[0]} exited {done.returncode}, expected {expect}")
    return done


def verified(binary, dest, env=None):
    """verify-output's verdict on a dataset (its problems printed if any)."""
    done = subprocess.run([binary, "verify-output", str(dest)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        print(done.stdout, done.stderr)
    return done.returncode == 0


def duck():
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    ext = next(Path(duckdb_extension_dir()).rglob("delta.duckdb_extension"))
    con.execute(f"LOAD '{ext}'")
    con.execute("SET TimeZone = 'UTC'")
    return con


def duckdb_extension_dir():
    import duckdb_extension_delta
    return Path(duckdb_extension_delta.__file__).parent


def rows(table):
    """A pyarrow table's rows, in one order whatever the reader's."""
    return sorted(table.to_pylist(), key=repr)


def delta_rows(path, version=None, storage=None):
    table = deltalake.DeltaTable(str(path), version=version, storage_options=storage)
    return rows(table.to_pyarrow_table())


def duck_rows(con, path, columns):
    cols = ", ".join(f'"{c}"' for c in columns)
    return rows(con.execute(f"SELECT {cols} FROM delta_scan('{path}')").to_arrow_table())


def parquet_rows(path):
    return rows(ds.dataset(str(path), format="parquet", partitioning="hive").to_table())


def key_counts(path, key):
    table = deltalake.DeltaTable(str(path)).to_pyarrow_table(columns=key)
    seen = {}
    for row in table.to_pylist():
        k = tuple(row.values())
        seen[k] = seen.get(k, 0) + 1
    return seen


def check_demo(binary, tmp):
    """1. The Delta tables hold exactly what the Parquet dataset holds."""
    parquet, delta = tmp / "demo-parquet", tmp / "demo-delta"
    every_table = ["--rules", RULES, "--with", "steps,environments,commits"]
    run(binary, "replay", DEMO, "--out", parquet, *every_table)
    run(binary, "replay", DEMO, "--out", delta, *every_table, "--format", "delta")
    con = duck()
    tables = sorted(p.name for p in parquet.iterdir() if not p.name.startswith("_"))
    check("[demo] every table written", len(tables) >= 7, True)
    for table in tables:
        want = parquet_rows(parquet / table)
        got = delta_rows(delta / table)
        check(f"[demo] {table}: deltalake rows equal the Parquet dataset's", got, want)
        check(f"[demo] {table}: not empty", len(want) > 0, True)
        columns = list(want[0].keys())
        check(f"[demo] {table}: DuckDB delta_scan rows equal the Parquet dataset's",
              duck_rows(con, delta / table, columns), want)
    meta = deltalake.DeltaTable(str(delta / "pipeline_runs")).metadata()
    check("[demo] partition columns", meta.partition_columns, ["workspace", "created_month"])
    schema = json.loads(deltalake.DeltaTable(str(delta / "pipeline_runs")).schema().to_json())
    comments = {f["name"]: f.get("metadata", {}).get("comment") for f in schema["fields"]}
    check("[demo] column descriptions are Delta comments",
          bool(comments.get("build_number")) and bool(comments.get("uuid")), True)
    check("[demo] verify-output of the Delta dataset", verified(binary, delta), True)
    return delta


def check_day(binary, tmp):
    """Partitioned by day, the level is a DATE partition column that matches each row."""
    out = tmp / "demo-day"
    run(binary, "replay", DEMO, "--out", out, "--rules", RULES, "--format", "delta",
        "--partition-by", "day")
    table = deltalake.DeltaTable(str(out / "pipeline_runs"))
    check("[day] partition columns", table.metadata().partition_columns,
          ["workspace", "created_date"])
    check("[day] deltalake reads the day as a date",
          str(table.to_pyarrow_table().schema.field("created_date").type), "date32[day]")
    con = duck()
    for name, column, level in (("pipeline_runs", "created_at", "created_date"),
                                ("deployments", "deployed_at", "deployed_date")):
        got = con.execute(f"SELECT typeof({level}), count(*), count(*) FILTER "
                          f"(WHERE {level} = CAST({column} AS DATE)) FROM "
                          f"delta_scan('{out / name}') GROUP BY 1").fetchall()
        want = len(parquet_rows(tmp / "demo-parquet" / name))
        check(f"[day] {name}: DuckDB reads every row with its day as a DATE", got,
              [("DATE", want, want)])


def rerun_fixtures(tmp, name):
    """The demo, read again a day later: one run re-run (run_number 2, now successful) and one
    new run, as an incremental export records them."""
    fixtures = tmp / name
    shutil.copytree(DEMO, fixtures)
    page_path = fixtures / "acme/payments/pipelines/page-0001.json"
    page = json.loads(page_path.read_text())
    failed = next(r for r in page["values"]
                  if r["state"].get("result", {}).get("name") == "FAILED")
    rerun = copy.deepcopy(failed)
    rerun["run_number"] = 2
    rerun["state"] = {"name": "COMPLETED", "type": "pipeline_state_completed",
                      "result": {"name": "SUCCESSFUL",
                                 "type": "pipeline_state_completed_successful"}}
    rerun["completed_on"] = "2026-11-30T09:00:00.000000Z"
    runs = fixtures / "acme/payments/pipelines/runs"
    runs.mkdir(exist_ok=True)
    (runs / "0001.json").write_text(json.dumps(rerun))
    new = copy.deepcopy(page["values"][0])
    new["uuid"] = "{00000000-0000-4000-8000-00000000d17a}"
    new["build_number"] = max(r["build_number"] for r in page["values"]) + 1
    new["created_on"] = "2026-11-30T08:00:00.000000Z"
    new["completed_on"] = "2026-11-30T08:10:00.000000Z"
    page["values"].insert(0, new)
    page_path.write_text(json.dumps(page))
    return fixtures, failed["uuid"], new["uuid"]


def check_incremental(binary, tmp, delta):
    """2. An incremental replay commits a new version with exactly the newest rows."""
    runs = delta / "pipeline_runs"
    before_version = deltalake.DeltaTable(str(runs)).version()
    before = delta_rows(runs)
    fixtures, rerun_uuid, new_uuid = rerun_fixtures(tmp, "demo-next")
    run(binary, "replay", fixtures, "--out", delta, "--rules", RULES)
    table = deltalake.DeltaTable(str(runs))
    check("[incremental] pipeline_runs has a new version", table.version(), before_version + 1)
    after = delta_rows(runs)
    check("[incremental] one row more (the new run)", len(after), len(before) + 1)
    keys = key_counts(runs, ["repo_uuid", "uuid"])
    check("[incremental] no key twice", max(keys.values()), 1)
    rerun = [r for r in after if r["uuid"] == rerun_uuid]
    check("[incremental] the re-run's newest version", [(r["run_number"], r["result"]) for r in rerun],
          [(2, "SUCCESSFUL")])
    check("[incremental] the new run", len([r for r in after if r["uuid"] == new_uuid]), 1)
    con = duck()
    columns = list(after[0].keys())
    check("[incremental] DuckDB reads the newest rows", duck_rows(con, runs, columns), after)
    check("[time travel] the previous version gives the previous rows",
          delta_rows(runs, version=before_version), before)
    history = deltalake.DeltaTable(str(runs)).history()
    check("[time travel] the log names bbpipe as the writer",
          all(h.get("engineInfo", "").startswith("bbpipe/") for h in history), True)
    replaced = [p for p in runs.rglob("*.parquet")
                if str(p.relative_to(runs)) not in set(table.file_uris()) and
                str(p) not in set(table.file_uris())]
    check("[incremental] replaced files are kept for older versions", len(replaced) > 0, True)
    return replaced


def check_rules_apply(binary, tmp):
    """`rules apply` after a rule changed: the deployments table's new version equals the same
    command's output in a Parquet dataset, and the previous version is still there."""
    renamed = tmp / "renamed-rules.toml"
    renamed.write_text(RULES.read_text().replace('name = "services-staging"',
                                                 'name = "services-stage"'))
    outs = {}
    for fmt in ("parquet", "delta"):
        out = tmp / f"rules-{fmt}"
        run(binary, "replay", DEMO, "--out", out, "--rules", RULES, "--format", fmt)
        run(binary, "rules", "apply", out, "--rules", renamed)
        outs[fmt] = out
    deployments = outs["delta"] / "deployments"
    rows = delta_rows(deployments)
    check("[rules apply] Delta deployments equal the Parquet dataset's after the change", rows,
          parquet_rows(outs["parquet"] / "deployments"))
    check("[rules apply] the renamed rule's deployments", any(r["rule"] == "services-stage"
                                                             for r in rows), True)
    table = deltalake.DeltaTable(str(deployments))
    check("[rules apply] the previous version keeps the old rule's name",
          any(r["rule"] == "services-staging"
              for r in delta_rows(deployments, version=table.version() - 1)), True)
    check("[rules apply] verify-output", verified(binary, outs["delta"]), True)


def check_checkpoints(binary, tmp):
    """A log past its 10th version is read from its checkpoint plus the later entries."""
    out = tmp / "many-versions"
    fixtures = tmp / "many-versions-fixtures"
    shutil.copytree(DEMO, fixtures)
    page_path = fixtures / "acme/payments/pipelines/page-0001.json"
    run(binary, "replay", fixtures, "--out", out, "--format", "delta")
    runs = out / "pipeline_runs"
    for n in range(12):
        page = json.loads(page_path.read_text())
        new = copy.deepcopy(page["values"][0])
        new["uuid"] = "{00000000-0000-4000-8000-%012d}" % n
        new["build_number"] = 200_000 + n
        page["values"].insert(0, new)
        page_path.write_text(json.dumps(page))
        run(binary, "replay", fixtures, "--out", out)
    table = deltalake.DeltaTable(str(runs))
    check("[checkpoints] 12 more versions", table.version(), 12)
    check("[checkpoints] a checkpoint of version 10",
          (runs / "_delta_log/00000000000000000010.checkpoint.parquet").exists(), True)
    total = len(parquet_rows(tmp / "demo-parquet" / "pipeline_runs")) + 12
    check("[checkpoints] deltalake reads every run once", len(delta_rows(runs)), total)
    check("[checkpoints] DuckDB too",
          duck().execute(f"SELECT count(DISTINCT uuid), count(*) FROM delta_scan('{runs}')")
          .fetchone(), (total, total))


def check_vacuum(binary, delta, replaced):
    """5. vacuum removes exactly the files no version's current state references, by age."""
    done = run(binary, "vacuum", delta, "--retain", "30m", expect=None)
    check("[vacuum] a retention below an hour needs --allow-short-retention", done.returncode, 1)
    done = run(binary, "vacuum", delta, "--retain", "1h")
    check("[vacuum] nothing is old enough with --retain 1h", all(p.exists() for p in replaced), True)
    current = {t: delta_rows(delta / t) for t in TABLES}
    run(binary, "vacuum", delta, "--retain", "0s", "--allow-short-retention", "--dry-run")
    check("[vacuum] --dry-run removes nothing", all(p.exists() for p in replaced), True)
    run(binary, "vacuum", delta, "--retain", "0s", "--allow-short-retention")
    check("[vacuum] unreferenced files removed", [p for p in replaced if p.exists()], [])
    for table in TABLES:
        check(f"[vacuum] {table}: the current version reads the same",
              delta_rows(delta / table), current[table])
    check("[vacuum] verify-output afterwards", verified(binary, delta), True)


def concurrent(binary, out, fixtures, env=None):
    procs = [subprocess.Popen([binary, "-q", "replay", str(f), "--out", out, "--format",
                               "delta", "--rules", str(RULES)],
                              env={**os.environ, **(env or {})},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for f in fixtures]
    outcomes = [(p.wait(), p.stderr.read()) for p in procs]
    for code, stderr in outcomes:
        if code != 0:
            print(stderr)
    return outcomes


def s3_env():
    endpoint = os.environ["BBPIPE_TEST_S3_ENDPOINT"]
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


def check_concurrent(binary, tmp):
    """3. Two workspaces, two processes, one Delta destination: local disk, then S3."""
    globex = tmp / "globex-fixtures"
    subprocess.run([sys.executable, ROOT / "scripts/gen_fixtures.py", "--out", globex,
                    "--workspace", "globex", "--runs", "3000", "--seed", "11", "--with", ""],
                   check=True, capture_output=True)
    counts = {}
    for name, fixtures in (("acme", DEMO), ("globex", globex)):
        alone = tmp / f"alone-{name}"
        run(binary, "replay", fixtures, "--out", alone, "--rules", RULES)
        counts[name] = {t: len(parquet_rows(alone / t)) for t in TABLES}
    local = tmp / "shared-delta"
    outcomes = concurrent(binary, str(local), [DEMO, globex])
    check("[concurrent, local] both writers commit", [code for code, _ in outcomes], [0, 0])
    con = duck()
    for table in TABLES:
        by_ws = {}
        for row in delta_rows(local / table):
            by_ws[row["workspace"]] = by_ws.get(row["workspace"], 0) + 1
        check(f"[concurrent, local] {table}: deltalake sees both workspaces",
              by_ws, {ws: counts[ws][table] for ws in counts})
        got = dict(con.execute(f"SELECT workspace, count(*) FROM delta_scan('{local / table}') "
                               "GROUP BY ALL").fetchall())
        check(f"[concurrent, local] {table}: DuckDB sees both workspaces",
              got, {ws: counts[ws][table] for ws in counts})
    check("[concurrent, local] verify-output", verified(binary, local), True)

    env = s3_env()
    bucket = f"delta-check-{os.getpid()}"
    urllib.request.urlopen(urllib.request.Request(f"{env['AWS_ENDPOINT_URL']}/{bucket}",
                                                  method="PUT")).read()
    dest = f"s3://{bucket}/lake"
    outcomes = concurrent(binary, dest, [DEMO, globex], env=env)
    check("[concurrent, S3] both writers commit", [code for code, _ in outcomes], [0, 0])
    storage = {"AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"], "AWS_ALLOW_HTTP": "true",
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_REGION": "us-east-1", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    copy_dir = tmp / "s3-copy"
    s3 = pafs.S3FileSystem(endpoint_override=env["AWS_ENDPOINT_URL"], access_key="test",
                           secret_key="test", region="us-east-1", scheme="http")
    pafs.copy_files(f"{bucket}/lake", str(copy_dir), source_filesystem=s3,
                    destination_filesystem=pafs.LocalFileSystem())
    for table in TABLES:
        by_ws = {}
        for row in delta_rows(f"{dest}/{table}", storage=storage):
            by_ws[row["workspace"]] = by_ws.get(row["workspace"], 0) + 1
        check(f"[concurrent, S3] {table}: deltalake reads both workspaces from S3",
              by_ws, {ws: counts[ws][table] for ws in counts})
        got = dict(con.execute(f"SELECT workspace, count(*) FROM "
                               f"delta_scan('{copy_dir / table}') GROUP BY ALL").fetchall())
        check(f"[concurrent, S3] {table}: DuckDB reads both workspaces (a copy of the bucket)",
              got, {ws: counts[ws][table] for ws in counts})
    check("[concurrent, S3] verify-output", verified(binary, dest, env), True)


def check_crash(binary, tmp):
    """4. kill -9 before the Delta commit leaves the current version as it was."""
    out = tmp / "crash"
    run(binary, "replay", DEMO, "--out", out, "--rules", RULES, "--format", "delta")
    fixtures, _, new_uuid = rerun_fixtures(tmp, "crash-fixtures")
    runs = out / "pipeline_runs"
    before = delta_rows(runs)
    version = deltalake.DeltaTable(str(runs)).version()
    for point, what in (("after-file:1", "after writing a data file"),
                        ("after-manifest", "after the manifest, before the Delta commit")):
        # A short lease: the killed run's lease lapses and the next one waits it out.
        done = run(binary, "replay", fixtures, "--out", out, "--rules", RULES, "--lease", "3s",
                   "--wait-lock", "30s", env={"BBPIPE_FAILPOINT": point}, expect=None)
        check(f"[kill -9 {what}] the process died", done.returncode < 0 or done.returncode > 128,
              True)
        check(f"[kill -9 {what}] the current version is unchanged",
              deltalake.DeltaTable(str(runs)).version(), version)
        check(f"[kill -9 {what}] and reads the same rows", delta_rows(runs), before)
        con = duck()
        check(f"[kill -9 {what}] DuckDB reads it too",
              con.execute(f"SELECT count(*) FROM delta_scan('{runs}')").fetchone()[0], len(before))
    run(binary, "replay", fixtures, "--out", out, "--rules", RULES, "--wait-lock", "30s")
    after = delta_rows(runs)
    check("[kill -9] the next run publishes: the new run is there",
          len([r for r in after if r["uuid"] == new_uuid]), 1)
    check("[kill -9] and nothing twice", max(key_counts(runs, ["repo_uuid", "uuid"]).values()), 1)
    check("[kill -9] verify-output afterwards", verified(binary, out), True)


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        delta = check_demo(binary, tmp)
        check_day(binary, tmp)
        replaced = check_incremental(binary, tmp, delta)
        check_vacuum(binary, delta, replaced)
        check_checkpoints(binary, tmp)
        check_rules_apply(binary, tmp)
        check_concurrent(binary, tmp)
        check_crash(binary, tmp)
    finish("delta")


if __name__ == "__main__":
    main()

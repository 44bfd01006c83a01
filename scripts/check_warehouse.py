#!/usr/bin/env python3
"""Loads bbpipe's output as warehouses do and checks types, counts and key uniqueness.

    python3 scripts/check_warehouse.py target/debug/bbpipe

Replays fixtures/demo with its deploy rules into a temporary directory, then reads the
Hive-partitioned tree with DuckDB and with pyarrow.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow.dataset as ds

ROOT = Path(__file__).resolve().parent.parent
results = {"passed": 0, "failed": 0}


def check(name, got, want):
    if got == want:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print(f"FAILED {name}: got {got!r}, want {want!r}")


def expected_runs():
    """Distinct runs in the demo pages, counted from the JSON itself."""
    seen = set()
    for page in (ROOT / "fixtures/demo").glob("*/*/pipelines/page-*.json"):
        for run in json.loads(page.read_text())["values"]:
            seen.add((run["repository"]["uuid"], run["uuid"]))
    return len(seen)


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        subprocess.run([binary, "-q", "replay", str(ROOT / "fixtures/demo"), "--out", str(out),
                        "--rules", str(ROOT / "fixtures/demo/deploy-rules.toml")], check=True)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")

        def scan(table):
            return f"read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)"

        types = {
            "pipeline_runs": {"created_at": "TIMESTAMP WITH TIME ZONE", "completed_at": "TIMESTAMP WITH TIME ZONE",
                              "created_date": "DATE", "workspace": "VARCHAR", "build_number": "BIGINT",
                              "first_successful": "BOOLEAN", "status": "VARCHAR"},
            "deployments": {"deployed_at": "TIMESTAMP WITH TIME ZONE", "deployed_date": "DATE",
                            "success": "BOOLEAN", "workspace": "VARCHAR"},
            "repositories": {"updated_at": "TIMESTAMP WITH TIME ZONE", "workspace": "VARCHAR",
                             "is_private": "BOOLEAN"},
        }
        for table, want in types.items():
            described = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {scan(table)}").fetchall()}
            for column, kind in want.items():
                check(f"duckdb {table}.{column} type", described.get(column), kind)

        runs = expected_runs()
        check("pipeline_runs rows", con.execute(f"SELECT count(*) FROM {scan('pipeline_runs')}").fetchone()[0], runs)
        check("pipeline_runs keys unique",
              con.execute(f"SELECT count(DISTINCT (repo_uuid, uuid)) FROM {scan('pipeline_runs')}").fetchone()[0], runs)
        check("created_date is the UTC date of created_at",
              con.execute(f"SELECT count(*) FROM {scan('pipeline_runs')} WHERE created_date <> CAST(created_at AS DATE)").fetchone()[0], 0)
        check("day-edge run stays on its day",
              con.execute(f"SELECT CAST(created_date AS VARCHAR) FROM {scan('pipeline_runs')} "
                          "WHERE created_at = TIMESTAMPTZ '2026-03-31 23:59:59.999999+00'").fetchone(), ("2026-03-31",))
        statuses = {r[0] for r in con.execute(f"SELECT DISTINCT status FROM {scan('pipeline_runs')}").fetchall()}
        check("statuses", statuses, {"success", "failure", "cancelled", "running", "unknown"})
        deployments = con.execute(f"SELECT count(*), count(DISTINCT reference_id) FROM {scan('deployments')}").fetchone()
        check("deployment keys unique", deployments[0], deployments[1])
        check("deployments exist", deployments[0] > 0, True)
        check("deployed_date is the UTC date of deployed_at",
              con.execute(f"SELECT count(*) FROM {scan('deployments')} WHERE deployed_date <> CAST(deployed_at AS DATE)").fetchone()[0], 0)
        check("repositories", con.execute(f"SELECT count(*) FROM {scan('repositories')}").fetchone()[0], 9)

        dataset = ds.dataset(out / "pipeline_runs", format="parquet", partitioning="hive")
        check("pyarrow rows", dataset.count_rows(), runs)
        check("pyarrow created_at type", str(dataset.schema.field("created_at").type), "timestamp[us, tz=UTC]")
        check("pyarrow schema version",
              dataset.schema.metadata.get(b"bbpipe.schema_version") if dataset.schema.metadata else None, b"1")

    print(f"warehouse: {results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()

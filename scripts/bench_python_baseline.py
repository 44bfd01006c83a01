#!/usr/bin/env python3
"""What a user might write instead of bbpipe: json + pyarrow, the same Hive-partitioned dataset.

    python3 scripts/bench_python_baseline.py FIXTURES OUT

Reads every repositories and pipelines page of a fixture directory, maps the runs to the same
pipeline_runs columns (status normalized, timestamps truncated to microseconds, UTC), and writes
pipeline_runs/workspace=.../created_month=YYYY-MM/ (bbpipe's default layout) and
repositories/workspace=.../ with zstd. It is a
fair, straightforward script, not a strawman: one pass, columnar output, pyarrow doing the writing.
"""

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds


def micros(text):
    if text is None:
        return None
    main, zone = (text[:-1], "+00:00") if text.endswith("Z") else (text[:-6], text[-6:])
    seconds, _, fraction = main.partition(".")
    whole = datetime.fromisoformat(seconds + zone)
    return int(whole.timestamp()) * 1_000_000 + int((fraction[:6]).ljust(6, "0"))


def status(state, result):
    if state == "COMPLETED":
        return {"SUCCESSFUL": "success", "FAILED": "failure", "ERROR": "failure",
                "STOPPED": "cancelled", "EXPIRED": "cancelled"}.get(result, "unknown")
    return "running" if state in ("PENDING", "PARSING", "IN_PROGRESS") else "unknown"


COLUMNS = ["workspace", "repository", "repo_slug", "repo_uuid", "uuid", "build_number", "run_number", "name",
           "selector_type", "selector_pattern", "status", "state", "result", "stage", "trigger", "target_type",
           "ref_type", "ref_name", "commit_sha", "pr_id", "pr_source_branch", "pr_destination_branch",
           "creator_uuid", "creator_account_id", "creator_display_name", "created_at", "completed_at",
           "duration_seconds", "build_seconds_used", "first_successful", "expired", "has_variables", "url",
           "exported_at", "created_month"]


def main():
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    recorded = json.loads((root / "recording.json").read_text())["recorded_at"]
    exported = micros(recorded)
    cols = {c: [] for c in COLUMNS}
    repos = []
    for ws_dir in sorted(p for p in root.iterdir() if (p / "repositories").is_dir()):
        ws = ws_dir.name
        for page in sorted((ws_dir / "repositories").glob("page-*.json")):
            for r in json.loads(page.read_text())["values"]:
                repos.append({"workspace": ws, "uuid": r["uuid"], "slug": r["slug"], "name": r.get("name"),
                              "full_name": r["full_name"], "updated_at": micros(r.get("updated_on"))})
        for page in sorted(ws_dir.glob("*/pipelines/page-*.json")):
            slug = page.parent.parent.name
            for run in json.loads(page.read_text())["values"]:
                st = run.get("state") or {}
                target = run.get("target") or {}
                sel = target.get("selector") or {}
                trig = run.get("trigger") or {}
                creator = run.get("creator") or {}
                created = micros(run["created_on"])
                values = {
                    "workspace": ws, "repository": f"{ws}/{slug}", "repo_slug": slug,
                    "repo_uuid": (run.get("repository") or {}).get("uuid"), "uuid": run["uuid"],
                    "build_number": run["build_number"], "run_number": run.get("run_number"),
                    "name": "default" if sel.get("type") == "default" else sel.get("pattern"),
                    "selector_type": sel.get("type"), "selector_pattern": sel.get("pattern"),
                    "status": status(st.get("name"), (st.get("result") or {}).get("name")),
                    "state": st.get("name"), "result": (st.get("result") or {}).get("name"),
                    "stage": (st.get("stage") or {}).get("name"), "trigger": trig.get("name") or trig.get("type"),
                    "target_type": target.get("type"), "ref_type": target.get("ref_type"),
                    "ref_name": target.get("ref_name") or target.get("source"),
                    "commit_sha": (target.get("commit") or {}).get("hash"),
                    "pr_id": (target.get("pullrequest") or {}).get("id") or (target.get("pullrequest_ids") or [None])[0],
                    "pr_source_branch": target.get("source"),
                    "pr_destination_branch": target.get("destination") or target.get("target_branch"),
                    "creator_uuid": creator.get("uuid"), "creator_account_id": creator.get("account_id"),
                    "creator_display_name": creator.get("display_name"),
                    "created_at": created, "completed_at": micros(run.get("completed_on")),
                    "duration_seconds": run.get("duration_in_seconds"),
                    "build_seconds_used": run.get("build_seconds_used"),
                    "first_successful": run.get("first_successful"), "expired": run.get("expired"),
                    "has_variables": run.get("has_variables"),
                    "url": f"https://bitbucket.org/{ws}/{slug}/pipelines/results/{run['build_number']}",
                    "exported_at": exported,
                    "created_month": datetime.fromtimestamp(created // 1_000_000, timezone.utc).strftime("%Y-%m"),
                }
                for c in COLUMNS:
                    cols[c].append(values[c])
    ts = pa.timestamp("us", tz="UTC")
    types = {"build_number": pa.int64(), "run_number": pa.int64(), "pr_id": pa.int64(), "created_at": ts,
             "completed_at": ts, "exported_at": ts, "duration_seconds": pa.int64(),
             "build_seconds_used": pa.int64(), "first_successful": pa.bool_(), "expired": pa.bool_(),
             "has_variables": pa.bool_()}
    table = pa.table({c: pa.array(cols[c], type=types.get(c, pa.string())) for c in COLUMNS})
    table = table.sort_by("created_at")
    fmt = ds.ParquetFileFormat().make_write_options(compression="zstd")
    ds.write_dataset(table, out / "pipeline_runs", format="parquet", file_options=fmt,
                     partitioning=["workspace", "created_month"], partitioning_flavor="hive",
                     max_partitions=100_000, existing_data_behavior="overwrite_or_ignore")
    repo_table = pa.Table.from_pylist(repos)
    ds.write_dataset(repo_table, out / "repositories", format="parquet", file_options=fmt,
                     partitioning=["workspace"], partitioning_flavor="hive",
                     existing_data_behavior="overwrite_or_ignore")
    print(json.dumps({"runs": table.num_rows}))


if __name__ == "__main__":
    main()

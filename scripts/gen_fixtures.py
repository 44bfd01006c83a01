#!/usr/bin/env python3
"""Deterministic generator of recorded Bitbucket Cloud pages in bbpipe's fixture layout.

    python3 scripts/gen_fixtures.py --out fixtures/demo                 # the bundled demo
    python3 scripts/gen_fixtures.py --out /tmp/big --repos 40 --runs 1000000 --seed 7

With `--with steps,environments` (the default) it also writes the steps of the runs of the last
30 days (GET .../pipelines/{uuid}/steps, secrets and all, as Bitbucket sends them), each
repository's environments and Bitbucket's own deployments (newest first). With `tests` (also a
default) the test reports an export with `--with tests` reads: those of failed test steps and the
passing cases of a later attempt or run of the same commit, including a flaky test across a
re-run (whose steps page then lists both attempts) and across two runs of one commit, errors,
skipped tests and a failed test step that published no report.

The pages look like what GET /2.0/repositories/{ws} and .../pipelines?sort=-created_on&pagelen=100
return (see ../shared/bitbucket-api-notes.md), quirks included: absent (not null) fields, 3 to 9
fractional digits, `Z` and `+00:00`, `next` links that drop `sort`, a repeated run where a new run
arrived between two page requests, every state, result, stage, target and trigger variant, and
some that Bitbucket may add tomorrow. The same arguments always give the same bytes.
"""

import argparse
import json
import os
import random
import shutil
import uuid
from datetime import datetime, timedelta, timezone

API = "https://api.bitbucket.org/2.0"
PAGELEN = 100
START = datetime(2026, 1, 5, 8, 0, 0, tzinfo=timezone.utc)
END = datetime(2026, 11, 20, 18, 0, 0, tzinfo=timezone.utc)
RECORDED_AT = "2026-11-21T06:00:00Z"

# slug, language, project, share of runs, what kind of pipelines it runs
DEMO_REPOS = [
    ("web-app", "typescript", "WEB", 0.20, "service"),
    ("api-service", "rust", "PLAT", 0.18, "service"),
    ("payments", "java", "PLAT", 0.16, "service"),
    ("mobile-ios", "swift", "MOB", 0.12, "mobile"),
    ("data-pipelines", "python", "DATA", 0.12, "monorepo"),
    ("infra-terraform", "", "PLAT", 0.10, "infra"),
    ("legacy-monolith", "php", "WEB", 0.08, "legacy"),
    ("docs-site", "", "WEB", 0.04, "docs"),
    ("empty-repo", "", "PLAT", 0.0, "empty"),
]

BRANCHES = [
    "main", "main", "main", "develop", "feature/JIRA-123-add-login", "feature/checkout/v2",
    "bugfix/ümlaut-fix", "release/2026.03", "feat/日本語-サポート", "hotfix/emoji-🚀",
    "renovate/serde-1.x",
]
USERS = [
    ("{0b7a1c2e-1111-4a8e-9f00-000000000001}", "557058:aa11", "Ada Lovelace", "ada"),
    ("{0b7a1c2e-2222-4a8e-9f00-000000000002}", "557058:bb22", "Grace Hopper", "grace"),
    ("{0b7a1c2e-3333-4a8e-9f00-000000000003}", "62abf394192edb006fa0e8cf", "Linus Ŧorvalds", "linus"),
    ("{0b7a1c2e-4444-4a8e-9f00-000000000004}", "557058:dd44", "Renovate Bot", "renovate-bot"),
]


def braces(rng):
    return "{%s}" % uuid.UUID(int=rng.getrandbits(128), version=4)


def stamp(moment, rng, digits=None, suffix=None):
    """RFC 3339 with 3, 5, 6 or 9 fractional digits and `Z` or `+00:00`, as Bitbucket varies."""
    digits = digits if digits is not None else rng.choice([3, 5, 6, 6, 6, 9])
    suffix = suffix or rng.choice(["Z", "+00:00"])
    nanos = moment.microsecond * 1000 + rng.randrange(1000)
    fraction = ("%09d" % nanos)[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + "." + fraction + suffix


def commit(rng, ws, slug, short=False):
    sha = "%040x" % rng.getrandbits(160)
    sha = sha[:12] if short else sha
    return {
        "type": "commit",
        "hash": sha,
        "links": {
            "self": {"href": "%s/repositories/%s/%s/commit/%s" % (API, ws, slug, sha)},
            "html": {"href": "https://bitbucket.org/%s/%s/commits/%s" % (ws, slug, sha)},
        },
    }


def user(rng):
    uid, account, name, nick = rng.choice(USERS)
    return {"type": "user", "uuid": uid, "account_id": account, "display_name": name, "nickname": nick}


def state_for(rng, kind, age_days, forced=None):
    """Completed runs mostly; recent ones may still be pending, parsing or in progress."""
    choice = forced
    if choice is None:
        if age_days < 3 and rng.random() < 0.35:
            choice = rng.choice(["PENDING", "PARSING", "RUNNING", "RUNNING", "PAUSED", "HALTED"])
        else:
            choice = rng.choices(
                ["SUCCESSFUL", "FAILED", "ERROR", "STOPPED", "EXPIRED", "PAUSED"],
                weights=[78, 12, 2, 4, 1, 1] if kind != "legacy" else [55, 30, 5, 5, 3, 2],
            )[0]
    if choice in ("PENDING", "PARSING"):
        return {"name": choice, "type": "pipeline_state_%s" % choice.lower()}
    if choice in ("RUNNING", "PAUSED", "HALTED"):
        return {
            "name": "IN_PROGRESS",
            "type": "pipeline_state_in_progress",
            "stage": {"name": choice, "type": "pipeline_state_in_progress_%s" % choice.lower()},
        }
    if choice == "UNKNOWN_STATE":
        return {"name": "QUEUED_BY_POLICY", "type": "pipeline_state_queued_by_policy"}
    if choice == "UNKNOWN_RESULT":
        choice = "SKIPPED_BY_POLICY"
    result = {"name": choice, "type": "pipeline_state_completed_%s" % choice.lower()}
    if choice == "ERROR":
        result["error"] = {"type": "pipeline_error", "key": "agent.build.time-limit-exceeded",
                           "message": "Step exceeded the maximum time"}
    if choice == "STOPPED":
        result["terminator"] = user(rng)
    return {"name": "COMPLETED", "type": "pipeline_state_completed", "result": result}


def target_for(rng, ws, slug, kind, forced=None):
    """Returns (target, trigger) for a repository's kind of pipelines."""
    push = {"name": "PUSH", "type": "pipeline_trigger_push"}
    manual = {"name": "MANUAL", "type": "pipeline_trigger_manual"}
    schedule = {"name": "SCHEDULE", "type": "pipeline_trigger_schedule"}
    choices = {
        "service": ["branch"] * 50 + ["default"] * 10 + ["pr"] * 20 + ["prod"] * 8 + ["staging"] * 10 + ["tag"] * 2,
        "mobile": ["branch"] * 30 + ["pr"] * 25 + ["mq"] * 15 + ["tag"] * 10 + ["custom-release"] * 10 + ["default"] * 10,
        "monorepo": ["branch"] * 30 + ["default"] * 10 + ["pr"] * 20 + ["prod"] * 10 + ["staging"] * 10 + ["commit"] * 5 + ["schedule"] * 15,
        "infra": ["branch"] * 30 + ["plan"] * 30 + ["apply"] * 20 + ["schedule"] * 20,
        "legacy": ["default"] * 50 + ["noselector"] * 25 + ["bookmark"] * 5 + ["named"] * 5 + ["branch"] * 15,
        "docs": ["default"] * 70 + ["pr"] * 30,
    }[kind]
    what = forced or rng.choice(choices)
    branch = rng.choice(BRANCHES)
    def ref(ref_type, name, selector, trigger=push):
        target = {"type": "pipeline_ref_target", "ref_type": ref_type, "ref_name": name,
                  "commit": commit(rng, ws, slug)}
        if selector is not None:
            target["selector"] = selector
        return target, trigger

    if what == "branch":
        pattern = branch if branch in ("main", "develop") else branch.split("/")[0] + "/*"
        return ref("branch", branch, {"type": "branches", "pattern": pattern})
    if what == "default":
        return ref("branch", branch, {"type": "default"})
    if what == "tag":
        return ref("tag", "v%d.%d.%d" % (rng.randrange(1, 4), rng.randrange(20), rng.randrange(10)),
                   {"type": "tags", "pattern": "v*"})
    if what == "prod":
        return ref("branch", "main", {"type": "custom", "pattern": "deploy-to-production"}, manual)
    if what == "staging":
        return ref("branch", rng.choice(["main", "develop"]), {"type": "custom", "pattern": "deploy-staging"}, manual)
    if what == "custom-release":
        return ref("branch", "main", {"type": "custom", "pattern": "release-to-app-store"}, manual)
    if what == "plan":
        return ref("branch", branch, {"type": "custom", "pattern": "terraform-plan"}, manual)
    if what == "apply":
        return ref("branch", "main", {"type": "custom", "pattern": "terraform-apply-production"}, manual)
    if what == "schedule":
        return ref("branch", "main", {"type": "custom", "pattern": "nightly-e2e"}, schedule)
    if what == "noselector":  # bitbucket-pipelines.yml failed to parse
        return ref("branch", branch, None)
    if what == "bookmark":
        return ref("bookmark", "stable", {"type": "bookmarks", "pattern": "stable"})
    if what == "named":
        return ref("named_branch", "default", {"type": "default"})
    if what == "commit":
        return ({"type": "pipeline_commit_target", "commit": commit(rng, ws, slug),
                      "selector": {"type": "custom", "pattern": "backfill-warehouse"}}), manual
    if what == "pr":
        pr_id = rng.randrange(1, 900)
        return ({
            "type": "pipeline_pullrequest_target",
            "source": branch if branch != "main" else "feature/JIRA-9-tidy",
            "destination": rng.choice(["main", "main", "develop"]),
            "destination_commit": commit(rng, ws, slug, short=True),
            "commit": commit(rng, ws, slug),
            "pullrequest": {"type": "pullrequest", "id": pr_id, "title": "Change #%d" % pr_id, "draft": False},
            "selector": {"type": "pull-requests", "pattern": "**"},
        }), push
    if what == "mq":
        pr_id = rng.randrange(1, 900)
        return ({
            "type": "pipeline_merge_queue_ref_target",
            "ref_type": "branch",
            "ref_name": "bitbucket-merge-queue-%d" % pr_id,
            "target_branch": "main",
            "pullrequest_ids": [pr_id],
            "commit": commit(rng, ws, slug),
            "selector": {"type": "merge-queues", "pattern": "mergequeue-main"},
        }), push
    if what == "future-target":  # a target type Bitbucket has not documented yet
        return {"type": "pipeline_release_train_target", "ref_name": "train-42",
                "commit": commit(rng, ws, slug), "selector": {"type": "custom", "pattern": "release-train"}}, manual
    raise ValueError(what)


def make_run(rng, ws, repo, build_number, created, forced=None):
    slug, repo_uuid, kind = repo["slug"], repo["uuid"], repo["kind"]
    forced = forced or {}
    age_days = (END - created).total_seconds() / 86400
    state = state_for(rng, kind, age_days, forced.get("state"))
    target, trigger = target_for(rng, ws, slug, kind, forced.get("target"))
    if "trigger" in forced:
        trigger = forced["trigger"]
    run_uuid = braces(rng)
    duration = rng.randrange(20, 1800)
    run = {
        "type": "pipeline",
        "uuid": run_uuid,
        "repository": {"type": "repository", "full_name": "%s/%s" % (ws, slug), "name": slug, "uuid": repo_uuid,
                       "links": {"html": {"href": "https://bitbucket.org/%s/%s" % (ws, slug)}}},
        "state": state,
        "build_number": build_number,
        "creator": user(rng),
        "created_on": forced.get("created_on") or stamp(created, rng),
        "target": target,
        "trigger": trigger,
        "run_number": forced.get("run_number", rng.choices([1, 2, 3], weights=[92, 6, 2])[0]),
        "duration_in_seconds": duration,
        "build_seconds_used": duration * rng.choice([1, 1, 2, 3]) + rng.randrange(30),
        "first_successful": False,
        "expired": state.get("result", {}).get("name") == "EXPIRED",
        "links": {
            "self": {"href": "http://bitbucket-pipelines.prod.public.atl-paas.net//rest/1.0/accounts/%s/repositories/%s/pipelines/%s"
                     % (USERS[0][0], repo_uuid, run_uuid)},
            "steps": {"href": ""},
        },
        "has_variables": rng.random() < 0.1,
    }
    if trigger.get("name") == "SCHEDULE" and rng.random() < 0.5:
        del run["creator"]  # scheduled runs may have no creator
    if state["name"] == "COMPLETED":
        end = created + timedelta(seconds=duration, microseconds=rng.randrange(10**6))
        run["completed_on"] = forced.get("completed_on") or stamp(end, rng)
    return run


# Variants forced into the demo so that every one is there whatever the seed does.
DEMO_SPECIALS = {
    "web-app": [
        {"state": "SUCCESSFUL", "target": "prod", "run_number": 3},
        {"state": "FAILED", "target": "prod"},
        {"state": "PENDING", "target": "branch"},
        {"state": "PARSING", "target": "default"},
        {"state": "RUNNING", "target": "pr"},
        {"state": "PAUSED", "target": "prod"},
        {"state": "HALTED", "target": "staging"},
        # the last microsecond of a day must stay in that day's partition
        {"state": "SUCCESSFUL", "target": "default", "created_on": "2026-03-31T23:59:59.999999999Z"},
        {"state": "SUCCESSFUL", "target": "branch", "created_on": "2026-04-01T00:00:00Z",
         "completed_on": "2026-04-01T00:05:00.12345+00:00"},
    ],
    "api-service": [
        {"state": "ERROR", "target": "staging"},
        {"state": "STOPPED", "target": "prod"},
        {"state": "EXPIRED", "target": "branch"},
        {"state": "UNKNOWN_STATE", "target": "default"},
        {"state": "UNKNOWN_RESULT", "target": "branch"},
        {"state": "SUCCESSFUL", "target": "future-target"},
        {"state": "SUCCESSFUL", "target": "branch",
         "trigger": {"type": "pipeline_trigger_webhook"}},  # unknown trigger, no name
        {"state": "SUCCESSFUL", "target": "default",
         "trigger": {"name": "PARENT_STEP", "type": "pipeline_trigger_parent_step"}},
    ],
    "mobile-ios": [
        {"state": "SUCCESSFUL", "target": "mq"},
        {"state": "FAILED", "target": "mq"},
        {"state": "SUCCESSFUL", "target": "tag"},
        {"state": "RUNNING", "target": "mq"},
    ],
    "data-pipelines": [
        {"state": "SUCCESSFUL", "target": "commit"},
        {"state": "SUCCESSFUL", "target": "schedule"},
        {"state": "SUCCESSFUL", "target": "prod"},
    ],
    "infra-terraform": [
        {"state": "SUCCESSFUL", "target": "apply"},
        {"state": "FAILED", "target": "apply"},
        {"state": "SUCCESSFUL", "target": "schedule"},
    ],
    "legacy-monolith": [
        {"state": "FAILED", "target": "noselector"},
        {"state": "SUCCESSFUL", "target": "bookmark"},
        {"state": "SUCCESSFUL", "target": "named"},
    ],
}


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, separators=(",", ":"))


def repositories_page(ws, repos, rng):
    values = []
    for repo in repos:
        created = START - timedelta(days=rng.randrange(30, 2000))
        values.append({
            "type": "repository",
            "full_name": "%s/%s" % (ws, repo["slug"]),
            "links": {"html": {"href": "https://bitbucket.org/%s/%s" % (ws, repo["slug"])}},
            "name": repo["slug"].replace("-", " ").title(),
            "slug": repo["slug"],
            "description": "The %s — maintained by the platform team" % repo["slug"],
            "scm": "git",
            "website": None,
            "owner": {"type": "team", "display_name": ws.title(), "uuid": "{%s}" % uuid.UUID(int=7)},
            "workspace": {"type": "workspace", "slug": ws, "name": ws.title(), "uuid": "{%s}" % uuid.UUID(int=7)},
            "is_private": repo["slug"] != "docs-site",
            "project": {"type": "project", "key": repo["project"], "name": repo["project"].title() + " team",
                        "uuid": "{%s}" % uuid.UUID(int=len(repo["project"]))},
            "fork_policy": "no_public_forks",
            "created_on": stamp(created, rng, digits=6, suffix="+00:00"),
            "updated_on": stamp(END - timedelta(days=rng.randrange(0, 30)), rng, digits=6, suffix="+00:00"),
            "size": rng.randrange(10**5, 10**9),
            "language": repo["language"],
            "has_issues": False,
            "has_wiki": False,
            "uuid": repo["uuid"],
            "mainbranch": {"name": "main", "type": "branch"},
        })
    return values


def write_pipelines(root, ws, repo, runs, drift):
    """Pages newest first, as sort=-created_on returns them. With `drift`, a new run arrived
    after page 1 was fetched, so every later page starts with the previous page's last run."""
    slug = repo["slug"]
    runs = sorted(runs, key=lambda r: r["build_number"], reverse=True)
    total = len(runs)
    base = "%s/repositories/%s/%s/pipelines/" % (API, ws, slug)
    shift = 1 if drift else 0
    pages = [runs[:PAGELEN]]
    while len(pages) * PAGELEN < total + shift:
        start = len(pages) * PAGELEN - shift
        pages.append(runs[start:start + PAGELEN])
    for number, chunk in enumerate(pages, start=1):
        page = {"page": number, "pagelen": PAGELEN, "size": total + (1 if drift and number > 1 else 0),
                "values": chunk}
        if number < len(pages):
            page["next"] = "%s?page=%d&pagelen=%d" % (base, number + 1, PAGELEN)  # sort dropped
        write_json(os.path.join(root, ws, slug, "pipelines", "page-%04d.json" % number), page)


STEPS_DAYS = 30
# Where each custom pipeline deploys to: (environment type, step name).
DEPLOYS = {
    "deploy-to-production": ("Production", "Deploy to production"),
    "deploy-staging": ("Staging", "Deploy to staging"),
    "terraform-apply-production": ("Production", "terraform apply"),
    "release-to-app-store": ("Production", "Upload to App Store"),
}
# Fake secrets, as Bitbucket returns them on steps: none may reach a dataset or a recording.
IMAGE_SECRET = {"username": "fixture-registry-bot", "password": "fixture-secret-hunter2",
                "email": "fixture-bot@acme.example"}
CLONE = ("retry 6 git clone --branch=\"main\" --depth 50 "
         "https://x-token-auth:{access_token}@bitbucket.org/$BITBUCKET_REPO_FULL_NAME.git $BUILD_DIR")


def environments_of(rng, repo):
    """Bitbucket's three default environments; payments renamed its production one."""
    envs = []
    for rank, kind in enumerate(["Test", "Staging", "Production"]):
        name = "Prod-EU" if (kind == "Production" and repo["slug"] == "payments") else kind
        envs.append({
            "uuid": braces(rng), "name": name, "type": "deployment_environment",
            "slug": name.lower(), "category": {"name": kind},
            "restrictions": {"admin_only": kind == "Production", "type": "deployment_restrictions_configuration"},
            "environment_lock_enabled": True,
            "lock": {"type": "deployment_environment_lock_open", "name": "OPEN"},
            "deployment_gate_enabled": False, "rank": rank,
            "hidden": kind == "Test" and repo["slug"] == "web-app",
            "environment_type": {"name": kind, "type": "deployment_environment_type", "rank": rank},
        })
    return envs


def step_plan(rng, repo, run):
    """The names of a run's steps, and which deploys where (None: no deploy step)."""
    selector = run.get("target", {}).get("selector", {})
    deploy = DEPLOYS.get(selector.get("pattern")) if selector.get("type") == "custom" else None
    if repo["kind"] == "docs":
        names = [None]  # an unnamed step
    elif repo["kind"] == "infra":
        names = ["terraform init", "terraform plan"]
    else:
        names = ["Build", "Unit tests", "Lint", "Integration tests"]
    if deploy:
        names = names[:2] + [deploy[1]]
    return names, deploy


def make_steps(rng, repo, run, envs):
    """Steps of the run's latest attempt, consistent with its state; the deploy step, if any,
    and what Bitbucket records as its deployment."""
    names, deploy = step_plan(rng, repo, run)
    state = run["state"]
    kind = state.get("result", {}).get("name") or state.get("stage", {}).get("name") or state["name"]
    created = datetime.fromisoformat(run["created_on"][:19] + "+00:00")
    at = created + timedelta(seconds=rng.randrange(3, 40))
    stop = rng.randrange(len(names))  # where a failure, a stop or progress happens
    steps, deployment = [], None
    for index, name in enumerate(names):
        is_deploy = deploy is not None and index == len(names) - 1
        step = {"type": "pipeline_step", "uuid": braces(rng),
                "pipeline": {"type": "pipeline", "uuid": run["uuid"]},
                "run_number": run.get("run_number", 1),
                "trigger": {"type": "pipeline_step_trigger_automatic"},
                "image": {"name": rng.choice(["atlassian/default-image:4", "node:20", "rust:1.83", "python:3.12"])},
                "setup_commands": [{"commandType": "user", "name": "clone", "command": CLONE}],
                "script_commands": [{"commandType": "user", "name": "build",
                                     "command": "curl -H \"Authorization: Bearer $FIXTURE_SCRIPT_TOKEN\" https://deploy.acme.example"}],
                "teardown_commands": [{"commandType": "system", "name": "Process Test Reports",
                                       "command": "echo processing test reports"}],
                "state": None}
        if name is not None:
            step["name"] = name
        if rng.random() < 0.3:
            step["image"].update(IMAGE_SECRET)  # a private registry
        if rng.random() < 0.5:
            step["maxTime"] = rng.choice([30, 60, 120])
        if rng.random() < 0.2:
            step["size"] = rng.choice(["2x", "4x"])
            step["resource_limits"] = {"cpu_limit_in_millicores": 8000, "memory_limit_in_megabytes": 8192}
        if is_deploy and run.get("trigger", {}).get("name") == "MANUAL":
            step["trigger"] = {"type": "pipeline_step_trigger_manual"}
        if is_deploy and run.get("run_number", 1) > 1:
            step["trigger"] = {"type": "pipeline_step_trigger_redeploy"}
        if name == "Lint" and index < len(names) - 1:
            step["parallel_group"] = {"group_name": "Checks"}

        def done(result):
            nonlocal at
            seconds = rng.randrange(5, 400)
            step["started_on"] = stamp(at, rng)
            step["completed_on"] = stamp(at + timedelta(seconds=seconds), rng)
            step["duration_in_seconds"] = seconds
            step["build_seconds_used"] = seconds * (2 if step.get("size") == "2x" else 1)
            step["state"] = {"type": "pipeline_step_state_completed", "name": "COMPLETED",
                             "result": {"name": result, "type": "pipeline_step_state_completed_%s" % result.lower()}}
            at = at + timedelta(seconds=seconds + rng.randrange(1, 20))

        def waiting(name_, started=False):
            step["state"] = {"type": "pipeline_step_state_%s" % name_.lower(), "name": name_}
            if started:
                step["started_on"] = stamp(at, rng)

        def not_run():
            step["state"] = {"type": "pipeline_step_state_completed", "name": "COMPLETED",
                             "result": {"name": "NOT_RUN", "type": "pipeline_step_state_completed_not_run"}}

        if kind == "SUCCESSFUL":
            if name == "Integration tests" and rng.random() < 0.3:
                step["state"] = {"type": "pipeline_step_state_completed", "name": "COMPLETED",
                                 "result": {"name": "SKIPPED", "type": "pipeline_step_state_completed_skipped"}}
            else:
                done("SUCCESSFUL")
        elif kind in ("FAILED", "ERROR", "STOPPED"):
            if index < stop:
                done("SUCCESSFUL")
            elif index == stop:
                done(kind)
            else:
                not_run()
        elif kind == "EXPIRED":
            not_run() if index else done("EXPIRED")
        elif kind in ("RUNNING", "HALTED"):
            if index < stop:
                done("SUCCESSFUL")
            elif index == stop:
                waiting("IN_PROGRESS" if kind == "RUNNING" else "HALTED", started=True)
            else:
                waiting("PENDING")
        elif kind == "PAUSED":
            if index < len(names) - 1:
                done("SUCCESSFUL")
            else:
                step["trigger"] = {"type": "pipeline_step_trigger_manual"}
                waiting("READY")
        else:  # pending, parsing, states Bitbucket may add
            waiting("PENDING")
        if is_deploy and "started_on" in step:
            env = next(e for e in envs if e["environment_type"]["name"] == deploy[0])
            step["environment"] = {"uuid": env["uuid"]}
            result = step["state"].get("result", {}).get("name")
            deployment = {
                "type": "deployment", "uuid": braces(rng), "key": "steps-%s" % step["uuid"],
                "environment": {"uuid": env["uuid"]}, "step": {"uuid": step["uuid"]},
                "deployable": {"type": "deployment_release", "uuid": braces(rng),
                               "pipeline": {"uuid": run["uuid"], "type": "pipeline"},
                               "key": "pipelines-%s" % run["uuid"], "name": "#%d" % run["build_number"],
                               "commit": {"type": "commit", "hash": run["target"]["commit"]["hash"]},
                               "created_on": run["created_on"]},
                "state": {"type": "deployment_state_in_progress", "name": "IN_PROGRESS",
                          "started_on": step["started_on"]},
                "version": 1,
                "last_update_time": step.get("completed_on", step["started_on"]),
            }
            if result is not None:
                status = {"SUCCESSFUL": "SUCCESSFUL", "STOPPED": "STOPPED"}.get(result, "FAILED")
                deployment["state"] = {"type": "deployment_state_completed", "name": "COMPLETED",
                                       "status": {"name": status, "type": "deployment_state_completed_%s" % status.lower()},
                                       "started_on": step["started_on"], "completed_on": step["completed_on"]}
                deployment["version"] = 2
        steps.append({k: v for k, v in step.items() if v is not None})
    return steps, deployment


def write_extras(root, ws, repo, runs, rng, with_steps):
    """Environments, Bitbucket's deployments (newest first, undeployed when a later one
    succeeded) and, with `with_steps`, the steps of the runs of the last STEPS_DAYS days;
    returns those steps by run uuid."""
    slug = repo["slug"]
    envs = environments_of(rng, repo)
    write_json(os.path.join(root, ws, slug, "environments", "page-0001.json"),
               {"page": 1, "pagelen": PAGELEN, "size": len(envs), "values": envs})
    horizon = END - timedelta(days=STEPS_DAYS)
    deployments = []
    written = {}
    for run in runs:
        steps, deployment = make_steps(rng, repo, run, envs)
        if deployment:
            deployments.append(deployment)
        created = datetime.fromisoformat(run["created_on"][:19] + "+00:00")
        if with_steps and created >= horizon:
            write_json(os.path.join(root, ws, slug, "pipelines", "steps", run["uuid"].strip("{}"), "page-0001.json"),
                       {"page": 1, "pagelen": PAGELEN, "size": len(steps), "values": steps})
            written[run["uuid"]] = steps
    # A later successful deployment to an environment undeploys the one before it.
    newest = {}
    for d in sorted(deployments, key=lambda d: d["state"]["started_on"]):
        if d["state"].get("status", {}).get("name") != "SUCCESSFUL":
            continue
        before = newest.get(d["environment"]["uuid"])
        if before is not None:
            before["state"]["name"] = "UNDEPLOYED"
            before["state"]["type"] = "deployment_state_undeployed"
            before["last_update_time"] = d["state"]["completed_on"]
            before["version"] += 1
        newest[d["environment"]["uuid"]] = d
    deployments.sort(key=lambda d: d["state"]["started_on"], reverse=True)
    base = "%s/repositories/%s/%s/deployments/" % (API, ws, slug)
    pages = [deployments[n:n + PAGELEN] for n in range(0, len(deployments), PAGELEN)] or [[]]
    for number, chunk in enumerate(pages, start=1):
        page = {"page": number, "pagelen": PAGELEN, "size": len(deployments), "values": chunk}
        if number < len(pages):
            page["next"] = "%s?page=%d&pagelen=%d" % (base, number + 1, PAGELEN)
        write_json(os.path.join(root, ws, slug, "deployments", "page-%04d.json" % number), page)
    return written


# Steps that run tests and publish a report (a failed "Build" publishes none: a 404).
TEST_STEPS = ("Unit tests", "Integration tests")
SUITE = ["Checkout", "Session", "Payment", "Search", "Profile", "Cart", "Webhook", "Export"]


def suite_of(repo):
    """The repository's tests: (package, name); the first five are the flaky ones."""
    package = "com.acme.%s" % repo["slug"].replace("-", "_")
    return [("%s.%sTest" % (package, module), "test%s%d" % (module, k)) for k in range(3) for module in SUITE]


def case(rng, package, name, status):
    duration = rng.choice(["PT%d.%03dS" % (rng.randrange(5), rng.randrange(1000)),
                           "%d.%03d" % (rng.randrange(5), rng.randrange(1000)), "PT1M2.5S", ""])
    return {"type": "test_case", "uuid": braces(rng), "name": name,
            "fully_qualified_name": "%s.%s" % (package, name), "package_name": package,
            "status": status, "duration": duration,
            # What the report's pages carry besides: never recorded by bbpipe.
            "test_case_reasons": [{"message": "AssertionError with FIXTURE_SCRIPT_TOKEN in the logs"}]}


def write_report(root, ws, slug, run_uuid, step, cases, total, skipped):
    """A step's report counts and the cases an export keeps, in the fixture layout."""
    base = os.path.join(root, ws, slug, "pipelines")
    where = os.path.join(run_uuid.strip("{}"), step["uuid"].strip("{}"))
    count = lambda status: sum(1 for c in cases if c["status"] == status)
    failed, errors = count("FAILED"), count("ERROR")
    write_json(os.path.join(base, "test_reports", where, "page-0001.json"),
               {"number_of_test_cases": total, "number_of_successful_test_cases": total - failed - errors - skipped,
                "number_of_failed_test_cases": failed, "number_of_error_test_cases": errors,
                "number_of_skipped_test_cases": skipped})
    # As an export asks for them: FAILED, then ERROR, then (for a pass) SUCCESSFUL.
    n = 0
    for status in ("FAILED", "ERROR", "SUCCESSFUL"):
        chosen = [c for c in cases if c["status"] == status]
        if chosen:
            n += 1
            write_json(os.path.join(base, "test_cases", where, "%04d.json" % n),
                       {"page": 1, "pagelen": PAGELEN, "size": len(chosen), "values": chosen})


def write_tests(root, ws, repo, runs, steps_of, rng):
    """The test reports `--with tests` reads, for the runs whose steps were written: failed test
    steps' failures (some of the suite's flaky tests, some broken ones, some errors), the re-runs
    of failed attempts (an earlier attempt added to the steps page) and a run of a failed run's
    commit, whose passes of those tests are kept."""
    slug = repo["slug"]
    suite = suite_of(repo)
    total, skipped = len(suite), 2
    failed_on = {}  # commit -> (step name, tests that failed)
    by_uuid = {run["uuid"]: run for run in runs}
    ordered = sorted(steps_of, key=lambda u: by_uuid[u]["created_on"])
    reruns = []
    for run_uuid in ordered:
        run = by_uuid[run_uuid]
        commit_sha = run["target"]["commit"]["hash"] if run.get("target", {}).get("commit") else None
        for step in steps_of[run_uuid]:
            result = step.get("state", {}).get("result", {}).get("name")
            if step.get("name") not in TEST_STEPS or result not in ("FAILED", "ERROR"):
                continue
            if repo["kind"] == "legacy":
                continue  # its test step publishes no report: a 404 in an export
            flaky = rng.sample(suite[:5], rng.randrange(1, 3))
            broken = rng.sample(suite[5:], rng.randrange(0, 2))
            cases = [case(rng, p, n, "FAILED") for p, n in flaky]
            cases += [case(rng, p, n, rng.choice(["FAILED", "ERROR"])) for p, n in broken]
            write_report(root, ws, slug, run_uuid, step, cases, total, skipped)
            if commit_sha:
                failed_on[commit_sha] = (step["name"], flaky + broken, run)
    # Re-runs: a successful run on its second attempt failed its test step on the first.
    for run_uuid in ordered:
        run = by_uuid[run_uuid]
        if run.get("run_number", 1) < 2 or run["state"].get("result", {}).get("name") != "SUCCESSFUL":
            continue
        steps = steps_of[run_uuid]
        latest = next((s for s in steps if s.get("name") == "Unit tests" and "completed_on" in s), None)
        if latest is None or repo["kind"] == "legacy":
            continue
        earlier = json.loads(json.dumps(latest))
        earlier["uuid"] = braces(rng)
        earlier["run_number"] = latest["run_number"] - 1
        earlier["trigger"] = {"type": "pipeline_step_trigger_automatic"}
        at = datetime.fromisoformat(run["created_on"][:19] + "+00:00") + timedelta(seconds=5)
        earlier["started_on"] = stamp(at, rng)
        earlier["completed_on"] = stamp(at + timedelta(seconds=earlier.get("duration_in_seconds", 60)), rng)
        earlier["state"] = {"type": "pipeline_step_state_completed", "name": "COMPLETED",
                            "result": {"name": "FAILED", "type": "pipeline_step_state_completed_failed"}}
        flaky = rng.sample(suite[:5], 1)
        write_report(root, ws, slug, run_uuid, earlier, [case(rng, p, n, "FAILED") for p, n in flaky], total, skipped)
        write_report(root, ws, slug, run_uuid, latest, [case(rng, p, n, "SUCCESSFUL") for p, n in flaky], total, skipped)
        steps.insert(0, earlier)
        write_json(os.path.join(root, ws, slug, "pipelines", "steps", run_uuid.strip("{}"), "page-0001.json"),
                   {"page": 1, "pagelen": PAGELEN, "size": len(steps), "values": steps})
        reruns.append(run_uuid)
    return failed_on


def same_commit_again(root, ws, repo, runs, steps_of, failed_on, rng):
    """Two runs of one commit: the newest later successful branch run (no deploy) of a repository
    with a failed test step is given that failure's commit in its pipelines page, and its
    passes of the failed tests are kept. Runs, deployments and the commit graph are otherwise as
    generated."""
    for commit_sha, (name, tests, failed_run) in sorted(failed_on.items(), key=lambda t: t[1][2]["created_on"]):
        later = [r for r in runs if r["uuid"] in steps_of and r["created_on"] > failed_run["created_on"]
                 and r["state"].get("result", {}).get("name") == "SUCCESSFUL"
                 and r.get("target", {}).get("selector", {}).get("type") == "branches"
                 and r.get("run_number", 1) == 1
                 and any(s.get("name") == name and "completed_on" in s for s in steps_of[r["uuid"]])]
        if not later:
            continue
        again = later[0]
        step = next(s for s in steps_of[again["uuid"]] if s.get("name") == name and "completed_on" in s)
        passes = [case(rng, p, n, "SUCCESSFUL") for p, n in tests]
        write_report(root, ws, repo["slug"], again["uuid"], step, passes, len(suite_of(repo)), 2)
        for page in sorted(os.listdir(os.path.join(root, ws, repo["slug"], "pipelines"))):
            path = os.path.join(root, ws, repo["slug"], "pipelines", page)
            if not page.startswith("page-"):
                continue
            body = json.load(open(path))
            for value in body["values"]:
                if value["uuid"] == again["uuid"]:
                    value["target"]["commit"]["hash"] = commit_sha
                    for link in value["target"]["commit"].get("links", {}).values():
                        link["href"] = link["href"].rsplit("/", 1)[0] + "/" + commit_sha
            write_json(path, body)
        return


MESSAGES = [
    "Fix flaky checkout test", "Add retry to payment webhook", "Bump serde to 1.0.215",
    "Refactor session cache", "Update README", "Tune connection pool", "Add metrics for queue depth",
    "Remove dead feature flag", "fix: rotate key (token=ghp_FAKEfake0000000000000000000000000000)",
]


def write_commits(root, ws, repo, runs, rng, rewrite):
    """The repository's commit graph, newest first, as `GET .../commits` lists it: every run's
    commit on one main line, in the order of the runs, with 0-3 commits between two of them and
    now and then a feature branch merged in. With `rewrite`, one deployed commit of the main
    line is left out, as if a force-push had rewritten it away."""
    tips = {}
    for run in runs:
        sha = ((run.get("target") or {}).get("commit") or {}).get("hash")
        if not sha or len(sha) != 40:
            continue
        created = datetime.fromisoformat(run["created_on"][:19] + "+00:00")
        if sha not in tips or created < tips[sha]:
            tips[sha] = created
    ordered = sorted(tips.items(), key=lambda t: (t[1], t[0]))
    commits = []

    def add(sha, moment, parents):
        uid, account, name, nick = rng.choice(USERS)
        author = {"type": "author", "raw": "%s <%s@example.test>" % (name, nick)}
        if rng.random() < 0.85:  # Bitbucket knows most authors, not all
            author["user"] = {"type": "user", "account_id": account, "display_name": name, "uuid": uid}
        message = rng.choice(MESSAGES)
        commits.append({
            "type": "commit", "hash": sha, "date": moment.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "author": author, "message": message + "\n",
            "parents": [{"type": "commit", "hash": p} for p in parents],
        })

    def new_sha():
        return "%040x" % rng.getrandbits(160)

    previous, previous_at = None, START - timedelta(days=3)
    for sha, created in ordered:
        at = created - timedelta(minutes=rng.randint(2, 40))
        at = max(at, previous_at + timedelta(seconds=1))
        span = max((at - previous_at).total_seconds(), 4.0)
        between = rng.choice([0, 1, 1, 2, 3])
        parent = previous
        for k in range(between):
            moment = previous_at + timedelta(seconds=span * (k + 1) / (between + 2))
            if parent is not None and rng.random() < 0.25:
                # a feature branch off the last commit, merged back
                side = parent
                for _ in range(rng.randint(1, 2)):
                    branch_sha = new_sha()
                    add(branch_sha, moment - timedelta(seconds=1 + rng.random() * span / 4), [side])
                    side = branch_sha
                merge = new_sha()
                add(merge, moment, [parent, side])
                parent = merge
            else:
                plain = new_sha()
                add(plain, moment, [parent] if parent else [])
                parent = plain
        add(sha, at, [parent] if parent else [])
        previous, previous_at = sha, at
    if rewrite:
        deployed = [run["target"]["commit"]["hash"] for run in runs
                    if (run.get("target") or {}).get("selector", {}).get("pattern") == "deploy-to-production"
                    and run.get("state", {}).get("result", {}).get("name") == "SUCCESSFUL"
                    and (run.get("target") or {}).get("commit")]
        if deployed:
            gone = deployed[len(deployed) // 2]
            commits = [c for c in commits if c["hash"] != gone]
    commits.sort(key=lambda c: (c["date"], c["hash"]), reverse=True)
    pages = [commits[n:n + PAGELEN] for n in range(0, len(commits), PAGELEN)] or [[]]
    base = "%s/repositories/%s/%s/commits" % (API, ws, repo["slug"])
    for number, chunk in enumerate(pages, start=1):
        page = {"page": number, "pagelen": PAGELEN, "values": chunk}
        if number < len(pages):
            page["next"] = "%s?page=%d" % (base, number + 1)
        write_json(os.path.join(root, ws, repo["slug"], "commits", "page-%04d.json" % number), page)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory to (re)create")
    ap.add_argument("--workspace", default="acme")
    ap.add_argument("--runs", type=int, default=2000, help="pipeline runs in all")
    ap.add_argument("--repos", type=int, default=0,
                    help="repositories (default: the 9 demo repositories; more are added by cycling their kinds)")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--with", dest="extras", default="steps,environments,commits,tests",
                    help="optional endpoints to write: steps, environments, commits, tests (comma-separated; '' for none)")
    args = ap.parse_args()
    extras = {e for e in args.extras.split(",") if e}
    # Steps, environments and deployments draw from their own generator: the pages of runs are
    # the same bytes with or without them.
    extras_rng = random.Random(args.seed * 7919 + 1)
    commits_rng = random.Random(args.seed * 104729 + 3)
    tests_rng = random.Random(args.seed * 15485863 + 5)

    rng = random.Random(args.seed)
    ws = args.workspace
    templates = DEMO_REPOS
    count = args.repos or len(templates)
    repos = []
    for i in range(count):
        slug, language, project, share, kind = templates[i % len(templates)]
        if i >= len(templates):
            slug = "%s-%d" % (slug, i // len(templates))
        repos.append({"slug": slug, "language": language, "project": project, "share": share, "kind": kind,
                      "uuid": braces(rng)})
    total_share = sum(r["share"] for r in repos)

    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    write_json(os.path.join(args.out, "recording.json"),
               {"format": 1, "recorded_at": RECORDED_AT, "source": "scripts/gen_fixtures.py --seed %d" % args.seed})
    write_json(os.path.join(args.out, ws, "repositories", "page-0001.json"),
               {"pagelen": PAGELEN, "size": len(repos), "page": 1, "values": repositories_page(ws, repos, rng)})
    if len(repos) > PAGELEN:  # repositories paginate like everything else
        os.remove(os.path.join(args.out, ws, "repositories", "page-0001.json"))
        values = repositories_page(ws, repos, random.Random(args.seed))
        for n in range(0, len(values), PAGELEN):
            page = {"pagelen": PAGELEN, "size": len(values), "page": n // PAGELEN + 1, "values": values[n:n + PAGELEN]}
            if n + PAGELEN < len(values):
                page["next"] = "%s/repositories/%s?page=%d&pagelen=%d" % (API, ws, n // PAGELEN + 2, PAGELEN)
            write_json(os.path.join(args.out, ws, "repositories", "page-%04d.json" % (n // PAGELEN + 1)), page)

    span = (END - START).total_seconds()
    for repo in repos:
        if repo["kind"] == "empty":
            write_json(os.path.join(args.out, ws, repo["slug"], "pipelines", "page-0001.json"),
                       {"page": 1, "pagelen": PAGELEN, "size": 0, "values": []})
            continue
        n = max(1, round(args.runs * repo["share"] / total_share))
        specials = DEMO_SPECIALS.get(repo["slug"], [])
        dated = [sp for sp in specials if "created_on" in sp]
        moments = [(START + timedelta(seconds=rng.random() * span), None) for _ in range(n - len(dated))]
        moments += [(datetime.fromisoformat(sp["created_on"][:19] + "+00:00"), sp) for sp in dated]
        moments.sort(key=lambda m: m[0])
        # the other variants go to the newest runs: recent enough to be still running
        undated = [sp for sp in specials if "created_on" not in sp]
        for k, sp in enumerate(undated):
            moments[n - 1 - k] = (moments[n - 1 - k][0], sp)
        runs = [make_run(rng, ws, repo, i + 1, moment, forced) for i, (moment, forced) in enumerate(moments)]
        write_pipelines(args.out, ws, repo, runs, drift=(repo["slug"] == "payments"))
        steps_of = {}
        if "environments" in extras or "steps" in extras:
            steps_of = write_extras(args.out, ws, repo, runs, extras_rng, "steps" in extras)
            if "environments" not in extras:
                for listing in ("environments", "deployments"):
                    shutil.rmtree(os.path.join(args.out, ws, repo["slug"], listing))
        if "commits" in extras:
            write_commits(args.out, ws, repo, runs, commits_rng, rewrite=(repo["slug"] == "payments"))
        if "tests" in extras and steps_of:
            failed_on = write_tests(args.out, ws, repo, runs, steps_of, tests_rng)
            if repo["slug"] == "web-app":
                same_commit_again(args.out, ws, repo, runs, steps_of, failed_on, tests_rng)


if __name__ == "__main__":
    main()

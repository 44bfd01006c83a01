#!/usr/bin/env python3
"""Checks what scripts/package built in target/dist/, as a platform team would use it.

    python3 scripts/check_package.py

The archive: its files, SHA256SUMS, every man page rendered by `man -l`, the completions read by
bash, zsh and fish (and bash completing `bbpipe ex` to `export`). The image, loaded from its OCI
archive into buildah's storage and run with chroot isolation (no registry, no shell inside):
its config (non-root user, entrypoint, labels), no /bin/sh, `--version`, a replay of the demo
mounted read-only whose rows equal a replay by the host binary, an export from a mock API on
loopback with the token read from a mounted file, and verify-output of that export. Last, the
Kubernetes CronJob names the image and tag the archive carries.
"""

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
from pathlib import Path

import pyarrow.dataset as ds

from checks import check, finish
from mock_api import mock_api

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "target/dist"
VERSION = tomllib.load(open(ROOT / "Cargo.toml", "rb"))["workspace"]["package"]["version"]
HOST = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
TARGET = re.search(r"^host: (.+)$", HOST, re.M).group(1)
NAME = f"bbpipe-{VERSION}-{TARGET}"
TAG = f"bbpipe:{VERSION}"
BUILDAH = ["buildah", "--root", str(ROOT / "target/buildah/storage"),
           "--runroot", str(ROOT / "target/buildah/run"), "--storage-driver", "vfs"]
TOKEN = "image-test-token-not-for-logs"
SUBCOMMANDS = ["check", "export", "replay", "schema", "verify-output", "vacuum", "rules",
               "rules-check", "rules-explain", "rules-apply", "report", "init", "config",
               "config-show", "completions"]


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def check_archive(tmp):
    archive = DIST / f"{NAME}.tar.gz"
    with tarfile.open(archive) as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile())
        tar.extractall(tmp, filter="data")
    want = sorted([f"{NAME}/bin/bbpipe", f"{NAME}/LICENSE", f"{NAME}/README.md", f"{NAME}/SHA256SUMS",
                   f"{NAME}/completions/bbpipe.bash", f"{NAME}/completions/_bbpipe",
                   f"{NAME}/completions/bbpipe.fish", f"{NAME}/completions/_bbpipe.ps1",
                   f"{NAME}/man/man1/bbpipe.1"]
                  + [f"{NAME}/man/man1/bbpipe-{sub}.1" for sub in SUBCOMMANDS])
    check("the archive's files", names, want)
    top = Path(tmp) / NAME
    sums = run(["sha256sum", "-c", "SHA256SUMS"], cwd=top)
    check("sha256sum -c SHA256SUMS", (sums.returncode, sums.stdout.count(": OK")), (0, len(want) - 1))
    binary = top / "bin/bbpipe"
    version = run([binary, "--version"]).stdout
    check("--version names the version and the git revision",
          bool(re.fullmatch(rf"bbpipe {re.escape(VERSION)} \(git ([0-9a-f]{{12}}(\+modified)?|unknown)\)\n", version)),
          True)
    for page in sorted((top / "man/man1").glob("*.1")):
        shown = run(["man", "-l", str(page)], env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat"})
        name = page.stem.upper()
        check(f"man -l {page.name}", (shown.returncode, name in shown.stdout, "OPTIONS" in shown.stdout or name == "BBPIPE"),
              (0, True, True))
    export = run(["man", "-l", str(top / "man/man1/bbpipe-export.1")], env={**os.environ, "MANPAGER": "cat"}).stdout
    check("the export page documents --stall-timeout", "--stall-timeout" in export, True)
    bash = top / "completions/bbpipe.bash"
    check("bash -n accepts the bash completion", run(["bash", "-n", str(bash)]).returncode, 0)
    completed = run(["bash", "-c", f"source {bash}; COMP_WORDS=(bbpipe ex); COMP_CWORD=1; "
                     "_bbpipe bbpipe ex bbpipe; echo \"${COMPREPLY[@]}\""]).stdout.split()
    check("bash completes `bbpipe ex` to export", completed, ["export"])
    options = run(["bash", "-c", f"source {bash}; COMP_WORDS=(bbpipe export --stall); COMP_CWORD=2; "
                   "_bbpipe bbpipe --stall export; echo \"${COMPREPLY[@]}\""]).stdout.split()
    check("bash completes `bbpipe export --stall` to --stall-timeout", options, ["--stall-timeout"])
    for shell, script in [("zsh", "_bbpipe"), ("fish", "bbpipe.fish")]:
        if shutil.which(shell):
            check(f"{shell} -n accepts its completion", run([shell, "-n", str(top / "completions" / script)]).returncode, 0)
        else:
            print(f"check_package: {shell} is not installed; its completion was not checked")
    return binary


def buildah(*args, check_ok=True):
    done = run(BUILDAH + list(args))
    if check_ok and done.returncode != 0:
        raise SystemExit(f"buildah {' '.join(args)} failed: {done.stderr}")
    return done


def rows(out, table):
    """Every row of `table` without exported_at, sorted: for comparing two datasets."""
    data = ds.dataset(str(Path(out) / table), format="parquet", partitioning="hive").to_table()
    data = data.drop_columns([c for c in ["exported_at"] if c in data.column_names])
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in data.to_pylist())


def check_image(host_binary, tmp):
    archive = DIST / f"bbpipe-{VERSION}-oci.tar"
    image = buildah("pull", "--quiet", f"oci-archive:{archive}").stdout.strip()
    config = json.loads(buildah("inspect", "--type", "image", image).stdout)
    oci = config["OCIv1"]["config"]
    check("the image's user is not root", oci.get("User"), "65532:65532")
    check("the image's entrypoint", oci.get("Entrypoint"), ["/usr/local/bin/bbpipe"])
    env = dict(e.split("=", 1) for e in oci.get("Env", []))
    check("TMPDIR on a writable path", env.get("TMPDIR"), "/tmp")
    labels = oci.get("Labels", {})
    check("labels", {k: labels.get(f"org.opencontainers.image.{k}") for k in ["version", "licenses", "source"]},
          {"version": VERSION, "licenses": "Apache-2.0", "source": "https://github.com/bbpipe/bbpipe"})
    revision = re.search(r"\(git (.+)\)", run([host_binary, "--version"]).stdout).group(1)
    check("the revision label is the binary's", labels.get("org.opencontainers.image.revision"), revision)
    inspected = run(["skopeo", "inspect", f"oci-archive:{archive}"])
    check("skopeo reads the archive", (inspected.returncode, json.loads(inspected.stdout or "{}").get("Labels", {})
                                       .get("org.opencontainers.image.version")), (0, VERSION))
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
    check("the archive carries the tag",
          [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in index["manifests"]], [TAG])
    container = buildah("from", "--quiet", "--pull-never", image).stdout.strip()
    try:
        root = Path(buildah("mount", container).stdout.strip())
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        check("no shell in the image", [f for f in files if f.endswith("/sh") or f.endswith("bash")], [])
        check("the image holds the binary, its libraries, the CA bundle and the user",
              [f for f in files if not f.startswith(("lib/", "lib64/", "usr/lib/"))],
              ["etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "usr/local/bin/bbpipe"])
        check("/tmp is writable by anyone", oct((root / "tmp").stat().st_mode & 0o7777), "0o1777")
        size = sum((root / f).stat().st_size for f in files)
        buildah("umount", container)
        print(f"check_package: the image holds {len(files)} files, {size / 2**20:.1f} MiB; "
              f"its archive is {archive.stat().st_size / 2**20:.1f} MiB")

        def inside(*args, mounts=(), env=()):
            command = ["run", "--isolation", "chroot"]
            for source, target, mode in mounts:
                command += ["-v", f"{source}:{target}:{mode}"]
            for e in env:
                command += ["--env", e]
            return buildah(*command, container, "--", "/usr/local/bin/bbpipe", *args, check_ok=False)

        version = inside("--version")
        check("--version in the image", version.stdout, run([host_binary, "--version"]).stdout)

        # Replay of the demo, read-only, into an empty directory owned by the image's user.
        out = Path(tmp) / "image-replay"
        out.mkdir()
        os.chown(out, 65532, 65532)
        rules = "/fixtures/demo/deploy-rules.toml"
        replay = inside("-q", "replay", "/fixtures/demo", "--out", "/out", "--rules", rules,
                        "--with", "steps,environments",
                        mounts=[(ROOT / "fixtures", "/fixtures", "ro"), (out, "/out", "rw")])
        check("replay in the image", (replay.returncode, replay.stderr), (0, ""))
        host_out = Path(tmp) / "host-replay"
        subprocess.run([host_binary, "-q", "replay", ROOT / "fixtures/demo", "--out", host_out, "--rules",
                        ROOT / "fixtures/demo/deploy-rules.toml", "--with", "steps,environments"], check=True)
        owners = {p.stat().st_uid for p in out.rglob("*")}
        check("the image wrote as its non-root user", owners, {65532})
        for table in ["pipeline_runs", "deployments", "pipeline_steps", "repositories"]:
            check(f"{table}: the image's rows are the host's", rows(out, table), rows(host_out, table))

        # Export from a mock API on loopback, the token from a mounted file.
        with mock_api(ROOT / "fixtures/demo", 0, token=TOKEN) as port:
            secrets = Path(tmp) / "secrets"
            secrets.mkdir()
            (secrets / "token").write_text(TOKEN + "\n")
            os.chown(secrets / "token", 65532, 65532)
            os.chmod(secrets / "token", 0o400)
            exported = Path(tmp) / "image-export"
            exported.mkdir()
            os.chown(exported, 65532, 65532)
            export = inside("export", "--workspace", "acme", "--out", "/out", "--summary", "json",
                            "--max-requests-per-hour", "100000",
                            mounts=[(secrets, "/run/secrets/bbpipe", "ro"), (exported, "/out", "rw")],
                            env=[f"BITBUCKET_API_URL=http://127.0.0.1:{port}/2.0",
                                 "BITBUCKET_ACCESS_TOKEN_FILE=/run/secrets/bbpipe/token"])
            check("export in the image", export.returncode, 0)
            summary = json.loads(export.stdout or "{}")
            check("the export read the demo's runs", summary.get("tables", {}).get("pipeline_runs", {}).get("rows"),
                  len(rows(host_out, "pipeline_runs")))
            check("the token appears nowhere in the output", TOKEN in export.stdout + export.stderr, False)
            verified = inside("verify-output", "/out", mounts=[(exported, "/out", "ro")])
            check("verify-output in the image", (verified.returncode, verified.stderr), (0, ""))
    finally:
        buildah("rm", container, check_ok=False)
        buildah("rmi", image, check_ok=False)


def check_kubernetes():
    manifest = (ROOT / "docs/deploy/kubernetes-cronjob.yaml").read_text()
    images = re.findall(r"image:\s*(\S+)", manifest)
    check("the CronJob runs the image and tag the archive carries",
          [image.rsplit("/", 1)[-1] for image in images], [TAG])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # the image's user reaches the directories mounted from here
        host_binary = check_archive(tmp)
        check_image(host_binary, tmp)
    check_kubernetes()
    finish("check_package")


main()

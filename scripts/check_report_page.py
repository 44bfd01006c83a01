#!/usr/bin/env python3
"""The delivery report's page, as a browser sees it.

    python3 scripts/check_report_page.py target/debug/bbpipe [--screenshot docs/report-demo.png]

Replays fixtures/demo with its deploy rules, steps, commits and tests, renders `bbpipe report --html`, checks
that the page is well-formed HTML with one chart per documented figure and no script, then
loads it in headless Chromium: the page must not be blank (its DOM keeps the headings, tables
and charts) and must log nothing to the console. With --screenshot, keeps a picture of it.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "source", "wbr"}
FIGURES = ["deploy_frequency", "change_failure_rate", "lead_time", "duration", "build_minutes"]
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print(f"FAILED {name} {detail}")


class Balance(HTMLParser):
    """Every element closed, in order (void elements and self-closed SVG ones aside)."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name == "id" and tag == "figure":
                self.tags.setdefault("figures", []).append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--screenshot")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out, page = Path(tmp) / "data", Path(tmp) / "report.html"
        subprocess.run([args.binary, "-q", "replay", str(ROOT / "fixtures/demo"), "--out", str(out),
                        "--rules", str(ROOT / "fixtures/demo/deploy-rules.toml"), "--with", "steps,commits,tests"], check=True)
        subprocess.run([args.binary, "-q", "report", str(out), "--html", str(page)], check=True)
        html = page.read_text()
        parser = Balance()
        parser.feed(html)
        parser.close()
        check("well-formed", not parser.errors and not parser.stack, f"{parser.errors[:3]} {parser.stack}")
        figures = parser.tags.get("figures", [])
        check("one chart per documented figure", sorted(figures) == sorted(f"chart-{f}" for f in FIGURES), figures)
        check("one svg per figure", parser.tags.get("svg") == len(FIGURES), parser.tags.get("svg"))
        check("no script", "script" not in parser.tags)

        browser = chromium()
        check("chromium installed (scripts/test-env installs it)", browser is not None)
        if browser:
            common = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                      "--enable-logging=stderr", "--v=0", "--user-data-dir=" + str(Path(tmp) / "profile")]
            dom = subprocess.run(common + ["--dump-dom", page.as_uri()], capture_output=True, text=True,
                                 timeout=120)
            check("the browser loads the page", dom.returncode == 0, dom.stderr[-500:])
            text = dom.stdout
            for part in ("Delivery performance (DORA)", "Pipeline health", "<table id=\"services\"", "<table id=\"lead-time\"",
                         "<table id=\"repositories\"", "acme/web-app", "<table id=\"tests-flaky\"",
                         "<table id=\"tests-failing\"", "<table id=\"tests-steps\""):
                check(f"rendered page holds {part!r}", part in text)
            check("rendered page keeps every chart", text.count("<svg") == len(FIGURES), text.count("<svg"))
            console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
            check("no console message", not console, console[:3])
            shot = Path(args.screenshot) if args.screenshot else Path(tmp) / "report.png"
            subprocess.run(common + ["--window-size=1100,2400", f"--screenshot={shot}", page.as_uri()],
                           capture_output=True, timeout=120)
            # A blank page compresses to a few kilobytes; this one has tables and charts.
            check("the screenshot is not blank", shot.exists() and shot.stat().st_size > 50_000,
                  shot.stat().st_size if shot.exists() else "missing")
    print(f"report page: {results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The delivery report's page, as a browser and a printer see it.

    python3 scripts/check_report_page.py target/debug/bbpipe [--screenshot docs/report-demo.png]

Renders `bbpipe report --html` for three datasets: fixtures/demo (replayed with its deploy
rules, steps, commits and tests), the same filtered to one service and environment, and a
generated workspace of about 40 services (scripts/gen_fixtures.py). For each page:

- static: well-formed HTML, no script, every chart an SVG with a viewBox, role="img", a
  <title> and a <desc>, and its figure in a caption-ed <figure>;
- in headless Chromium at 1280 and 390 px wide (a script injected into a copy of the page,
  never into the product, reads the layout back): no horizontal scroll; in every chart, bars
  and columns never touch or overlap, horizontal bars are sorted largest first, no text
  overlaps another text, every tick has a label, every text is at least 11 px (at 1280 px);
  no chart taller than a screen unless it has a row per series; nothing logged to the console;
- printed (Chromium's --print-to-pdf, pages drawn by pdftoppm): each chart lies within one page.

Screenshots of the demo's page at both widths are written to target/report-page/ for a person
to look at; --screenshot also copies the 1280 px one to the given path (README's picture).
"""

import argparse
import html as html_lib
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "source", "wbr"}
METRICS = ["deploy_frequency", "change_failure_rate", "time_to_restore", "lead_time"]
SCREEN = 900  # px: a laptop screen's height of page
MIN_TEXT = 11.0
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print(f"FAILED {name} {detail}")


class Page(HTMLParser):
    """Every element closed, in order; the figures and the SVGs' parts, as written."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], {}
        self.figures, self.svgs = [], []
        self.in_svg = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "figure":
            self.figures.append({"id": attrs.get("id"), "caption": False, "svg": False})
        elif tag == "figcaption" and self.figures:
            self.figures[-1]["caption"] = True
        elif tag == "svg":
            self.in_svg = {"attrs": attrs, "title": False, "desc": False, "depth": len(self.stack)}
            self.svgs.append(self.in_svg)
            if self.figures:
                self.figures[-1]["svg"] = True
        elif self.in_svg is not None and len(self.stack) == self.in_svg["depth"] + 1 and tag in ("title", "desc"):
            self.in_svg[tag] = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()
            if tag == "svg":
                self.in_svg = None


# Read back by the copy of the page the browser lays out: the page's own width, and per chart
# its boxes, texts (with their size on screen) and ticks, as JSON in a <pre>.
PROBE = """<script>
(() => {
  const box = (r) => ({x: r.left, y: r.top, w: r.width, h: r.height});
  const out = {width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth,
               charts: []};
  for (const svg of document.querySelectorAll('figure svg')) {
    const scale = svg.getScreenCTM().a;
    out.charts.push({
      id: svg.closest('figure').id,
      box: box(svg.getBoundingClientRect()),
      texts: [...svg.querySelectorAll('text')].map((t) => Object.assign(box(t.getBoundingClientRect()),
        {text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize) * scale})),
      bars: [...svg.querySelectorAll('rect.bar')].map((r) => box(r.getBoundingClientRect())),
      columns: [...svg.querySelectorAll('rect.column')].map((r) => box(r.getBoundingClientRect())),
      cells: svg.querySelectorAll('rect.cell').length,
      ticks: [...svg.querySelectorAll('g.tick')].map((g) => g.textContent.trim()),
    });
  }
  parent.postMessage(JSON.stringify(out), '*');
})();
</script>"""

# The page at an exact width: Chromium's window is at least 500 px wide, so the page is laid out
# in a frame of that width, and the probe inside it posts what it read to this wrapper.
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<script>
window.addEventListener('message', (e) => {
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = e.data;
  document.body.appendChild(pre);
});
</script>
<iframe src="%s" style="border:0;width:%dpx;height:%dpx"></iframe>
</body></html>"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def browser_args(browser, tmp):
    return [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0", "--user-data-dir=" + str(Path(tmp) / "profile")]


def overlaps(a, b, slack=0.5):
    return (a["x"] + slack < b["x"] + b["w"] and b["x"] + slack < a["x"] + a["w"]
            and a["y"] + slack < b["y"] + b["h"] and b["y"] + slack < a["y"] + a["h"])


def static_checks(name, text, parser):
    check(f"{name}: well-formed", not parser.errors and not parser.stack, f"{parser.errors[:3]} {parser.stack}")
    check(f"{name}: no script", "script" not in parser.tags)
    check(f"{name}: no network (no src or external href)", " src=" not in text and "href=\"http" not in text)
    for figure in parser.figures:
        check(f"{name}: {figure['id']} has a caption and a chart", figure["caption"] and figure["svg"], figure)
    for svg in parser.svgs:
        attrs = svg["attrs"]
        label = attrs.get("aria-labelledby", "?")
        check(f"{name}: {label} has a viewBox", "viewBox" in attrs or "viewbox" in attrs, attrs)
        check(f"{name}: {label} is an image to a screen reader", attrs.get("role") == "img", attrs)
        check(f"{name}: {label} has a title and a description", svg["title"] and svg["desc"], svg)
    check(f"{name}: every chart is in a figure", len(parser.svgs) == len(parser.figures),
          (len(parser.svgs), len(parser.figures)))


def probe(browser, page, width, tmp, name):
    probed = Path(tmp) / f"probe-{name}-{width}.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    frame = Path(tmp) / f"frame-{name}-{width}.html"
    frame.write_text(FRAME % (probed.name, width, SCREEN))
    dom = subprocess.run(browser_args(browser, tmp) + [f"--window-size={max(width, 1400)},{SCREEN}",
                                                         "--virtual-time-budget=10000", "--dump-dom",
                                                         frame.as_uri()],
                         capture_output=True, text=True, timeout=180)
    check(f"{name} @{width}: the browser loads the page", dom.returncode == 0, dom.stderr[-500:])
    start = dom.stdout.find('<pre id="probe">')
    end = dom.stdout.find("</pre>", start)
    if start < 0 or end < 0:
        check(f"{name} @{width}: the probe ran", False, dom.stdout[-300:])
        return None, dom
    return json.loads(html_lib.unescape(dom.stdout[start + len('<pre id="probe">'):end])), dom


def geometry_checks(name, width, seen):
    check(f"{name} @{width}: laid out at {width} px", abs(seen["width"] - width) <= 20, seen["width"])
    check(f"{name} @{width}: no horizontal scroll", seen["scroll"] <= seen["width"], (seen["scroll"], seen["width"]))
    for chart in seen["charts"]:
        cid = chart["id"]
        check(f"{name} @{width}: {cid} fits the page", chart["box"]["x"] >= 0
              and chart["box"]["x"] + chart["box"]["w"] <= seen["width"] + 0.5, chart["box"])
        bars = sorted(chart["bars"], key=lambda b: b["y"])
        for a, b in zip(bars, bars[1:]):
            check(f"{name} @{width}: {cid} bars have gaps", b["y"] - (a["y"] + a["h"]) >= 1.0, (a, b))
            check(f"{name} @{width}: {cid} bars are sorted", a["w"] >= b["w"] - 0.01, (a["w"], b["w"]))
        columns = sorted(chart["columns"], key=lambda c: c["x"])
        for a, b in zip(columns, columns[1:]):
            check(f"{name} @{width}: {cid} columns have gaps", b["x"] - (a["x"] + a["w"]) >= 0.9, (a, b))
        texts = chart["texts"]
        clashes = [(a["text"], b["text"]) for i, a in enumerate(texts) for b in texts[i + 1:] if overlaps(a, b)]
        check(f"{name} @{width}: {cid} no text overlaps another", not clashes, clashes[:3])
        check(f"{name} @{width}: {cid} no empty tick", chart["ticks"] and all(chart["ticks"]), chart["ticks"])
        if width >= 1280:
            small = [(t["text"], round(t["size"], 1)) for t in texts if t["size"] < MIN_TEXT - 0.01]
            check(f"{name} @{width}: {cid} text ≥ {MIN_TEXT:.0f} px", not small, small[:3])
            rows = max(len(chart["bars"]), chart["cells"] // 13 if chart["cells"] else 0)
            check(f"{name} @{width}: {cid} no taller than a screen without need",
                  chart["box"]["h"] <= SCREEN or rows >= 20, (chart["box"]["h"], rows))


def ppm_pages(prefix_dir):
    """The pages pdftoppm drew, as (width, height, bytes)."""
    pages = []
    for path in sorted(Path(prefix_dir).glob("page-*.ppm")):
        data = path.read_bytes()
        fields, pos = [], 0
        while len(fields) < 4:  # P6, width, height, maxval; whitespace-separated
            while data[pos:pos + 1].isspace():
                pos += 1
            start = pos
            while not data[pos:pos + 1].isspace():
                pos += 1
            fields.append(data[start:pos])
        pages.append((int(fields[1]), int(fields[2]), data[pos + 1:]))
    return pages


def pdf_check(browser, page, count, tmp, name):
    """Prints the page with each chart framed in a colour of its own (a copy of the page); a
    chart cut by a page break shows its colour on two pages, or its frame open at one."""
    framed = Path(tmp) / f"print-{name}.html"
    colours = [(250 - 6 * (i // 40), 0, 6 + 6 * (i % 40)) for i in range(count)]
    rules = []
    # Figures are matched in document order through a data attribute the copy adds.
    numbers = itertools.count()
    text = re.sub('<figure class="chart"', lambda _: f'<figure data-frame="{next(numbers)}" class="chart"',
                  page.read_text())
    for i, (r, g, b) in enumerate(colours):
        # Drawn inside the figure's box: a frame outside it would spill onto the page before.
        rules.append(f'figure[data-frame="{i}"] {{ outline: 4px solid rgb({r},{g},{b}); outline-offset: -4px; }}')
    framed.write_text(text.replace("</head>", "<style>" + "\n".join(rules) + "</style></head>"))
    pdf = Path(tmp) / f"{name}.pdf"
    printed = subprocess.run(browser_args(browser, tmp) + ["--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                                                           framed.as_uri()], capture_output=True, text=True,
                             timeout=180)
    check(f"{name}: prints to PDF", printed.returncode == 0 and pdf.exists(), printed.stderr[-300:])
    if not pdf.exists():
        return
    pages_dir = Path(tmp) / f"pages-{name}"
    pages_dir.mkdir()
    subprocess.run(["pdftoppm", "-r", "72", str(pdf), str(pages_dir / "page")], check=True)
    pages = ppm_pages(pages_dir)
    check(f"{name}: the PDF has pages", len(pages) >= 2, len(pages))
    found = {i: [] for i in range(count)}
    lookup = {c: i for i, c in enumerate(colours)}
    for number, (w, h, pixels) in enumerate(pages):
        rows = {}
        for offset in range(0, w * h * 3, 3):
            r, g, b = pixels[offset], pixels[offset + 1], pixels[offset + 2]
            if g > 2 or r < 200:
                continue
            # The nearest frame colour, within 2 of each channel.
            for (cr, cg, cb), i in lookup.items():
                if abs(cr - r) <= 2 and abs(cb - b) <= 2:
                    y = (offset // 3) // w
                    rows.setdefault(i, set()).add(y)
                    break
        for i, ys in rows.items():
            found[i].append((number, min(ys), max(ys), h))
    for i, where in found.items():
        check(f"{name}: chart {i} is printed", bool(where), where)
        check(f"{name}: chart {i} lies within one page", len(where) == 1, where)
        for number, top, bottom, height in where:
            # A frame cut by the page's edge runs to the printable area's edge with no side
            # closing it; a whole one has its top and bottom a frame's width inside the page.
            check(f"{name}: chart {i} is whole on page {number + 1}", top > 2 and bottom < height - 3,
                  (top, bottom, height))


def render(binary, data, page, extra=()):
    subprocess.run([binary, "-q", "report", str(data), "--html", str(page), *extra], check=True)
    return page


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--screenshot")
    args = ap.parse_args()
    browser = chromium()
    check("chromium installed (scripts/test-env installs it)", browser is not None)
    check("pdftoppm installed (scripts/test-env installs poppler-utils)", shutil.which("pdftoppm") is not None)
    shots = ROOT / "target" / "report-page"
    shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo = tmp / "demo"
        subprocess.run([args.binary, "-q", "replay", str(ROOT / "fixtures/demo"), "--out", str(demo),
                        "--rules", str(ROOT / "fixtures/demo/deploy-rules.toml"), "--with", "steps,commits,tests"],
                       check=True)
        # About 40 services: gen_fixtures' repositories cycle through the demo's kinds, and one
        # rule makes each repository's production deploy pipeline a service of its own.
        recording = tmp / "forty-recording"
        subprocess.run([sys.executable, str(ROOT / "scripts/gen_fixtures.py"), "--out", str(recording),
                        "--repos", "90", "--runs", "9000", "--with", "commits"], check=True, stdout=subprocess.DEVNULL)
        rules = tmp / "forty-rules.toml"
        rules.write_text('[[rule]]\nname = "every-service"\nrepository = ".*"\n'
                         'workflow = "^deploy-to-production$"\nenvironment = "production"\n')
        forty = tmp / "forty"
        subprocess.run([args.binary, "-q", "replay", str(recording), "--out", str(forty), "--rules", str(rules),
                        "--with", "commits"], check=True)
        pages = {
            "demo": render(args.binary, demo, tmp / "demo.html"),
            "one-service": render(args.binary, demo, tmp / "one.html", ["--service", "web-app",
                                                                         "--environment", "production"]),
            "forty-services": render(args.binary, forty, tmp / "forty.html"),
        }
        for name, page in pages.items():
            text = page.read_text()
            parser = Page()
            parser.feed(text)
            parser.close()
            static_checks(name, text, parser)
            ids = [f["id"] for f in parser.figures]
            for metric in METRICS:
                check(f"{name}: the {metric} panel has its trend", f"chart-{metric}-trend" in ids, ids[:8])
            for chart in ("chart-duration", "chart-build_minutes"):
                check(f"{name}: has {chart}", chart in ids, ids[-4:])
            if name == "demo":
                check("demo: small multiples per service", any(i.startswith("chart-deploy_frequency-") and
                                                               i[-1].isdigit() for i in ids), ids[:6])
                for part in ("<table id=\"services\"", "<table id=\"lead-time\"", "<table id=\"repositories\"",
                             "acme/web-app", "<table id=\"tests-flaky\"", "<table id=\"tests-failing\"",
                             "<table id=\"tests-steps\"", "pull-requests: **", "The newest 10 of"):
                    check(f"demo: the page holds {part!r}", part in text)
            if name == "one-service":
                check("one-service: no breakdown for a single service",
                      not any(i.startswith("chart-deploy_frequency-") and i[-1].isdigit() for i in ids), ids)
            if name == "forty-services":
                services = json.loads(subprocess.run([args.binary, "-q", "report", str(forty), "--json", "-"],
                                                     capture_output=True, text=True, check=True).stdout)["deployments"]
                check("forty-services: about forty services", 30 <= len(services) <= 60, len(services))
                for metric in ("deploy_frequency", "change_failure_rate"):
                    check(f"forty-services: {metric} per service as a heatmap", f"chart-{metric}-heatmap-0" in ids, ids)
                check("forty-services: says the build minutes chart shows the first 20",
                      "The 20 repositories with the most build minutes, of" in text)
            if not browser:
                continue
            for width in (1280, 390):
                seen, dom = probe(browser, page, width, tmp, name)
                if seen is None:
                    continue
                check(f"{name} @{width}: every chart laid out", len(seen["charts"]) == len(parser.svgs),
                      (len(seen["charts"]), len(parser.svgs)))
                geometry_checks(name, width, seen)
                console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
                check(f"{name} @{width}: no console message", not console, console[:3])
            if shutil.which("pdftoppm"):
                pdf_check(browser, page, len(parser.figures), tmp, name)
            if name == "demo":
                for width in (1280, 390):
                    shot = shots / f"demo-{width}.png"
                    subprocess.run(browser_args(browser, tmp) + [f"--window-size={width},{SCREEN * 3}",
                                                                 f"--screenshot={shot}", page.as_uri()],
                                   capture_output=True, timeout=180)
                    # A blank page compresses to a few kilobytes; this one has tables and charts.
                    check(f"demo: the {width} px screenshot is not blank", shot.exists() and shot.stat().st_size > 50_000,
                          shot.stat().st_size if shot.exists() else "missing")
                if args.screenshot:
                    shutil.copyfile(shots / "demo-1280.png", args.screenshot)
    print(f"report page: {results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()

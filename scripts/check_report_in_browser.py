"""Open an eval report.html in headless Chromium and check it renders cleanly; save a screenshot.

Setup (once per machine; nothing here is a dependency of the project, and `playwright install`
is NOT used: the browser comes from Debian):

    apt-get update && apt-get install -y chromium          # gives /usr/bin/chromium
    python3 -m venv /tmp/pwvenv && /tmp/pwvenv/bin/pip install playwright

Run (with the separate venv's Python, not the project's):

    /tmp/pwvenv/bin/python scripts/check_report_in_browser.py RUN_DIR/report.html [--expand] [--png PATH]

Fails (exit 1) on any console error, page error, or request that leaves the file (the report
must be self-contained), or when an <svg> chart has an empty bounding box. Writes a full-page
screenshot next to the report (report.png) unless --png says otherwise. --expand opens every
<details> (failure lists) before the screenshot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("--png", type=Path, help="screenshot path (default: next to the report, .png)")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--expand", action="store_true", help="open all <details> before the screenshot")
    args = ap.parse_args(argv)

    report = args.report.resolve()
    if not report.is_file():
        print(f"no such file: {report}", file=sys.stderr)
        return 2
    png = (args.png or report.with_suffix(".png")).resolve()

    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))

            def outside(route):  # anything but the report itself (or data: URLs) breaks "opens offline"
                problems.append(f"external request: {route.request.url}")
                route.abort()

            page.route(lambda url: not (url.startswith("file://") or url.startswith("data:")), outside)
            page.goto(report.as_uri(), wait_until="load")
            if args.expand:
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            page.wait_for_timeout(200)

            svgs = page.locator("svg")
            count = svgs.count()
            for i in range(count):
                svg = svgs.nth(i)
                # charts inside a closed <details> are not laid out; only visible ones must have a size
                if not svg.is_visible():
                    continue
                box = svg.bounding_box()
                label = svg.get_attribute("aria-label") or f"svg #{i}"
                if not box or box["width"] <= 0 or box["height"] <= 0:
                    problems.append(f"empty bounding box: {label} {box}")
            if count == 0:
                print("note: the report has no <svg> charts")
            png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(png), full_page=True)
            height = page.evaluate("document.documentElement.scrollHeight")
        finally:
            browser.close()

    print(f"{report}: {count} svg chart(s), page height {height}px, screenshot {png}")
    for msg in problems:
        print(f"FAIL {msg}", file=sys.stderr)
    if problems:
        return 1
    print("ok: no console/page errors, no external requests, all charts have a size")
    return 0


if __name__ == "__main__":
    sys.exit(main())

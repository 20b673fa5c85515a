"""Refresh docs/screenshots/ for the README with the browser-test tooling.

The camera shows a face drawn with OpenCV, Photos shows its public-domain example photo and
Explore stays on its class-balance tab, so no screenshot holds FER2013 pixels (they must not
be committed).
Run: .venv/bin/python scripts/readme_screenshots.py [PAGE ...]   (needs chromium and the dataset;
PAGE is home, explore, train, evaluate, photos or live; all by default)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from testkit.browser import CHROMIUM, VIDEO_PLAYING, RunningApp, drawn_face, launch_args, open_page, write_y4m  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main(wanted: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    face = drawn_face(240)
    y4m = write_y4m(Path("/tmp/fer-studio-drawn-face.y4m"), np.stack([face, np.fliplr(face)]), size=240)
    app = RunningApp({"FER2013_PATH": os.environ.get("FER2013_PATH", "")}, Path("/tmp/fer-studio-screenshots.log"))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=launch_args(y4m), headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for path, title, name in [("", "FER Studio", "home"), ("explore", "Explore FER2013", "explore"),
                                      ("train", "Train", "train"), ("evaluate", "Evaluate", "evaluate"),
                                      ("photos", "Photos & video", "photos")]:
                if wanted and name not in wanted:
                    continue
                open_page(page, app.url, path, title, timeout_ms=180_000)
                if name == "evaluate":
                    page.get_by_text("Macro F1").first.wait_for(timeout=180_000)
                if name == "photos":
                    page.get_by_text("Try an example photo").click()
                    page.get_by_text("face 1:").first.wait_for(timeout=180_000)
                    time.sleep(2)
                    page.evaluate("""() => { document.querySelector('[data-testid="stMain"]').scrollTop = 330; }""")
                time.sleep(2)
                page.screenshot(path=str(OUT / f"{name}.png"))
            if wanted and "live" not in wanted:
                browser.close()
                return
            open_page(page, app.url, "live", "Live")
            page.locator(".st-key-start button").click()
            page.wait_for_function(VIDEO_PLAYING, timeout=90_000)
            page.locator(".st-key-live_bars").wait_for(timeout=60_000)
            page.locator(".st-key-live_timeline .js-plotly-plot").first.wait_for(timeout=60_000)
            time.sleep(8)  # a few seconds of timeline
            page.screenshot(path=str(OUT / "live.png"))
            browser.close()
    finally:
        app.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])

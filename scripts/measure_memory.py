"""Peak memory (RSS) of the Streamlit server through a full visit, as the hosted demo's budget counts it.

From a cold cache, the walk: Home (with the model card), every Explore tab, a tiny training run watched to its end,
Evaluate of the default model on PublicTest (plain, then flip-zoom), Photos (the example photo and
an uploaded one), Live streaming for 20 s. After each step it prints the server's VmRSS and its
peak so far (VmHWM), so the step that raises the peak is visible.

Run: .venv/bin/python scripts/measure_memory.py   (needs chromium, FER2013_PATH and the default model)
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from testkit.browser import CHROMIUM, VIDEO_PLAYING, RunningApp, drawn_face, launch_args, open_page, write_y4m  # noqa: E402


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def main() -> None:
    y4m = write_y4m(Path("/tmp/fer-studio-memory.y4m"), np.stack([drawn_face(240)]), size=240)
    photo = Path("/tmp/fer-studio-memory-photo.png")
    cv2.imwrite(str(photo), cv2.resize(drawn_face(240), (640, 480)))
    env = {key: os.environ.get(key, "") for key in ("FER2013_PATH", "FERPLUS_PATH")}
    runs, cache = tempfile.mkdtemp(prefix="fer-memory-runs-"), tempfile.mkdtemp(prefix="fer-memory-cache-")
    # A fresh cache: Explore parses the CSV cold and Evaluate scores PublicTest for real, as on a first visit.
    app = RunningApp({**env, "FER_RUNS_DIR": runs, "FER_CACHE_DIR": cache}, Path("/tmp/fer-studio-memory.log"))

    def report(step: str) -> None:
        figures = memory_mb(app.process.pid)
        print(f"{step:<42} RSS {figures['VmRSS']:6.0f} MB   peak so far {figures['VmHWM']:6.0f} MB", flush=True)

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=launch_args(y4m), headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            open_page(page, app.url, "", "FER Studio", timeout_ms=300_000)
            page.get_by_text("The full model card").first.click()
            report("Home, model card open")
            open_page(page, app.url, "explore", "Explore FER2013", timeout_ms=300_000)
            for tab in ("Class balance", "Sample faces", "Mean faces", "Pixel statistics", "Duplicates", "FER+ crowd votes"):
                page.get_by_role("tab", name=tab).click()
                page.wait_for_timeout(1500)
            report("Explore, every tab")
            open_page(page, app.url, "train", "Train")
            page.locator(".st-key-arch").click()
            page.keyboard.type("tiny")
            page.keyboard.press("Enter")
            epochs = page.locator(".st-key-epochs input")
            epochs.fill("2")
            epochs.press("Tab")
            page.get_by_role("button", name="Start training").click()
            page.get_by_text(re.compile(r"finished — epoch 2/2")).first.wait_for(timeout=300_000)
            report("Train, a tiny run to its end")
            open_page(page, app.url, "evaluate", "Evaluate")
            page.locator(".st-key-per_class .js-plotly-plot").first.wait_for(timeout=300_000)
            report("Evaluate, default model, plain")
            page.locator(".st-key-eval_tta").click()
            page.keyboard.type("flip-zoom")
            page.keyboard.press("Enter")
            page.wait_for_timeout(2000)
            page.locator(".st-key-per_class .js-plotly-plot").first.wait_for(timeout=600_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=600_000)
            report("Evaluate, flip-zoom")
            open_page(page, app.url, "photos", "Photos & video")
            page.locator(".st-key-photo_example").click()
            page.wait_for_timeout(5000)
            page.locator("input[type=file]").first.set_input_files(str(photo))
            page.wait_for_timeout(5000)
            report("Photos, example and an upload")
            open_page(page, app.url, "live", "Live")
            page.locator(".st-key-start button").click()
            page.wait_for_function(VIDEO_PLAYING, timeout=90_000)
            time.sleep(20)
            readout = page.get_by_text("ms median").first.inner_text()
            report(f"Live, 20 s ({readout.split(' · ')[0]})")
            browser.close()
    finally:
        peak = memory_mb(app.process.pid)
        app.stop()
        shutil.rmtree(runs, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    print(f"peak RSS (VmHWM) of the Streamlit server over the walk: {peak['VmHWM']:.0f} MB")


if __name__ == "__main__":
    main()

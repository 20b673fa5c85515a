"""Peak memory (RSS) of the Streamlit server after visiting every page and streaming Live.

Run: .venv/bin/python scripts/measure_memory.py   (needs chromium, the dataset and the default model)
Prints the server's VmHWM (peak resident set) and current VmRSS in MB.
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


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def main() -> None:
    y4m = write_y4m(Path("/tmp/fer-studio-memory.y4m"), np.stack([drawn_face(240)]), size=240)
    app = RunningApp({"FER2013_PATH": os.environ.get("FER2013_PATH", "")}, Path("/tmp/fer-studio-memory.log"))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=launch_args(y4m), headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for path, title in [("", "FER Studio"), ("explore", "Explore FER2013"), ("train", "Train"),
                                ("evaluate", "Evaluate"), ("photos", "Photos & video")]:
                open_page(page, app.url, path, title, timeout_ms=300_000)
                print(f"after {title}: {memory_mb(app.process.pid)}", flush=True)
            open_page(page, app.url, "live", "Live")
            page.locator(".st-key-start button").click()
            page.wait_for_function(VIDEO_PLAYING, timeout=90_000)
            time.sleep(20)
            readout = page.get_by_text("ms median").first.inner_text()
            print(f"after 20 s of Live ({readout}): {memory_mb(app.process.pid)}", flush=True)
            browser.close()
    finally:
        peak = memory_mb(app.process.pid)
        app.stop()
    print(f"peak RSS (VmHWM) of the Streamlit server: {peak['VmHWM']:.0f} MB")


if __name__ == "__main__":
    main()

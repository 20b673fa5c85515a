"""Frame-callback milliseconds measured inside the running app, as the Live page reports them.

For each setting, starts the app, opens Photos first (so Keras is imported in the server,
as it is for a real visitor), then streams a drawn face on Live for 25 s and reads the
page's own readout (median and p90 over the last 90 frames).

Run: .venv/bin/python scripts/measure_live.py [N]   (N: only the first N settings)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from fer_core.inference.faces import DEFAULT_DETECTOR  # noqa: E402
from testkit.browser import CHROMIUM, VIDEO_PLAYING, RunningApp, drawn_face, launch_args, open_page, write_y4m  # noqa: E402

SETTINGS = [  # label, detector, environment, expression challenge on
    ("auto (the default: blazeface on Live), with FER Studio's guard", "auto", {}, False),
    ("haar, with FER Studio's guard", "haar", {}, False),
    ("blazeface, with FER Studio's guard", "blazeface", {}, False),
    ("blazeface, expression challenge on", "blazeface", {}, True),
    ("haar, Streamlit's keras reset left on", "haar", {"FER_KEEP_STREAMLIT_KERAS_RESET": "1"}, False),
]


def measure(detector: str, env: dict[str, str], challenge: bool, y4m: Path) -> str:
    app = RunningApp(env, Path("/tmp/fer-studio-live-measure.log"))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=launch_args(y4m), headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            open_page(page, app.url, "photos", "Photos & video")
            open_page(page, app.url, "live", "Live")
            if detector != DEFAULT_DETECTOR:
                page.locator(".st-key-live_detector").click()
                page.keyboard.type(detector)
                page.keyboard.press("Enter")
                page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
            if challenge:
                page.get_by_text("Expression challenge").click()
                page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
            page.locator(".st-key-start button").click()
            page.wait_for_function(VIDEO_PLAYING, timeout=90_000)
            time.sleep(25)
            readout = page.get_by_text("ms median").first.inner_text()
            browser.close()
            return readout
    finally:
        app.stop()


def main() -> None:
    first = int(sys.argv[1]) if len(sys.argv) > 1 else len(SETTINGS)  # measure only the first N settings
    y4m = write_y4m(Path("/tmp/fer-studio-live.y4m"), np.stack([drawn_face(240)]), size=240)
    for label, detector, env, challenge in SETTINGS[:first]:
        print(f"{label}: {measure(detector, env, challenge, y4m)}", flush=True)


if __name__ == "__main__":
    main()

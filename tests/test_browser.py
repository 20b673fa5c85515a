"""The app as a person uses it: Debian's Chromium, driven by Playwright, with a fake camera.

The camera is a .y4m video made here from FER2013 faces (read from ../shared at test time,
never committed) or, on a machine without ../shared, from faces drawn with OpenCV; the app then
shows a small random-pixel dataset written at test time, so a fresh clone runs every test.
Screenshots of every step go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_CSV, random_faces, write_fer_csv

from testkit.browser import CHROMIUM, REPO_ROOT, VIDEO_PLAYING, RunningApp, drawn_face, launch_args, write_y4m

pytestmark = pytest.mark.browser
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FIXTURE_PER_CLASS = {"Training": 40, "PublicTest": 10}  # without ../shared: 350 random faces


@pytest.fixture(scope="module")
def dataset_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The FER2013 dev copy when it is beside the checkout (CI), otherwise a small file in the
    same layout written here, enough for Explore's charts, Evaluate and a tiny training run."""
    if SHARED_CSV.exists():
        return SHARED_CSV
    usage = [split for split, count in FIXTURE_PER_CLASS.items() for _ in range(7 * count)]
    labels = np.concatenate([np.tile(np.arange(7), count) for count in FIXTURE_PER_CLASS.values()])
    return write_fer_csv(tmp_path_factory.mktemp("dataset") / "fer2013.csv", random_faces(len(usage)), labels, usage)


SHARED_VOTES = SHARED_CSV.parents[1] / "ferplus" / "ferplus_dev.csv.gz"


@pytest.fixture(scope="module")
def votes_csv(tmp_path_factory: pytest.TempPathFactory, dataset_csv: Path) -> Path:
    """FER+ votes for the dataset: the dev copy's aligned votes, or, for the random faces, votes in
    which the crowd calls every fear face neutral and agrees with FER on the rest."""
    if dataset_csv == SHARED_CSV and SHARED_VOTES.exists():
        return SHARED_VOTES
    from fer_core.data.ferplus import TO_FER, VOTE_COLUMNS
    from fer_core.data.loading import load_dataset

    dataset = load_dataset(dataset_csv)
    column_of = {fer: column for column, fer in enumerate(TO_FER)}
    rows = []
    for usage, label in zip(dataset.usage, dataset.labels, strict=True):
        votes = [0] * len(VOTE_COLUMNS)
        votes[column_of[6 if label == 2 else int(label)]] = 9
        votes[8] = 1
        rows.append(f"{usage},x.png," + ",".join(map(str, votes)))
    path = tmp_path_factory.mktemp("votes") / "fer2013new.csv"
    path.write_text("Usage,Image name," + ",".join(VOTE_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, dataset_csv: Path, votes_csv: Path) -> Iterator[RunningApp]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: scripts/ensure_chromium.sh should have installed it")
        pytest.skip("chromium is not installed (make browser-deps)")
    if not (REPO_ROOT / "models" / "default" / "model.keras").exists():
        pytest.skip("needs the shipped default model")
    state = tmp_path_factory.mktemp("browser_state")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {"FER2013_PATH": str(dataset_csv), "FERPLUS_PATH": str(votes_csv), "FER_RUNS_DIR": str(state / "runs"), "FER_CACHE_DIR": str(state / "cache")}
    running = RunningApp(env, ARTIFACTS / "streamlit.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight happy PublicTest faces, or a drawn face (which both detectors find) without ../shared."""
    if SHARED_CSV.exists():
        from fer_core.data.loading import load_dataset

        public = load_dataset(SHARED_CSV).split("PublicTest")
        faces = public.images[np.flatnonzero(public.labels == 3)[:8]]
    else:
        faces = np.stack([drawn_face(96)] * 2)
    return write_y4m(tmp_path_factory.mktemp("camera") / "faces.y4m", faces)


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    """One Playwright for the module: a second sync_playwright() inside the first one fails."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(driver, camera_video: Path) -> Iterator[object]:
    instance = driver.chromium.launch(executable_path=CHROMIUM, args=launch_args(camera_video), headless=True)
    yield instance
    instance.close()


@pytest.fixture
def page(browser, app: RunningApp, request: pytest.FixtureRequest):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    console: list[str] = []
    tab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    yield tab
    (ARTIFACTS / f"console-{request.node.name}.txt").write_text("\n".join(console) + "\n")
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_page(page, app: RunningApp, path: str, title: str) -> None:
    page.goto(f"{app.url}/{path}")
    page.get_by_role("heading", name=title).first.wait_for(timeout=90_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=90_000)


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').first.inner_text()


@pytest.mark.parametrize(
    ("path", "title"),
    [("", "FER Studio"), ("explore", "Explore FER2013"), ("train", "Train"), ("evaluate", "Evaluate"), ("live", "Live"), ("photos", "Photos & video")],
)
def test_every_page_loads_without_an_exception(page, app: RunningApp, path: str, title: str) -> None:
    open_page(page, app, path, title)
    assert_no_exception(page)
    shot(page, f"page-{path or 'home'}")


def test_explore_shows_its_charts(page, app: RunningApp) -> None:
    open_page(page, app, "explore", "Explore FER2013")
    page.locator(".st-key-balance_chart .js-plotly-plot").wait_for(timeout=60_000)
    total = 32_298 if SHARED_CSV.exists() else 7 * sum(FIXTURE_PER_CLASS.values())
    assert page.get_by_text(f"{total:,} faces").count() + page.get_by_text(f"{total} faces").count() >= 1
    page.get_by_role("tab", name="Mean faces").click()
    page.locator(".st-key-mean_faces .js-plotly-plot").wait_for(timeout=30_000)
    assert_no_exception(page)
    shot(page, "explore-mean-faces")


def test_explore_crowd_matrix_opens_the_faces_of_a_clicked_cell(page, app: RunningApp) -> None:
    """A click on the cell 'FER says fear, the crowd says neutral' shows those faces with their votes."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    open_page(page, app, "explore", "Explore FER2013")
    page.get_by_role("tab", name="FER+ crowd votes").click()
    matrix = page.locator(".st-key-crowd_matrix")
    matrix.locator(".js-plotly-plot").wait_for(timeout=60_000)
    opened = ("() => document.querySelector('.st-key-crowd_fer input')?.value === 'fear'"
              " && document.querySelector('.st-key-crowd_says input')?.value === 'neutral'")
    for attempt in range(3):  # plotly may still be laying the plot out, or a rerun may swallow the first click
        matrix.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)
        box = matrix.locator(".nsewdrag").first.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 6.5 / 8, box["y"] + box["height"] * 2.5 / 7)  # row fear, column neutral
        try:
            page.wait_for_function(opened, timeout=15_000)
            break
        except PlaywrightTimeout:
            shot(page, f"explore-crowd-click-{attempt}")
    else:
        pytest.fail("three clicks on the matrix cell did not open it")
    page.get_by_text(re.compile(r"^#\d+: neutral \d+")).first.wait_for(timeout=30_000)
    assert_no_exception(page)
    shot(page, "explore-crowd-cell")


def _bar_classes_top_down(page) -> list[str]:
    """Read all tick labels in one JS call, since the fragment re-renders the chart several times a second."""
    ticks = page.wait_for_function(
        "() => { const t = [...document.querySelectorAll('.st-key-live_bars .ytick text')];"
        " return t.length === 7 ? t.map(e => [e.getBoundingClientRect().y, e.textContent]) : null; }",
        timeout=30_000,
    ).json_value()
    return [name for _, name in sorted(ticks)]


def start_camera(page, app: RunningApp) -> None:
    """Click Start and wait for the video. The page holds a start until the browser is quiet
    and restarts a stalled stream itself (streamlit-webrtc's double-start race, see
    ui/webrtc.py), so the wait allows for its restarts. Only if the page then gives up with
    its error does the test click Start once more, as a person would (CI once saw no video in
    90 s after many green runs; the warning keeps a second click visible). A stream that never plays
    fails with what the page said and the app's WebRTC log."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    gave_up = ('(document.body.innerText.includes("did not connect after several tries")'
               ' || document.body.innerText.includes("The camera did not start"))')
    for attempt in range(2):
        for press in range(3):  # a click that lands while the page reruns can be lost: a person clicks again
            page.locator(".st-key-start button").click(timeout=15_000)
            try:
                page.wait_for_function("() => !document.querySelector('.st-key-stop button').disabled", timeout=20_000)
                break
            except PlaywrightTimeout:
                shot(page, f"live-start-{press}")
                if not page.locator(".st-key-start button").is_enabled():
                    break  # Start took: the camera is starting, slowly
        else:
            pytest.fail(f"three clicks on Start never enabled Stop; the page said {page_state(page)}")
        page.wait_for_function(f"() => !{gave_up}", timeout=15_000)
        try:
            page.wait_for_function(f"() => ({VIDEO_PLAYING})() || {gave_up}", timeout=90_000)
        except PlaywrightTimeout:
            break
        if page.evaluate(f"({VIDEO_PLAYING})()"):
            if attempt:
                warnings.warn("the Live stream played only after a second click on Start", stacklevel=2)
            return
        page.wait_for_function("() => !document.querySelector('.st-key-start button').disabled", timeout=15_000)
    shot(page, "live-no-video")
    said = page.locator('[data-testid="stAlert"]').all_inner_texts()
    pytest.fail(f"the video never played; the page said {said}; the app's WebRTC log:\n{app.log_tail()}")


CAPTURES_SHOWN = """() => { const m = [...document.querySelectorAll('h3')]
  .map(h => h.textContent.match(/Captures \\((\\d+)\\)/)).find(Boolean); return m ? Number(m[1]) : 0; }"""


def page_state(page) -> str:
    """What a person would look at when a key seemed to do nothing: the buttons, the focus, the alerts."""
    return page.evaluate(
        """() => ({
          capture_disabled: document.querySelector('.st-key-capture button')?.disabled,
          stop_disabled: document.querySelector('.st-key-stop button')?.disabled,
          focus: document.activeElement?.tagName + (document.activeElement?.className ? '.' + document.activeElement.className : ''),
          alerts: [...document.querySelectorAll('[data-testid="stAlert"]')].map(a => a.innerText),
          running: !!document.querySelector('[data-testid="stStatusWidget"]'),
        })"""
    )


def press_until(page, key: str, arrived: str, attempts: int = 3, timeout_ms: int = 20_000) -> None:
    """Focus the page (not the video iframe) and press a shortcut key until ``arrived`` (a JS
    predicate) holds.

    Seen here under CPU load: one keypress in a few runs was lost while a fragment re-rendered;
    a person would press again, and so does the test (at most three times). ``arrived`` must
    also hold when a press lands late, after the next one (CI once waited for "Captures (1)"
    while, presumably, the page went on to two captures), so it tests "at least", not "exactly".
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen = []
    for attempt in range(attempts):
        page.get_by_role("heading", name="Live", exact=True).first.click()
        page.keyboard.press(key)
        try:
            page.wait_for_function(arrived, timeout=timeout_ms)
            if attempt:
                warnings.warn(f"{key} took {attempt + 1} presses; before each retry the page was {seen}", stacklevel=2)
            return
        except PlaywrightTimeout:
            seen.append(page_state(page))
    shot(page, f"live-{key.lower()}-lost")
    pytest.fail(f"{attempts} presses of {key} had no effect; the page after each: {seen}")


def test_live_camera_boxes_faces_and_space_esc_mirror_capture_stop(page, app: RunningApp) -> None:
    open_page(page, app, "live", "Live")
    start_camera(page, app)
    label = page.locator("h2").filter(has_text=re.compile(r"^(" + "|".join(CLASSES) + r") · \d+%$"))
    label.first.wait_for(timeout=60_000)
    assert _bar_classes_top_down(page) == CLASSES
    first_label = label.first.inner_text()
    page.wait_for_function(  # the fragment keeps refreshing: the readout moves on
        "() => [...document.querySelectorAll('p')].some(p => /callback [0-9.]+ ms median/.test(p.textContent) && !/ 0\\.0 fps/.test(p.textContent))",
        timeout=30_000,
    )
    page.locator(".st-key-live_timeline .js-plotly-plot").first.wait_for(timeout=30_000)  # the last 30 s, redrawn every second
    shot(page, "live-streaming")
    readout = page.get_by_text(re.compile(r"callback [0-9.]+ ms median")).first.inner_text()
    (ARTIFACTS / "live-callback.txt").write_text(readout + "\n")
    assert first_label

    press_until(page, "Space", f"() => ({CAPTURES_SHOWN})() >= 1")
    captured = page.evaluate(CAPTURES_SHOWN)
    page.locator(".st-key-capture button").click()
    page.wait_for_function(f"() => ({CAPTURES_SHOWN})() > {captured}", timeout=30_000)
    assert_no_exception(page)
    shot(page, "live-captured")

    press_until(page, "Escape", "() => !document.querySelector('.st-key-start button').disabled")
    page.wait_for_function(f"() => !({VIDEO_PLAYING})()", timeout=30_000)
    shot(page, "live-stopped-by-esc")

    start_camera(page, app)
    page.locator(".st-key-stop button").click()
    page.wait_for_function("() => !document.querySelector('.st-key-start button').disabled", timeout=30_000)
    page.wait_for_function(f"() => !({VIDEO_PLAYING})()", timeout=30_000)
    assert_no_exception(page)


def test_train_a_tiny_run_watch_its_curves_then_cancel(page, app: RunningApp) -> None:
    open_page(page, app, "train", "Train")
    epochs = page.locator(".st-key-epochs input")
    epochs.fill("50")
    epochs.press("Tab")
    page.get_by_role("button", name="Start training").click()
    # .first: while the monitor fragment redraws, the old and the new chart are briefly both in the page.
    page.locator(".st-key-curves .js-plotly-plot").first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"running — epoch \d+/50")).first.wait_for(timeout=60_000)
    shot(page, "train-running")
    page.locator(".st-key-cancel_run button").click()
    page.get_by_text(re.compile(r"cancelled — epoch \d+/50")).first.wait_for(timeout=60_000)
    # The whole page follows, without a reload: Start is free again, and so is deleting the run.
    page.wait_for_function(START_IS_FREE, timeout=30_000)
    page.wait_for_function(button_is_free("Delete this run"), timeout=30_000)
    assert_no_exception(page)
    shot(page, "train-cancelled")


def button_is_free(label: str) -> str:
    """JS: the button with this label is on the page and enabled (textContent: a collapsed expander hides innerText)."""
    return f"() => {{ const b = [...document.querySelectorAll('button')].find(b => b.textContent.includes({label!r})); return !!b && !b.disabled; }}"


START_IS_FREE = button_is_free("Start training")


def test_train_page_follows_a_run_to_its_end_without_a_reload(page, app: RunningApp) -> None:
    open_page(page, app, "train", "Train")
    expander = page.get_by_text("New training run")
    if not page.locator(".st-key-epochs").is_visible():
        expander.click()
    page.locator(".st-key-arch").click()
    page.keyboard.type("tiny")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('.st-key-arch input')?.value === 'tiny'", timeout=15_000)
    epochs = page.locator(".st-key-epochs input")
    epochs.fill("2")
    epochs.press("Tab")
    page.get_by_text(re.compile(r"Estimated duration: about")).first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"finished — epoch 2/2")).first.wait_for(timeout=180_000)
    page.wait_for_function(START_IS_FREE, timeout=30_000)
    page.wait_for_function(button_is_free("Make this run's model the app default"), timeout=30_000)
    page.wait_for_function(button_is_free("Delete this run"), timeout=30_000)
    assert_no_exception(page)
    shot(page, "train-finished")


def test_live_without_camera_permission_stops_asking_and_says_what_to_do(driver, app: RunningApp, camera_video: Path) -> None:
    """Without Chromium's fake permission prompt the camera is refused, as for a visitor who
    blocks it (or has none). streamlit-webrtc then restarts the failing start in a tight loop in
    the browser; the page must stop asking and explain, not wait forever."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from ui.webrtc import NO_CAMERA_S

    args = [arg for arg in launch_args(camera_video) if arg != "--use-fake-ui-for-media-stream"]
    refusing = driver.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        page = refusing.new_page(viewport={"width": 1400, "height": 1000})
        console: Counter[str] = Counter()  # the component's restart loop, seen from outside the page
        page.on("console", lambda message: console.update([message.text.split(":")[0][:60]]))
        open_page(page, app, "live", "Live")
        page.locator(".st-key-start button").click()
        # The page decides on a rerun NO_CAMERA_S after Start; the browser's restart loop can hold
        # those reruns back (it took ~25 s here, and three runs on 2026-12-08 waited over 50 s), so
        # the test allows a loaded machine 90 s more and says what the browser was doing if not.
        try:
            page.get_by_text("The camera did not start").wait_for(timeout=(NO_CAMERA_S + 90) * 1000)
        except PlaywrightTimeout:
            shot(page, "live-camera-refused-timeout")
            pytest.fail(f"no 'camera did not start' {NO_CAMERA_S + 90:.0f} s after Start; the browser's console, most "
                        f"frequent first: {console.most_common(4)}; the app's WebRTC log:\n{app.log_tail(20)}")
        page.wait_for_function("() => !document.querySelector('.st-key-start button').disabled", timeout=15_000)
        assert not page.evaluate(f"({VIDEO_PLAYING})()")
        assert_no_exception(page)
        shot(page, "live-camera-refused")
    finally:
        refusing.close()

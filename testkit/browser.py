"""A running app, a fake-camera .y4m file and Chromium's flags: shared by the browser tests and the measuring scripts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# True while the streamlit-webrtc iframe's <video> really plays a live stream.
VIDEO_PLAYING = """() => {
  const frame = document.querySelector('iframe[title="streamlit_webrtc.component.webrtc_streamer"]');
  const video = frame && frame.contentDocument && frame.contentDocument.querySelector('video');
  return !!(video && video.srcObject && video.srcObject.active && !video.paused && video.videoWidth > 0);
}"""


def open_page(page, base_url: str, path: str, title: str, timeout_ms: int = 120_000) -> None:
    """Go to a page and wait until its title shows and Streamlit has finished running it."""
    page.goto(f"{base_url}/{path}")
    page.get_by_role("heading", name=title).first.wait_for(timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stSpinner"]', state="detached", timeout=timeout_ms)


def write_y4m(path: Path, faces: np.ndarray, *, frames_per_face: int = 15, size: int = 200) -> Path:
    """A 640x480 15 fps I420 video: each grey face scaled to ``size`` px, one after another, swaying."""
    width, height = 640, 480
    with path.open("wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        chroma = np.full((height // 2) * (width // 2), 128, np.uint8).tobytes()
        for index, face in enumerate(faces):
            frame = np.full((height, width), 110, np.uint8)
            big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
            for step in range(frames_per_face):
                x = (width - size) // 2 + int(20 * np.sin((index * frames_per_face + step) / 6))
                y = (height - size) // 2
                shifted = frame.copy()
                shifted[y : y + size, x : x + size] = big
                handle.write(b"FRAME\n" + shifted.tobytes() + chroma + chroma)
    return path


def drawn_face(size: int = 240) -> np.ndarray:
    """A cartoon face drawn with OpenCV (both detectors find it): camera input that holds no
    FER2013 pixels, so screenshots made with it may be committed."""
    image = np.full((size, size), 70, np.uint8)
    centre = size // 2
    cv2.ellipse(image, (centre, centre), (int(size * 0.33), int(size * 0.43)), 0, 0, 360, 200, -1)
    for side in (-1, 1):
        eye_x, eye_y = centre + side * int(size * 0.14), centre - int(size * 0.1)
        cv2.ellipse(image, (eye_x, eye_y), (int(size * 0.06), int(size * 0.035)), 0, 0, 360, 255, -1)
        cv2.circle(image, (eye_x, eye_y), int(size * 0.025), 30, -1)
        brow = (eye_x - int(size * 0.07), eye_y - int(size * 0.08)), (eye_x + int(size * 0.07), eye_y - int(size * 0.09))
        cv2.line(image, *brow, 60, max(2, size // 60))
    cv2.line(image, (centre, centre - int(size * 0.04)), (centre - int(size * 0.03), centre + int(size * 0.09)), 150, 2)
    cv2.ellipse(image, (centre, centre + int(size * 0.18)), (int(size * 0.12), int(size * 0.06)), 0, 0, 180, 60, max(2, size // 40))
    return cv2.GaussianBlur(image, (5, 5), 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Imported by the app's Python at start-up (a sitecustomize on its PYTHONPATH): WebRTC's
# signalling and ICE steps go to the app log, so a stream that never connects in CI can be
# diagnosed from the test report instead of guessed at.
WEBRTC_LOGGING = """
import logging
logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
for name in ("aioice", "aiortc", "streamlit_webrtc"):
    logging.getLogger(name).setLevel(logging.INFO)
"""


class RunningApp:
    """``streamlit run app.py`` on a loopback port, in its own process group, WebRTC logged."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        startup = log_path.parent / "sitecustomize"
        startup.mkdir(exist_ok=True)
        (startup / "sitecustomize.py").write_text(WEBRTC_LOGGING)
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(startup), os.environ.get("PYTHONPATH", "")]))}
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_path.open("wb")
        command = [
            sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={self.port}",
            "--server.address=127.0.0.1", "--server.fileWatcherType=none", "--browser.gatherUsageStats=false",
        ]
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"streamlit did not start; see {log_path}")

    def log_tail(self, lines: int = 60, contains: tuple[str, ...] = ("aioice", "aiortc", "webrtc", "Error", "Traceback")) -> str:
        """The app log's last matching lines, for a failure message."""
        self.log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        wanted = [line[:240] for line in text if any(word in line for word in contains) and "Adding ICE candidate" not in line]
        return "\n".join(wanted[-lines:])

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def launch_args(y4m: Path) -> list[str]:
    return [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}",
    ]

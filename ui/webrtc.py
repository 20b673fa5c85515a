"""WebRTC for the Live page: ICE (STUN/TURN) servers from deployment settings, and a
watchdog for a start-up race in streamlit-webrtc.

A hosted app behind NAT (Streamlit Community Cloud) needs a TURN relay; locally and in
tests no external server is used at all (host candidates connect on one machine/LAN).

The race (streamlit-webrtc 0.79, seen in headless Chromium here): with
``desired_playing_state``, the frontend's start lazily imports its WebRTC adapter before it
marks itself as signalling; a second render of the component (Streamlit sends its
arguments more than once per script run) landing in that window makes it open *two* peer
connections. The server answers one, the browser applies the answer to the one it kept, and
when they differ the stream never connects (ICE fails after 15 s, and the component's own
restart races the same way). It happens mostly on the first start of a page and on a start
right after a stop (the browser reports "stopped" ~0.5 s before it is, and a rerun follows);
a start a couple of seconds after the stream has stopped opened one connection in 7 of 7
tries. So ``next_stream_action`` delays a start until the browser is quiet and restarts a
stream that still has not played.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import streamlit as st


def ice_servers(settings: Mapping[str, object]) -> list[dict]:
    """Servers for ``rtc_configuration['iceServers']``, best configured source first.

    * ``TURN_URLS`` (comma-separated) with ``TURN_USERNAME`` / ``TURN_CREDENTIAL``: any TURN
      service with static credentials (coturn, metered.ca, ...).
    * ``CLOUDFLARE_TURN_KEY_ID`` + ``CLOUDFLARE_TURN_KEY_API_TOKEN``: short-lived Cloudflare credentials.
    * ``TWILIO_ACCOUNT_SID`` + ``TWILIO_AUTH_TOKEN``: Twilio Network Traversal (needs ``pip install twilio``).
    * nothing: no servers (local use).
    """
    get = lambda name: str(settings.get(name) or "").strip()  # noqa: E731
    if get("TURN_URLS"):
        server = {"urls": [url.strip() for url in get("TURN_URLS").split(",") if url.strip()]}
        if get("TURN_USERNAME"):
            server.update(username=get("TURN_USERNAME"), credential=get("TURN_CREDENTIAL"))
        return [server]
    if get("CLOUDFLARE_TURN_KEY_ID") and get("CLOUDFLARE_TURN_KEY_API_TOKEN"):
        from streamlit_webrtc.credentials import get_cloudflare_ice_servers

        return list(get_cloudflare_ice_servers(get("CLOUDFLARE_TURN_KEY_ID"), get("CLOUDFLARE_TURN_KEY_API_TOKEN")))
    if get("TWILIO_ACCOUNT_SID") and get("TWILIO_AUTH_TOKEN"):
        from streamlit_webrtc.credentials import get_twilio_ice_servers

        return list(get_twilio_ice_servers(get("TWILIO_ACCOUNT_SID"), get("TWILIO_AUTH_TOKEN")))
    return []


def live_camera(key: str, *, playing: bool, callback, ice: list[dict]):
    """The WebRTC camera, driven from the page's own Start/Stop buttons.

    Kept as the page's only call into streamlit-webrtc so AppTests can replace it
    (``webrtc_streamer`` crashes under AppTest) and so the page stays thin.
    """
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    return webrtc_streamer(
        key=key,
        mode=WebRtcMode.SENDRECV,
        rtc_configuration={"iceServers": ice},
        media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}, "audio": False},
        desired_playing_state=playing,
        video_frame_callback=callback,
        async_processing=True,
    )


# How long a started stream may take to play before the page stops and starts it again.
CONNECT_PATIENCE_S = 12.0
# How long the browser must have been stopped before a start (a quiet start opens one connection).
RESTART_PAUSE_S = 2.0
MAX_RECONNECTS = 3
# How long a wanted camera may stay silent (never signalling, never playing) before the page stops
# asking. streamlit-webrtc 0.79 restarts a failed start at once while desired_playing_state is True:
# with the camera blocked or missing, headless Chromium logged 53,670 console lines in 24 s and then
# "Cannot create so many PeerConnections", while the server only ever saw a silent browser. Long
# enough for a visitor to answer the browser's camera prompt (no signalling until it is answered)
# and for a loaded machine's first start (signalling came within ~5-10 s in the browser tests).
NO_CAMERA_S = 20.0


def next_stream_action(
    *, wanted: bool, start_pending: bool, playing: bool, signalling: bool, waiting_s: float | None,
    stopped_s: float | None, reconnects: int, silent_s: float | None = None,
) -> str:
    """What the Live page should do with the stream now: ``"start"``, ``"stop-to-retry"``,
    ``"give-up"``, ``"no-camera"`` or ``"wait"``.

    ``waiting_s``: time since the browser's offer while not playing; ``stopped_s``: time since
    the browser was last seen with no stream; ``silent_s``: time since the camera was wanted
    without the browser ever signalling or playing. Starts wait for a quiet browser (the race
    above); a stream that has not played ``CONNECT_PATIENCE_S`` after its offer is stopped and
    started again, ``MAX_RECONNECTS`` times at most; a browser silent for ``NO_CAMERA_S`` has no
    camera it may use.
    """
    if wanted and not (playing or signalling) and silent_s is not None and silent_s > NO_CAMERA_S:
        return "no-camera"
    if start_pending:
        quiet = not (playing or signalling) and stopped_s is not None and stopped_s >= RESTART_PAUSE_S
        return "start" if quiet else "wait"
    if wanted and not playing and waiting_s is not None and waiting_s > CONNECT_PATIENCE_S:
        return "stop-to-retry" if reconnects < MAX_RECONNECTS else "give-up"
    return "wait"


def stream_status() -> dict:
    """The Live page's stream bookkeeping in the session: when the browser sent its offer,
    since when it has been stopped, whether a start is waiting, how many restarts, and whether
    the browser has answered the current start at all (or since when it has been silent)."""
    return st.session_state.setdefault("stream", {"offered_at": None, "stopped_at": None, "start_pending": False, "reconnects": 0,
                                                  "silent_since": None, "heard": False})


def request_camera(on: bool) -> None:
    """Start (once the browser is quiet) or stop the stream: sets ``camera_on`` in the session."""
    stream = stream_status()
    stream.update(offered_at=None, start_pending=on, reconnects=0)
    stopped = stream["stopped_at"]
    st.session_state.camera_on = on and stopped is not None and time.time() - stopped >= RESTART_PAUSE_S
    if st.session_state.camera_on:
        stream["start_pending"] = False


def watch_stream(stream_context) -> None:
    """Start a pending stream once the browser is quiet; restart one that has not played a few
    seconds after its offer (timed from the offer, not the click, so a visitor answering the
    browser's camera prompt is not counted as a failed connection); stop asking for a camera the
    browser stays silent about (blocked or missing), with a message saying what to do."""
    stream = stream_status()
    state = stream_context.state
    now = time.time()
    if state.playing or not state.signalling:
        stream["offered_at"] = None
    elif stream["offered_at"] is None:
        stream["offered_at"] = now
    if state.playing or state.signalling or st.session_state.camera_on:
        stream["stopped_at"] = None
    elif stream["stopped_at"] is None:
        stream["stopped_at"] = now
    if not st.session_state.camera_on:
        stream.update(silent_since=None, heard=False)
    elif state.playing or state.signalling:
        stream.update(silent_since=None, heard=True)
    elif not stream.get("heard") and stream.get("silent_since") is None:
        stream["silent_since"] = now
    action = next_stream_action(
        wanted=st.session_state.camera_on, start_pending=stream["start_pending"], playing=state.playing,
        signalling=state.signalling, reconnects=stream["reconnects"],
        waiting_s=None if stream["offered_at"] is None else now - stream["offered_at"],
        stopped_s=None if stream["stopped_at"] is None else now - stream["stopped_at"],
        silent_s=None if stream.get("silent_since") is None else now - stream["silent_since"],
    )
    if action == "start":
        st.session_state.camera_on = True
        stream.update(start_pending=False, stopped_at=None)
        st.rerun(scope="app")
    elif action == "stop-to-retry":
        st.session_state.camera_on = False
        stream.update(start_pending=True, reconnects=stream["reconnects"] + 1, offered_at=None)
        st.rerun(scope="app")
    elif action == "no-camera":
        st.session_state.camera_on = False
        stream.update(start_pending=False, offered_at=None)
        st.session_state.stream_error = (
            "The camera did not start: the browser may have blocked it, or there is no camera. Allow the camera "
            "(the camera icon in the address bar), then press Start camera again. No webcam? **Photos & video** has "
            "an example photo."
        )
        st.rerun(scope="app")
    elif action == "give-up":
        st.session_state.camera_on = False
        stream.update(offered_at=None)
        st.session_state.stream_error = (
            "The video stream did not connect after several tries. Locally: check that the browser may use the camera. "
            "Hosted: the deployment needs a TURN server (see README, 'Deploy')."
        )
        st.rerun(scope="app")

"""WebRTC settings: ICE (STUN/TURN) servers from deployment settings.

A hosted app behind NAT (Streamlit Community Cloud) needs a TURN relay; locally and in
tests no external server is used at all (host candidates connect on one machine/LAN).
"""

from __future__ import annotations

from collections.abc import Mapping


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

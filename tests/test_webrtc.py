"""WebRTC settings and the Live page's stream watchdog (pure logic; the real stream is in test_browser)."""

from __future__ import annotations

import pytest

from ui.webrtc import CONNECT_PATIENCE_S, MAX_RECONNECTS, NO_CAMERA_S, RESTART_PAUSE_S, ice_servers, next_stream_action


def test_no_settings_means_no_ice_servers_for_local_use() -> None:
    assert ice_servers({}) == []


def test_static_turn_settings_become_one_server_with_credentials() -> None:
    servers = ice_servers({"TURN_URLS": "turn:a.example:3478, turns:a.example:5349 ,", "TURN_USERNAME": "u", "TURN_CREDENTIAL": "p"})
    assert servers == [{"urls": ["turn:a.example:3478", "turns:a.example:5349"], "username": "u", "credential": "p"}]


def action(**overrides) -> str:
    state = {"wanted": True, "start_pending": False, "playing": False, "signalling": True, "waiting_s": 0.0,
             "stopped_s": None, "reconnects": 0}
    return next_stream_action(**{**state, **overrides})


def test_a_stream_that_plays_or_is_young_is_left_alone() -> None:
    assert action(playing=True, signalling=False, waiting_s=None) == "wait"
    assert action(waiting_s=CONNECT_PATIENCE_S - 1) == "wait"
    assert action(wanted=False, waiting_s=CONNECT_PATIENCE_S + 1) == "wait"


def test_a_start_waits_until_the_browser_has_been_stopped_for_a_pause() -> None:
    pending = {"start_pending": True, "wanted": False, "waiting_s": None}
    assert action(**pending, signalling=True) == "wait"  # the browser has not stopped yet
    assert action(**pending, signalling=False, stopped_s=None) == "wait"
    assert action(**pending, signalling=False, stopped_s=RESTART_PAUSE_S / 2) == "wait"
    assert action(**pending, signalling=False, stopped_s=RESTART_PAUSE_S) == "start"


def test_a_stalled_stream_is_stopped_to_be_started_again() -> None:
    assert action(waiting_s=CONNECT_PATIENCE_S + 1) == "stop-to-retry"


@pytest.mark.parametrize("reconnects", [MAX_RECONNECTS, MAX_RECONNECTS + 3])
def test_after_the_last_reconnect_the_page_gives_up(reconnects: int) -> None:
    assert action(waiting_s=CONNECT_PATIENCE_S + 1, reconnects=reconnects) == "give-up"


def test_a_browser_silent_about_the_camera_is_asked_no_longer() -> None:
    silent = {"signalling": False, "waiting_s": None}
    assert action(**silent, silent_s=NO_CAMERA_S + 1) == "no-camera"  # blocked or missing: the component loops on its own
    assert action(**silent, silent_s=NO_CAMERA_S - 1) == "wait"  # time to answer the browser's prompt
    assert action(**silent, silent_s=None) == "wait"  # it has signalled since this start
    assert action(**silent, silent_s=NO_CAMERA_S + 1, wanted=False) == "wait"
    assert action(silent_s=NO_CAMERA_S + 1) == "wait"  # signalling now: the connection watchdog's case

"""Deployment settings read from Streamlit secrets or the environment (secrets win)."""

from __future__ import annotations

import os

import streamlit as st


def secrets() -> dict:
    """``st.secrets`` as a plain dict; empty when the app has no secrets file."""
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except (FileNotFoundError, KeyError, AttributeError, Exception):  # noqa: BLE001 - no secrets.toml raises
        return {}


def setting(name: str, default: str = "") -> str:
    value = secrets().get(name, os.environ.get(name, default))
    return str(value) if value is not None else default


def public_demo_mode() -> bool:
    """A hosted public app caps training and hides destructive actions (``FER_PUBLIC_DEMO``)."""
    return setting("FER_PUBLIC_DEMO", "").lower() in ("1", "true", "yes", "on")


def all_settings() -> dict:
    """Environment variables overlaid with Streamlit secrets (secrets win), for deployment keys."""
    return {**os.environ, **secrets()}

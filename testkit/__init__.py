"""Helpers that tests and the measuring scripts in scripts/ share (a running app, a fake camera, Chromium)."""

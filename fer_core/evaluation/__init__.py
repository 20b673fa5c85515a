"""Scoring a model honestly: metrics, calibration, significance."""

"""Placeholder until its issue lands."""

import streamlit as st

from ui.bootstrap import bootstrap

bootstrap()  # before anything loads TensorFlow: see ui/bootstrap.py

st.title("Photos")
st.info("Coming soon.")

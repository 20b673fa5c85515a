"""Placeholder until its issue lands."""

import streamlit as st

st.title("Live")
st.info("Coming soon.")

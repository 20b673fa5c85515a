"""Placeholder until its issue lands."""

import streamlit as st

st.title("Photos")
st.info("Coming soon.")

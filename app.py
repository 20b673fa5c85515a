"""FER Studio: explore FER2013, train and evaluate CNNs, and read expressions live.

Run with ``make run`` (or ``streamlit run app.py`` inside the project's virtualenv).
"""

import streamlit as st

st.set_page_config(page_title="FER Studio", page_icon="🙂", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/explore.py", title="Explore", icon="🔍", url_path="explore"),
    st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("pages/evaluate.py", title="Evaluate", icon="📊", url_path="evaluate"),
    st.Page("pages/live.py", title="Live", icon="🎥", url_path="live"),
    st.Page("pages/photos.py", title="Photos & video", icon="🖼️", url_path="photos"),
]
st.navigation(pages).run()

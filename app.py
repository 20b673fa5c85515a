"""FER Studio: explore FER2013, train and evaluate CNNs, and read expressions live.

Run with ``make run`` (or ``streamlit run app.py`` inside the project's virtualenv).
"""

import streamlit as st

from ui.bootstrap import bootstrap  # first: it fixes import order (see ui/bootstrap.py)

bootstrap()
st.set_page_config(page_title="FER Studio", page_icon=":material/mood:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/search:", url_path="explore"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
    st.Page("pages/live.py", title="Live", icon=":material/videocam:", url_path="live"),
    st.Page("pages/photos.py", title="Photos & video", icon=":material/photo_library:", url_path="photos"),
]
st.navigation(pages).run()

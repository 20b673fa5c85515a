"""Photos & video: the Live model without WebRTC, on uploads, a camera snapshot or a video file."""

import tempfile
from pathlib import Path

import streamlit as st

from fer_core import charts
from fer_core.data.images import decode_image
from fer_core.errors import FerError
from fer_core.inference.drawing import annotate
from fer_core.inference.faces import DEFAULT_DETECTOR, DETECTOR_CHOICES, DETECTOR_HELP
from fer_core.inference.timeline import expression_shares, shares_line
from fer_core.inference.video import analyse_video
from fer_core.labels import WHAT_IT_READS
from ui.bootstrap import bootstrap
from ui.faces_view import download_buttons, face_report
from ui.models import model_loader, model_sidebar
from ui.predictors import session_predictor

bootstrap()  # before anything loads TensorFlow: see ui/bootstrap.py

EXAMPLE_PHOTO = Path(__file__).resolve().parent.parent / "ui" / "assets" / "astronaut.jpg"  # for visitors without a photo

st.title("Photos & video")
chosen = model_sidebar(live=True)
detector = st.sidebar.selectbox("Face detector", DETECTOR_CHOICES, index=DETECTOR_CHOICES.index(DEFAULT_DETECTOR), key="photo_detector",
                                help=DETECTOR_HELP)
thorough = st.sidebar.toggle("Thorough stills", True, key="photo_thorough",
                             help="Average each face over six views (mirror image and 0.9x/1.1x zoom): about 1.2 points "
                                  "more accurate on PublicTest than the live setting, at six passes per face. Videos "
                                  "always use the live setting.")
st.sidebar.caption(WHAT_IT_READS)
if chosen is None:
    st.stop()
model_label, model_path = chosen
predictor = session_predictor(model_path, detector, slot="photo_predictor", tta="flip-zoom" if thorough else None)
video_predictor = session_predictor(model_path, detector, slot="video_predictor", use="video")
keras_model = model_loader(model_path)

photos_tab, camera_tab, video_tab = st.tabs(["Upload photos", "Camera snapshot", "Video file"])


def show_photo(name: str, content: bytes, key: str) -> None:
    try:
        image = decode_image(content, name)
    except FerError as exc:
        st.error(str(exc))
        return
    faces = predictor.predict(image, photo=True)
    annotated = annotate(image, faces)
    st.image(annotated, channels="BGR", caption=f"{name}: " + (", ".join(f"{f.label} {f.confidence:.0%}" for f in faces) or "no face"))
    if not faces:
        st.warning("No face found in this image.")
        return
    if len(faces) == 1 and faces[0].box == (0, 0, image.shape[1], image.shape[0]):
        st.info("No face was detected, so the whole image was classified as one face (it looks like a face crop).")
    for number, face in enumerate(faces):
        face_report(face, keras_model, key=f"{key}_{number}", title=f"face {number + 1}: {face.label}")
    download_buttons(annotated, faces, Path(name).stem, key=key)


with photos_tab:
    uploads = st.file_uploader("Photos (JPEG, PNG, WebP, GIF, BMP, TIFF)", accept_multiple_files=True, key="photo_uploads",
                               type=["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"])
    for index, upload in enumerate(uploads or []):
        with st.expander(upload.name, expanded=index < 3):
            show_photo(upload.name, upload.getvalue(), key=f"upload_{index}")
    if not uploads and st.toggle("Try an example photo", key="photo_example",
                                 help="NASA's portrait of astronaut Eileen Collins (public domain), not a FER2013 face."):
        show_photo(EXAMPLE_PHOTO.name, EXAMPLE_PHOTO.read_bytes(), key="example")

with camera_tab:
    snapshot = st.camera_input("Take a photo", key="camera_snapshot")
    if snapshot is not None:
        show_photo("snapshot.jpg", snapshot.getvalue(), key="snapshot")

with video_tab:
    video = st.file_uploader("A video (MP4, WebM, AVI, MOV)", type=["mp4", "webm", "avi", "mov", "mkv"], key="video_upload")
    cols = st.columns(2)
    every_nth = cols[0].slider("Analyse every Nth frame", 1, 30, 5, key="every_nth")
    smoothing = cols[1].toggle("Smooth over frames", True, key="video_smoothing")
    if video is not None and st.button("Analyse video", key="analyse_video", type="primary"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(video.name).name
            path.write_bytes(video.getvalue())
            progress = st.progress(0.0, text="Analysing…")
            try:
                analysis = analyse_video(path, video_predictor, every_nth=every_nth, smoothing=smoothing,
                                         on_progress=lambda share: progress.progress(share, text=f"Analysing… {share:.0%}"))
            except FerError as exc:
                st.error(str(exc))
                analysis = None
            progress.empty()  # done: "Analysing… 100 %" would otherwise stay above the results
        if analysis is not None:
            st.session_state["video_analysis"] = (video.name, analysis)
    if "video_analysis" in st.session_state:
        name, analysis = st.session_state["video_analysis"]
        timeline = analysis.timeline
        with_face = timeline.dropna()
        st.caption(f"{name}: {len(timeline)} frames analysed of {analysis.frames_total} ({analysis.fps:.0f} fps); a face in {len(with_face)}.")
        if analysis.truncated:
            st.warning(analysis.describe_truncation(name) + ".")
        if len(with_face):
            st.plotly_chart(charts.probability_timeline_figure(with_face), key="timeline")
            st.caption("Leading expression, share of the analysed frames with a face: " + shares_line(expression_shares(timeline)))
        st.image([frame for _, frame in analysis.key_frames], channels="BGR", width=320,
                 caption=[f"{time_s:.1f} s" for time_s, _ in analysis.key_frames])
        st.caption("Key frames show each frame's own answer; the timeline above is smoothed when smoothing is on.")
        st.download_button("Timeline (CSV)", timeline.to_csv(index=False), f"{Path(name).stem}-timeline.csv", "text/csv", key="timeline_csv")

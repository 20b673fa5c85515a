"""Faces in images: detection, the predictor, lighting, Live, video, drawing, the timeline, the challenge."""

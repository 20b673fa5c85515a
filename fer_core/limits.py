"""Every bound on what a file may cost, in one place: the CLI and the app's uploads share them.

A hostile or broken file (a zip or gzip bomb, a 15000x15000 PNG that is 687 KB on disk,
/dev/zero given as a photo) must end in one clear message in bounded time and memory, never
in a MemoryError that takes the good files beside it down. Each limit is checked before the
work it bounds: sizes from headers and zip directories, bytes while reading or inflating.
FER2013 itself is far inside all of them (35,887 faces, 296 MB of CSV text, 48x48 images).
"""

MAX_TEXT_BYTES = 1 << 30  # a dataset CSV's text once decompressed, at any level of nesting (FER2013: 296 MB)
MAX_ARCHIVE_MEMBERS = 200_000  # files in a dataset zip (the image-folder release: 35,887)
MAX_ARCHIVE_BYTES = 2 << 30  # a dataset zip's members inflated, in all (checked from its directory first)
MAX_FACE_IMAGE_PIXELS = 1_000_000  # one image of an image-folder dataset (FER2013's are 48x48)
MAX_IMAGE_BYTES = 64 << 20  # a photo file read for prediction
MAX_IMAGE_PIXELS = 50_000_000  # a photo decoded for prediction (a 50-megapixel camera; 150 MB as RGB)
MAX_MODEL_BYTES = 1 << 30  # a .keras file on disk
MAX_MODEL_INFLATED_BYTES = 2 << 30  # the same archive's members inflated (the default model: 15 MB)
MAX_VOTES_BYTES = 16 << 20  # a FER+ votes file (Microsoft's: 1.1 MB of text)

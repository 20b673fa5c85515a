"""One exception type for every problem a user can fix (bad file, bad model, bad argument).

The UI shows its message as is and the CLI prints it as one ``error: ...`` line with
exit code 2, so messages must be a single plain sentence that names the culprit.
"""


class FerError(Exception):
    """A user-facing error whose message is safe and sufficient to show on its own."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """A third-party exception as one short line: its first line, or its type when it has no text."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__

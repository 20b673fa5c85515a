"""Project rules that code review alone would let slip."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "fer_core"


def test_fer_core_never_imports_streamlit() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in ("streamlit", "streamlit_webrtc", "ui")]
    assert offenders == []


def test_no_fer2013_rows_are_tracked() -> None:
    import subprocess

    root = CORE.parent
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=False).stdout.split()
    leaks = [f for f in files if f.endswith((".npz", ".npy")) or ("fer2013" in f.lower() and f.endswith((".csv", ".gz", ".zip")))]
    for name in files:
        path = root / name
        if path.suffix in (".csv", ".txt") and path.is_file():
            head = path.read_text(errors="replace")[:40]
            if head.startswith(("emotion,pixels", "emotion,Usage,pixels", "pixels")):
                leaks.append(name)
    assert leaks == []

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
    shipped_votes = "vendor/ferplus/fer2013new.csv.gz"  # Microsoft's FER+ votes (MIT): counts per row, no pixels
    leaks = [f for f in files if f.endswith((".npz", ".npy")) or ("fer2013" in f.lower() and f.endswith((".csv", ".gz", ".zip")) and f != shipped_votes)]
    if shipped_votes in files:
        import gzip

        with gzip.open(root / shipped_votes, "rt") as handle:
            assert handle.readline().startswith("Usage,Image name,neutral"), "the shipped FER+ file must hold votes only"
    for name in files:
        path = root / name
        if path.suffix in (".csv", ".txt") and path.is_file():
            head = path.read_text(errors="replace")[:40]
            if head.startswith(("emotion,pixels", "emotion,Usage,pixels", "pixels")):
                leaks.append(name)
    assert leaks == []


def _package_imports() -> dict[str, list[tuple[str, bool]]]:
    """Each fer_core module's imports of fer_core modules, with whether each sits at the module's top."""
    def name_of(path: Path) -> str:
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(path): path for path in CORE.rglob("*.py")}
    imports: dict[str, list[tuple[str, bool]]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fer_core"):
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names]
                found += [(target, id(node) in top) for target in targets if target in modules and target != module]
        imports[module] = found
    return imports


def test_fer_core_imports_its_own_modules_at_the_top() -> None:
    """Imports inside functions were how the old flat package dodged its circles; only heavy
    third-party imports (TensorFlow, Keras) may wait for the function that needs them."""
    inner = [(module, target) for module, found in _package_imports().items() for target, at_top in found if not at_top]
    assert inner == []


def test_fer_core_has_no_import_circle() -> None:
    graph = {module: {target for target, _ in found} for module, found in _package_imports().items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError("import circle: " + " -> ".join((*path[path.index(module):], module)))
        if module in done:
            return
        for target in graph[module]:
            visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())

"""The house plan holds: data flows one way through the modules, the library never imports the
service, and no class grows into a second house (docs/design.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("streamlabels", "service")


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every file of the two packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Dotted names an import statement reaches (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def _graph() -> dict[str, set[str]]:
    """Which module imports which, counting imports anywhere (inside functions too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            for target in _imported(node, name, path.name == "__init__.py"):
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_the_modules():
    assert _cycles(_graph()) == []


def test_the_library_never_imports_the_service():
    """Under the service's folder name or the name it installs as (``streamlabels_service``)."""
    leaks = sorted(
        f"{name} -> {target}"
        for name, path in _modules().items()
        if name.startswith("streamlabels")
        for node in ast.walk(ast.parse(path.read_text()))
        for target in _imported(node, name, path.name == "__init__.py")
        if target.split(".")[0] in ("service", "streamlabels_service")
    )
    assert leaks == []


def test_kernels_import_nothing_above_them():
    above = sorted(
        f"{a} -> {b}"
        for a, targets in _graph().items()
        if a.startswith("streamlabels.kernels")
        for b in targets
        if not b.startswith("streamlabels.kernels")
    )
    assert above == []


def _class_lengths() -> dict[str, int]:
    lengths = {}
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                lengths[f"{name}.{node.name}"] = node.end_lineno - node.lineno + 1
    return lengths


def _lengths_with_bases() -> dict[str, int]:
    """Each class's lines together with those of its bases defined in the project (a mixin is
    part of the class it is mixed into)."""
    classes = {}
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base).rpartition(".")[2] for base in node.bases]
                classes[f"{name}.{node.name}"] = (node.end_lineno - node.lineno + 1, bases)
    by_short = {}
    for qualified, (_, bases) in classes.items():
        by_short.setdefault(qualified.rpartition(".")[2], []).append(qualified)

    def total(qualified: str, seen: set) -> int:
        lines, bases = classes[qualified]
        for base in bases:
            for other in by_short.get(base, []):
                if other not in seen:
                    seen.add(other)
                    lines += total(other, seen)
        return lines

    return {name: total(name, {name}) for name in classes}


def test_the_line_counter_adds_project_bases():
    lengths = _lengths_with_bases()
    assert lengths["streamlabels.learners.linear.LinearLearner"] > _class_lengths()[
        "streamlabels.learners.linear.LinearLearner"
    ]  # MultiOutputLearner, its project base, is counted in


def test_no_class_is_a_house_of_its_own():
    lengths = _lengths_with_bases()
    assert lengths["streamlabels.ihomer.model.IHOMER"] <= 450
    assert {name: n for name, n in lengths.items() if n > 450} == {}


def test_export_refuses_a_model_without_snapshot_scorers():
    from streamlabels import IHOMER
    from streamlabels.scoring import export

    model = IHOMER(labels=["a", "b"], learner="tree")
    model.learn_one({"x": 1.0}, {"a": True, "b": False})
    with pytest.raises(TypeError, match="learner='linear'"):
        export(model)
    with pytest.raises(TypeError, match="IHOMER model"):
        export(object())


def test_the_package_declares_its_annotations_for_type_checkers():
    """PEP 561: without py.typed installed beside the code, mypy ignores our annotations."""
    import tomllib

    assert (ROOT / "streamlabels" / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["streamlabels"]


_MOVERS = {("os", "replace"), ("os", "rename"), ("os", "renames"), ("shutil", "move")}


def _renames(source: str) -> list[int]:
    """Lines of ``source`` that move a file over another name: ``os.replace``/``os.rename``/
    ``os.renames``/``shutil.move`` (called or imported by name), ``Path.rename``, and
    ``Path.replace`` (told from ``str.replace`` by its single argument)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and any(
            (node.module, alias.name) in _MOVERS for alias in node.names
        ):
            lines.append(node.lineno)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
        one_argument = len(node.args) == 1 and not node.keywords
        if (owner, node.func.attr) in _MOVERS or node.func.attr == "rename" or (
            node.func.attr == "replace" and one_argument
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_rename_finder_finds_planted_renames():
    source = (
        "import os\nos.replace(a, b)\npath.rename(c)\ntext.replace('a', 'b')\n"
        "Path(d).replace(e)\nfrom os import rename\nnow.replace(year=1)\n"
    )
    assert _renames(source) == [2, 3, 5, 6]


def test_one_module_owns_putting_files_in_place():
    """A rename is how a saved file becomes whole at once (streamlabels/files.py); a second
    place that renames would be a second, unchecked copy of that protocol."""
    renaming = sorted(name for name, path in _modules().items() if _renames(path.read_text()))
    assert renaming == ["streamlabels.files"]


def _kernel_arities(source: str) -> dict[str, int]:
    """Arguments of each function compiled by numba (``@kernel``, ``@njit``, ``@cuda.jit``)."""
    arities = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(
            ast.unparse(d).split("(")[0].rpartition(".")[2] in ("kernel", "njit", "jit")
            for d in node.decorator_list
        ):
            arities[node.name] = len(node.args.args) + len(node.args.kwonlyargs)
    return arities


def test_the_arity_counter_sees_every_kind_of_kernel():
    source = (
        "@kernel\ndef a(x, y): pass\n@kernel(background=True)\ndef b(x): pass\n"
        "@cuda.jit\ndef c(x, y, z): pass\n@njit(cache=True)\ndef d(*, x): pass\ndef e(x): pass\n"
    )
    assert _kernel_arities(source) == {"a": 2, "b": 1, "c": 3, "d": 1}


def test_no_compiled_kernel_takes_more_than_twelve_arguments():
    """Kernels take named tuples (rows, state, parameters, scratch), not loose arrays."""
    wide = {
        f"{name}.{function}": n
        for name, path in _modules().items()
        for function, n in _kernel_arities(path.read_text()).items()
        if n > 12
    }
    assert wide == {}

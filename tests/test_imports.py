"""The package's layers: no import circles, and no module too long to read.

Every import of one emomotion module by another counts, wherever it is written: at the top of the file or inside a
function (a function-level import is a circle all the same, only deferred). The one exception is a script entry
point, `if __name__ == "__main__":` — that code runs only when the file is the script (`python -m emomotion.study`),
never when the module is imported, so it is no edge of the package's graph."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emomotion"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "_modidx"))
MAX_LINES = 850


def _is_main_guard(node) -> bool:
    "`if __name__ == '__main__'` (alone or as a term of an `and`)."
    if not isinstance(node, ast.If):
        return False
    tests = node.test.values if isinstance(node.test, ast.BoolOp) else [node.test]
    return any(isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__"
               and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in t.comparators) for t in tests)


def _walk(node):
    "Every node below `node`, except what is inside a `__main__` guard."
    for child in ast.iter_child_nodes(node):
        if _is_main_guard(child):
            continue
        yield child
        yield from _walk(child)


def imports_of(source: str, modules=MODULES) -> set[str]:
    """The emomotion modules a module's source imports: `from .x import`, `from emomotion.x import`,
    `from . import x` / `from emomotion import x`, `import emomotion.x` — at any depth."""
    found = set()
    for node in _walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level > 1:
                continue                                          # not inside this flat package
            name = node.module or ""
            if node.level == 0:
                if name != "emomotion" and not name.startswith("emomotion."):
                    continue
                name = name[len("emomotion"):].lstrip(".")
            if name:
                found.add(name.split(".")[0])
            else:                                                 # from . import x / from emomotion import x
                found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("emomotion."))
    return found & set(modules)


def import_graph() -> dict[str, set[str]]:
    return {m: imports_of((PACKAGE / f"{m}.py").read_text(encoding="utf-8")) - {m} for m in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    "A circle of the graph as a path [a, b, ..., a], or None when it has none (depth-first search)."
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state and (c := visit(n)):
                return c
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_the_parser_sees_every_kind_of_import():
    src = '''
from .a import x
from emomotion.b import y
import emomotion.c
from . import d
from emomotion import e, __version__
def f():
    from emomotion.g import z
    if True:
        import emomotion.h as hh
from .i.j import k
from pathlib import Path
if __name__ == "__main__" and "__file__" in globals():
    from emomotion.not_an_edge import main
'''
    mods = list("abcdefghi") + ["not_an_edge"]
    assert imports_of(src, mods) == set("abcdeghi")


def test_find_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y2"}, "y2": {"y"}}) == ["y", "y2", "y"]


def test_the_package_has_no_import_circle():
    graph = import_graph()
    assert graph["evaluate"] and graph["study"]                   # the graph was read (not empty by mistake)
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", MODULES)
def test_no_module_is_longer_than_850_lines(module):
    n = len((PACKAGE / f"{module}.py").read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"emomotion/{module}.py has {n} lines (at most {MAX_LINES}): split it along a layer"


def test_the_fit_cache_sits_below_the_harness_and_the_bundles():
    graph = import_graph()
    assert "fitcache" in graph["evaluate"] and "fitcache" in graph["bundle"]
    assert not graph["fitcache"] & {"evaluate", "bundle", "study", "cli"}

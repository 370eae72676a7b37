"""Layering: no import cycles, every module imports on its own, private Keras names in one module."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import kvae
from kvae import keras_internals

PACKAGE = Path(kvae.__file__).parent


def _modules():
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _ours(module):
    return module == "kvae" or module.startswith("kvae.")


def _import_graph(modules):
    # Module-level imports only (a function's import runs later, when every module is loaded). Importing
    # a.b.c first runs a/__init__ and a/b/__init__, so those are edges too; the root `kvae` is left out:
    # its __init__ is always the one importing.
    def resolve(name):
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.parse(path.read_text()).body:
            for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
                if isinstance(inner, ast.Import):
                    targets |= {resolve(a.name) for a in inner.names if _ours(a.name)}
                elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and _ours(inner.module or ""):
                    targets |= {resolve(f"{inner.module}.{a.name}") for a in inner.names}
        for target in list(targets):
            parts = target.split(".")
            targets |= {".".join(parts[:i]) for i in range(2, len(parts))}
        graph[name] = {t for t in targets if t != "kvae" and t != name and not name.startswith(t + ".")}
    return graph


def _cycles(graph):
    state, stack, found = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_module_level_imports_have_no_cycle():
    modules = _modules()
    assert len(modules) > 80
    cycles = _cycles(_import_graph(modules))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


# Each module imported with the package's __init__ left out (a bare `kvae` package object), in a fresh
# set of kvae modules: it must bring in what it needs, whatever order kvae/__init__.py imports things in.
_ALONE = """
import importlib, sys, types
import keras, tensorflow_probability as tfp
tfd = tfp.distributions
from tensorflow_probability.python.distributions import kullback_leibler
pairs = set(kullback_leibler._DIVERGENCES)
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "kvae" or m.startswith("kvae.")]:
        del sys.modules[loaded]
    for key in [k for k in keras.saving.get_custom_objects() if k.startswith("kvae>")]:
        del keras.saving.get_custom_objects()[key]
    for pair in set(kullback_leibler._DIVERGENCES) - pairs:  # kvae.divergences registers its KL again
        del kullback_leibler._DIVERGENCES[pair]
    root = types.ModuleType("kvae")
    root.__path__ = [{package!r}]
    sys.modules["kvae"] = root
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{{name}}: {{type(error).__name__}}: {{error}}")
print("\\n".join(failed) or "ok")
"""


def test_every_module_imports_on_its_own():
    names = [name for name in _modules() if name != "kvae" and not name.endswith(".__main__")]  # __main__ runs
    code = _ALONE.format(package=str(PACKAGE))
    result = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.stdout.strip() == "ok", result.stdout[-3000:] + result.stderr[-3000:]


def test_private_keras_names_are_used_in_one_module_only():
    users = {}
    for name, path in _modules().items():
        if name == "kvae.keras_internals":
            continue
        text = path.read_text()
        for private in keras_internals.PRIVATE_NAMES:
            if re.search(r"\.%s\b|[\"']%s[\"']" % (private, private), text):  # attribute or keyword name
                users.setdefault(private, []).append(name)
    assert not users, f"private Keras names outside kvae.keras_internals: {users}"


def test_the_model_and_the_cli_never_test_a_part_by_class_or_probe_it():
    parts = {cls.__name__ for registry in kvae.testing.REGISTRIES.values() for cls in registry.parts.values()}
    sources = [PACKAGE / "model.py", *sorted((PACKAGE / "cli").glob("*.py"))]
    found = []
    for path in sources:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            probes = re.findall(r"\b(?:hasattr|getattr)\(", line)
            classes = [name for name in parts if re.search(rf"isinstance\([^)]*\b{name}\b", line)]
            if probes or classes:
                found.append(f"{path.name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)

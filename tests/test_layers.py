"""The package's layers, and a walk of every import in it (at module level
and inside functions) that fails on an edge pointing up.

    python tests/test_layers.py      # prints the layers and their edges

A module may import from its own layer or any layer below it; the
scripts (dcgan_fashion_mnist.py, generate.py, ...) sit on top of all."""
import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "pyimagesearch"

# bottom first: each is a tuple of the package's top-level modules
LAYERS = (
    ("errors", "files", "bounded"),  # files, bounded reads and errors
    ("data",),                      # the training images
    ("dcgan", "gan"),               # the models and the training step
    ("quality", "benchmark"),       # measuring what they make, and how fast
    ("runfiles",),                  # the run folder's format
    ("run",),                       # the training app: command line, hooks,
)                                   # state, signals, distribution
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def modules(root=ROOT):
    """{dotted module name: source path} of the package."""
    found = {}
    for folder, _, files in os.walk(os.path.join(root, PACKAGE)):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


def imports(module, source, is_package=False):
    """The package's modules that `source` (of `module`) imports, wherever
    the import statement is: [(line, imported dotted name)]."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module
                                          else []))
            else:
                target = node.module
            # "from . import checkpoint": a name may be a module
            found += [(node.lineno, f"{target}.{alias.name}")
                      for alias in node.names]
    return [(line, name) for line, name in found
            if name.split(".")[0] == PACKAGE and len(name.split(".")) > 1]


def layer_of(dotted):
    return dotted.split(".")[1]


def resolved(module, path, known):
    """{(line, module imported)} of `module`'s imports of the package."""
    with open(path) as f:
        source = f.read()
    found = set()
    for line, target in imports(module, source,
                                path.endswith("__init__.py")):
        if target not in known:
            target = target.rsplit(".", 1)[0]   # a name, not a module
        if target in known and target != PACKAGE:
            found.add((line, target))
    return found


def upward_edges(root=ROOT):
    """Every import that points to a higher layer, as readable lines."""
    known = modules(root)
    wrong = []
    for module, path in sorted(known.items()):
        if module == PACKAGE:
            continue        # its __init__: nothing of the layers
        for line, target in sorted(resolved(module, path, known)):
            mine, theirs = layer_of(module), layer_of(target)
            if RANK[theirs] > RANK[mine]:
                wrong.append(f"{os.path.relpath(path, root)}:{line}: "
                             f"{module} ({mine}) imports {target} ({theirs})")
    return wrong


def test_every_module_has_a_layer():
    names = {layer_of(module) for module in modules() if module != PACKAGE}
    assert names <= set(RANK), names - set(RANK)


def test_no_import_points_up():
    assert upward_edges() == []


def test_an_upward_import_is_found(tmp_path):
    """The walk sees function-level and relative imports."""
    package = tmp_path / PACKAGE
    for folder in ("data", "runfiles"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "runfiles" / "outputs.py").write_text("RUN_FILE = 1\n")
    (package / "data" / "folders.py").write_text(
        "def load():\n    from ..runfiles.outputs import RUN_FILE\n")
    (package / "data" / "readers.py").write_text(
        "from pyimagesearch.runfiles import outputs\n")
    wrong = upward_edges(str(tmp_path))
    assert len(wrong) == 2, wrong
    assert "folders.py:2: pyimagesearch.data.folders (data) imports " \
        "pyimagesearch.runfiles.outputs (runfiles)" in wrong[0]


if __name__ == "__main__":
    known = modules()
    edges = {}
    for module, path in known.items():
        for _, target in resolved(module, path, known):
            if target != PACKAGE and module != PACKAGE and \
                    RANK[layer_of(target)] != RANK[layer_of(module)]:
                edges.setdefault(layer_of(module), set()).add(
                    layer_of(target))
    for rank, names in reversed(list(enumerate(LAYERS))):
        uses = sorted({used for name in names
                       for used in edges.get(name, ())},
                      key=RANK.get, reverse=True)
        print(f"{rank}  {', '.join(names):18s} imports: "
              f"{', '.join(uses) or '-'}")
    wrong = upward_edges()
    print("\n".join(wrong) or "no import points up")
    sys.exit(1 if wrong else 0)

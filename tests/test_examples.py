"""Every example a reader sees runs: README.md, the tutorials under docs/, and the Examples
sections of the public modules' docstrings.

A code example is a fenced ```python block in Markdown or a ``.. code-block:: python``
directive in reStructuredText. Each runs in a fresh namespace inside its own temporary
directory (examples write files such as ``model.json``), with matplotlib's Agg backend so that
plots need no display. An example that needs a module that is not installed, or a GPU, is
skipped with that reason; the modules it needs are read from its imports. Sphinx is not needed.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import inspect
import re
import textwrap
import traceback
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Pages whose code blocks are not examples to run: the benchmark page shows output, and the
# Sphinx build's own output and generated stubs are not sources.
NOT_EXAMPLE_PAGES = {"benchmarks.md"}
NOT_EXAMPLE_DIRS = {"_build", "generated", "_templates"}

# Uses a block's imports do not show: calling a selector's plots needs matplotlib.
IMPLICIT_NEEDS = [(re.compile(r"\.plot(_history)?\("), "matplotlib")]

# Blocks importing these need a CUDA device, not only the package.
NEEDS_GPU = {"cupy"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                    re.MULTILINE | re.DOTALL)  # fmt: skip
_RST_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. (?:code-block|code|sourcecode):: python\s*$")


def markdown_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python fence in ``text``."""
    found = []
    for match in _FENCE.finditer(text):
        words = match.group("info").strip().strip("{}").split()
        if words and words[0] in {"python", "py", "python3"}:
            line = text.count("\n", 0, match.start()) + 2
            found.append((line, textwrap.dedent(match.group("body"))))
    return found


def rst_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ``.. code-block:: python`` directive in ``text``."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        match = _RST_DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        base = len(match.group("indent"))
        # Options (":linenos:") come first, then a blank line, then the indented body.
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1
        start, body = i, []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > base
        ):
            body.append(lines[i])
            i += 1
        code = textwrap.dedent("\n".join(body)).strip("\n")
        if code:
            found.append((start + 1, code + "\n"))
    return found


def example_pages() -> list[Path]:
    pages = [ROOT / "README.md"]
    for path in sorted(DOCS.rglob("*")):
        if path.suffix not in {".md", ".rst"} or path.name in NOT_EXAMPLE_PAGES:
            continue
        if NOT_EXAMPLE_DIRS.intersection(path.relative_to(DOCS).parts):
            continue
        pages.append(path)
    return pages


def collect_examples() -> list[pytest.param]:
    params = []
    for page in example_pages():
        text = page.read_text(encoding="utf-8")
        blocks = rst_blocks(text) if page.suffix == ".rst" else markdown_blocks(text)
        rel = page.relative_to(ROOT).as_posix()
        for line, code in blocks:
            params.append(pytest.param(rel, line, code, id=f"{rel}:{line}"))
    return params


def needed_modules(code: str) -> list[str]:
    """Top-level modules ``code`` imports, then those it needs without importing them."""
    names: list[str] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module.split(".")[0])
    names.extend(module for pattern, module in IMPLICIT_NEEDS if pattern.search(code))
    return list(dict.fromkeys(names))


def skip_reason(code: str) -> str | None:
    """Why ``code`` cannot run here, or None when it can."""
    for module in needed_modules(code):
        if importlib.util.find_spec(module) is None:
            return f"needs {module}, which is not installed"
        if module in NEEDS_GPU:
            from sapwood import gpu

            if not gpu.is_available():
                return f"needs a CUDA GPU ({module} is installed, but no device is usable)"
    return None


@pytest.fixture
def agg_backend(monkeypatch):
    """matplotlib without a display, and no figure left open between examples."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if importlib.util.find_spec("matplotlib") is None:
        yield
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


EXAMPLES = collect_examples()


def test_examples_are_found():
    # A change to the fence syntax or to the pages' layout must not turn this file into a
    # test of nothing.
    pages = {param.values[0] for param in EXAMPLES}
    assert "README.md" in pages
    for tutorial in ("boosting", "neighbors", "boruta", "gpu", "dask"):
        assert f"docs/tutorials/{tutorial}.md" in pages


@pytest.mark.parametrize(("page", "line", "code"), EXAMPLES)
def test_example_runs(page, line, code, tmp_path, monkeypatch, agg_backend):
    reason = skip_reason(code)
    if reason:
        pytest.skip(f"{page}:{line} {reason}")
    monkeypatch.chdir(tmp_path)
    run_example(page, line, code)


def run_example(page: str, line: int, code: str) -> None:
    """Run ``code`` as the body of a new module; whatever it raises propagates."""
    # A fresh module, so the example sees no test globals and leaves nothing behind.
    module = types.ModuleType("__example__")
    # Pad with blank lines so that a traceback's line numbers are the page's.
    compiled = compile("\n" * (line - 1) + code, page, "exec")
    exec(compiled, module.__dict__)


# Helper tests of the extraction itself, on small inputs.


def test_markdown_blocks_keep_only_python():
    text = "x\n```python\na = 1\n```\n```bash\nls\n```\n  ```python\n  b = 2\n  ```\n"
    assert markdown_blocks(text) == [(3, "a = 1\n"), (9, "b = 2\n")]


def test_rst_blocks_read_indented_bodies():
    text = (
        "Title\n\n.. code-block:: python\n   :caption: c\n\n   a = 1\n\n   b = 2\n"
        "back to prose\n\n.. code-block:: bash\n\n   ls\n"
    )
    assert rst_blocks(text) == [(5, "a = 1\n\nb = 2\n")]


def test_skip_reason_reads_imports():
    assert skip_reason("import numpy as np\n") is None
    assert "not installed" in skip_reason("from no_such_module_here import x\n")
    assert needed_modules("import a.b\nfrom c.d import e\nsel.plot()\n") == ["a", "c", "matplotlib"]


def test_failing_example_fails():
    with pytest.raises(ZeroDivisionError) as info:
        run_example("page.md", 10, "x = 0\n1 / x\n")
    # The traceback points at the page and its line.
    frames = traceback.extract_tb(info.tb)
    assert (frames[-1].filename, frames[-1].lineno) == ("page.md", 11)


# The benchmark page: docs/bench_report.py turns the benchmarks' output into it.


def load_bench_report() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", DOCS / "bench_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_page_keeps_tables_and_states_machine_and_versions():
    report = load_bench_report()
    output = (
        "machine: Test CPU, 4 cores\n\n### hist, 10 rows\n\n| library | fit s |\n|---|---|\n"
        "| sapwood | 1.0 |\n| xgboost | 2.0 |\n\nTotal over 3 seeds: sapwood 1.0 s\n"
    )
    record = {
        "date": "2026-01-01 00:00 UTC",
        "machine": "Test CPU; 4 logical cores",
        "versions": {"sapwood": "0.1.0", "xgboost": "3.2.0"},
        "commit": "abc1234",
        "quick": False,
        "runs": [{"name": "boost_hist", "args": ["--rows", "10"], "output": output}],
    }
    page = report.render(record)
    assert "| machine | Test CPU; 4 logical cores |" in page
    assert "| xgboost | 3.2.0 |" in page
    assert "`python benches/compare/boost_hist.py --rows 10`" in page
    assert "### hist, 10 rows\n\n| library | fit s |\n|---|---|\n| sapwood | 1.0 |" in page
    assert "```text\nTotal over 3 seeds: sapwood 1.0 s\n```" in page
    assert "--quick" not in page.split("## Where these numbers come from")[1].split("| |")[0]
    record["quick"] = True
    assert "`--quick` run" in report.render(record)


def test_shipped_benchmark_page_says_where_numbers_come_from():
    text = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    assert "python docs/bench_report.py run" in text
    assert "No run is recorded here yet" in text or "| machine |" in text


# Docstring examples of the public modules. Listed by hand, not discovered, so that a module
# still being written is not run before it is ready; add a public module here when it lands.
# Private modules appear where they hold the docstrings of public methods (the boosting
# estimators inherit ``fit``, ``predict`` and ``save_model`` from ``_gbt_base``).
DOCTEST_MODULES = [
    "sapwood",
    "sapwood.boost",
    "sapwood._gbt_base",
    "sapwood.callback",
    "sapwood.kdtree",
    "sapwood.neighbors",
    "sapwood.selection",
    "sapwood.plotting",
    "sapwood.gpu",
    "sapwood.gpu._quant",
]

DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def module_doctests(module: types.ModuleType) -> list[doctest.DocTest]:
    """The module's doctests, including those of classes it defines under another
    ``__module__``.

    ``doctest.testmod`` keeps only objects whose ``__module__`` names the module, and methods
    whose globals are the module's. ``KDTree`` is defined in ``sapwood.kdtree`` but keeps
    ``sapwood.neighbors`` as its ``__module__`` (for pickles made before the move), so testmod
    on either module would skip its methods' examples.
    """
    finder = doctest.DocTestFinder()
    tests = finder.find(module, module.__name__)
    for name, obj in vars(module).items():
        if not inspect.isclass(obj) or obj.__module__ == module.__name__:
            continue
        defined_here = any(
            getattr(member, "__globals__", None) is vars(module)
            for member in vars(obj).values()
            if inspect.isfunction(member)
        )
        if defined_here:
            # module=False: do not filter by __module__; the class's own dict is all it reads.
            tests += finder.find(obj, f"{module.__name__}.{name}", module=False,
                                 globs=vars(module))  # fmt: skip
    return [t for t in tests if t.examples]


def test_doctest_finds_kdtree_methods():
    names = {t.name for t in module_doctests(importlib.import_module("sapwood.kdtree"))}
    assert "sapwood.kdtree.KDTree.query_radius" in names


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch, agg_backend):
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    failures: list[str] = []
    report: list[str] = []
    for test in module_doctests(module):
        # Each docstring runs in a copy of its module's globals, as testmod does.
        test.globs = dict(test.globs)
        result = runner.run(test, out=report.append)
        if result.failed:
            failures.append(test.name)
    if failures:
        pytest.fail(f"docstring examples failed in {failures}:\n" + "".join(report))


def test_doctest_modules_exist():
    # A module renamed or removed must come off the list, not be skipped silently.
    for name in DOCTEST_MODULES:
        assert importlib.util.find_spec(name) is not None, name

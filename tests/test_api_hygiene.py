"""The public surface of the ``sapwood`` package: what ``__all__`` and ``dir()`` show, that every
public callable is documented, and that the optional submodules are reachable."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import types

import pytest

import sapwood

# Modules whose public callables are the API.
PUBLIC_MODULES = [
    "sapwood",
    "sapwood.boost",
    "sapwood.neighbors",
    "sapwood.kdtree",
    "sapwood.selection",
    "sapwood.gpu",
    "sapwood.plotting",
    "sapwood.callback",
    "sapwood.dask",
]


def public_module(name):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            pytest.skip(f"{name} is not part of this tree")
        raise


def test_all_names_exist_and_are_unique():
    assert len(sapwood.__all__) == len(set(sapwood.__all__))
    for name in sapwood.__all__:
        assert hasattr(sapwood, name), name


def test_all_is_the_public_api():
    # Every public, non-module attribute is listed, and nothing else: submodules are reached
    # as attributes but are not star-imported.
    public = {
        name
        for name in dir(sapwood)
        if not name.startswith("_") and not isinstance(getattr(sapwood, name), types.ModuleType)
    }
    assert public == set(sapwood.__all__) - {"__version__"}
    assert isinstance(sapwood.__version__, str)


@pytest.mark.parametrize("leak", ["annotations", "version", "PackageNotFoundError", "importlib"])
def test_dir_shows_no_leaked_imports(leak):
    assert leak not in dir(sapwood)
    assert not hasattr(sapwood, leak)


def test_star_import_gives_the_public_names():
    namespace: dict[str, object] = {}
    exec("from sapwood import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(sapwood.__all__)


def test_unknown_attributes_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        _ = sapwood.no_such_thing


@pytest.mark.parametrize("name", ["gpu", "plotting", "callback", "dask"])
def test_optional_submodules_are_reachable_as_attributes(name):
    public_module(f"sapwood.{name}")
    module = getattr(sapwood, name)
    assert module is sys.modules[f"sapwood.{name}"]
    assert name in dir(sapwood)


def test_import_sapwood_does_not_load_the_optional_submodules():
    code = (
        "import sys, sapwood; "
        "print(sorted(m for m in ('sapwood.gpu', 'sapwood.plotting', 'matplotlib', 'cupy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _defined_in_sapwood(obj):
    return getattr(obj, "__module__", "").startswith("sapwood")


def _public_callables(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType) or not callable(obj):
            continue
        if not _defined_in_sapwood(obj):
            continue
        yield (name, obj)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)) or callable(member):
                    yield f"{name}.{attr}", obj, attr


def _documented(item):
    """A docstring of its own, or, for a method that overrides one, the docstring of the
    sapwood base class's method (a callback's hooks, say): never one from scikit-learn."""
    if len(item) == 2:
        return bool((item[1].__doc__ or "").strip())
    _, cls, attr = item
    for klass in cls.__mro__:
        member = vars(klass).get(attr)
        if member is None:
            continue
        member = getattr(member, "__func__", member)
        if (member.__doc__ or "").strip():
            return _defined_in_sapwood(klass)
    return False


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_callable_has_a_docstring(module_name):
    module = public_module(module_name)
    assert (module.__doc__ or "").strip(), f"{module_name} has no module docstring"
    missing = [item[0] for item in _public_callables(module) if not _documented(item)]
    assert not missing, f"{module_name}: no docstring on {', '.join(missing)}"


def test_native_functions_in_the_api_are_documented():
    # effective_n_jobs comes from the extension; its docstring is written in Rust.
    assert (sapwood.effective_n_jobs.__doc__ or "").strip()

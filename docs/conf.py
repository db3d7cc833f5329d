"""Sphinx configuration for sapwood's documentation.

Build with ``make docs`` (``sphinx-build -W``: every warning is an error). Nothing is fetched
from the network while building: cross-links to other projects' documentation (intersphinx)
are off unless ``SAPWOOD_DOCS_INTERSPHINX=1`` is set.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
from pathlib import Path

import sapwood

HERE = Path(__file__).resolve().parent

project = "sapwood"
author = "the sapwood developers"
copyright = "the sapwood developers"
release = sapwood.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    # The pictures of the plotting functions, drawn at build time from their code.
    "matplotlib.sphinxext.plot_directive",
]
plot_formats = [("png", 100)]
plot_html_show_source_link = False
plot_html_show_formats = False

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# One stub page per public name, written at build time into generated/ (not committed).
autosummary_generate = True
autodoc_default_options = {"member-order": "groupwise"}
# The signature shows the types; the numpydoc Parameters section describes them.
autodoc_typehints = "none"

# Members are listed by the class template (_templates/autosummary/class.rst), not by numpydoc,
# so that each method is documented once, on its class's page.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

# MyST: ```python fences stay plain code blocks (the examples test reads them as they are).
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"sapwood {release}"
html_static_path: list[str] = []

if os.environ.get("SAPWOOD_DOCS_INTERSPHINX") == "1":
    # Opt-in: this fetches the other projects' inventories over the network.
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
    }

# The command line is documented as commands (README, index), not as a Python API.
_NOT_API_MODULES = {"sapwood.cli"}


def _public_names() -> dict[str, list[str]]:
    """Every public name, by the public module that exports it.

    A module's ``__all__`` when it has one, else the classes and functions it defines whose
    names do not start with an underscore.
    """
    found: dict[str, list[str]] = {"sapwood": [n for n in sapwood.__all__ if n != "__version__"]}
    for info in pkgutil.walk_packages(sapwood.__path__, "sapwood."):
        name = info.name
        if any(part.startswith("_") for part in name.split(".")) or name in _NOT_API_MODULES:
            continue
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                n
                for n, obj in vars(module).items()
                if not n.startswith("_")
                and (inspect.isclass(obj) or inspect.isfunction(obj))
                and obj.__module__ == name
            ]
        found[name] = list(names)
    return found


def _check_api_coverage(app, config) -> None:
    """Warn (an error under ``-W``) for every public name the API page does not list.

    The API page is written by hand, grouped by family; this keeps it complete as the package
    grows.
    """
    from sphinx.util import logging

    logger = logging.getLogger("sapwood.docs")
    text = (HERE / "api.rst").read_text()
    listed: dict[str, set[str]] = {}
    # A module documented whole (automodule with :members:) lists every public name in it.
    whole = set(re.findall(r"\.\. automodule:: (\S+)\n\s+:members:", text))
    current = "sapwood"
    for line in text.splitlines():
        module = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if module:
            current = module.group(1)
            continue
        entry = re.fullmatch(r"\s{3,}([A-Za-z_][A-Za-z0-9_.]*)", line)
        if entry and not line.strip().startswith(":"):
            listed.setdefault(current, set()).add(entry.group(1))
    for module, names in _public_names().items():
        if module in whole:
            continue
        for name in names:
            # A name re-exported by the package counts wherever it is listed.
            if name in listed.get(module, set()) or name in listed.get("sapwood", set()):
                continue
            logger.warning("api.rst does not list the public name %s.%s", module, name)


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out members a class inherits from scikit-learn: they are documented there, and
    their docstrings point at labels that exist only in scikit-learn's documentation."""
    target = obj.fget if isinstance(obj, property) else obj
    module = getattr(target, "__module__", None) or ""
    if what == "class" and module and not module.startswith("sapwood"):
        return True
    return None


_PARAM_CONTINUED = re.compile(r",\s*\\$")
_TYPE_LINE = re.compile(r"^(\s*[\w*][\w, *]* : )(.+)$")
_TRAILING_UNDERSCORE = re.compile(r"\b(\w+)_(?=[,)\s]|$)")


def _normalise_numpydoc(app, what, name, obj, options, lines) -> None:
    """Habits of sapwood's docstrings that plain reStructuredText reads otherwise.

    A docstring assembled from parts may start a section right under the summary, with no
    blank line between: add one. A parameter line that lists many names may continue on the
    next line after a trailing backslash (the source's line-length limit): join it. A type
    written with a fitted
    attribute's name, ``shape (n_features_in_,)``, would be read as a link target: escape the
    underscore.
    """
    i = 1
    while i < len(lines) - 1:
        underline = lines[i + 1].strip()
        header = lines[i].strip()
        if header and set(underline) == {"-"} and len(underline) == len(header) and lines[i - 1]:
            lines.insert(i, "")
        i += 1
    i = 0
    while i < len(lines) - 1:
        if _PARAM_CONTINUED.search(lines[i]):
            lines[i] = lines[i].rstrip()[:-1].rstrip() + " " + lines.pop(i + 1).strip()
        else:
            i += 1
    for i, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match:
            lines[i] = match.group(1) + _TRAILING_UNDERSCORE.sub(r"\1\\_", match.group(2))


def setup(app) -> dict[str, bool]:
    app.connect("config-inited", _check_api_coverage)
    app.connect("autodoc-skip-member", _skip_foreign_members)
    # Before numpydoc (priority 500) parses the sections.
    app.connect("autodoc-process-docstring", _normalise_numpydoc, priority=100)
    return {"parallel_read_safe": True}

"""Sphinx configuration for skunroll (build: sphinx-build -W doc doc/_build).

Links to the Python, scikit-learn and torch docs (intersphinx) need the
network; set SKUNROLL_DOCS_INTERSPHINX=1 to fetch them. CI builds offline.
"""

import os

import skunroll

project = "skunroll"
author = "The skunroll developers"
release = skunroll.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]
if os.environ.get("SKUNROLL_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
autosummary_generate = True
numpydoc_show_class_members = False
templates_path = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
}

"""Sphinx configuration for skunroll (build: sphinx-build doc doc/_build)."""

import skunroll

project = "skunroll"
author = "The skunroll developers"
release = skunroll.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
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

"""Sphinx configuration for skunroll (build: sphinx-build -W doc doc/_build/html).

The build needs no network: the theme's assets ship with it, and links to
the Python, scikit-learn and torch docs (intersphinx) are only fetched when
SKUNROLL_DOCS_INTERSPHINX=1. CI builds offline.

The example gallery (sphinx-gallery) runs every script in ``examples/`` and
keeps the figures it draws; each script caps its own training so that the
whole gallery runs in about a minute on two CPU cores.
"""

import os
import sys

import skunroll

DOC = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(DOC, "..", "examples")
sys.path.insert(0, os.path.join(DOC, "sphinxext"))  # gallery_order

project = "skunroll"
author = "The skunroll developers"
copyright = "the skunroll developers"
release = skunroll.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",  # CHANGELOG.md is included as Markdown (changelog.rst)
    "sphinx_gallery.gen_gallery",
]
if os.environ.get("SKUNROLL_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
autosummary_generate = True
numpydoc_show_class_members = False
templates_path = []
# Only .rst pages are sources; Markdown enters through ``include`` alone.
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "sphinxext"]
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
}

# -- Example gallery --------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Run every script, not only plot_*: each one draws at least one figure.
    "filename_pattern": r".*\.py$",
    "abort_on_example_error": True,
    "reset_modules": ("matplotlib",),
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "within_subsection_order": "gallery_order.ReadingOrder",
    # No binder or jupyterlite links: the build stays offline.
}

# -- HTML -------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skunroll {release}"
html_static_path = ["_static"]
html_css_files = ["skunroll.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_start": ["navbar-logo"],
    "navbar_center": ["navbar-nav"],
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "header_links_before_dropdown": 5,
    "icon_links": [
        {
            "name": "GitHub",
            "url": "https://github.com/skunroll/skunroll",
            "icon": "fa-brands fa-github",
        },
    ],
    # The examples' code needs the width more than a table of contents (pages
    # named one by one: two wildcard patterns matching a page is a warning).
    "secondary_sidebar_items": {
        "**": ["page-toc"],
        **{f"auto_examples/{name[:-3]}": [] for name in os.listdir(EXAMPLES)
           if name.endswith(".py")},
    },
    "show_prev_next": False,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "citing": [], "changelog": []}
html_context = {"default_mode": "light"}

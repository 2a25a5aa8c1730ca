"""The version, the changelog and the package metadata agree.

Building and installing the wheel is ``.ci/wheel_smoke``'s job (minutes); these
are the checks that need no build.
"""

import re
from pathlib import Path

import pytest

import skunroll

ROOT = Path(__file__).resolve().parent.parent


def test_the_changelog_heads_with_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    version, when = re.search(r"^## (\S+) \((.+)\)$", changelog, re.M).groups()
    if ".dev" in skunroll.__version__:
        assert (version, when) == (skunroll.__version__.split(".dev")[0], "unreleased")
    else:
        # A release is dated.
        assert version == skunroll.__version__
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", when), when


def test_the_metadata_matches_the_version():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    status = [c for c in project["classifiers"] if c.startswith("Development Status")]
    major = int(skunroll.__version__.split(".")[0])
    # Before 1.0 the API may still change: alpha or beta, never stable.
    assert len(status) == 1
    assert (status[0] in ("Development Status :: 3 - Alpha", "Development Status :: 4 - Beta")
            if major == 0 else status[0] >= "Development Status :: 5")
    assert {"Source", "Issues", "Changelog"} <= set(project["urls"])
    assert "build>=1" in project["optional-dependencies"]["test"]
    assert project["scripts"]["skunroll"] == "skunroll.__main__:main"


def test_the_sdist_manifest_keeps_what_the_tests_read():
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    for folder in ("tests", "doc", "examples", "benchmarks"):
        assert folder in manifest

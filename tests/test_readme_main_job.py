"""README.md's tables of the main job (``python -m skunroll``) are what it prints.

README.md shows the full job's table and a short run's; this runs the short one
with the command README.md gives and compares its printed table line by line,
every figure but the training seconds (which vary from run to run). CPU runs
with a fixed seed give the same figures at a fixed thread count; the command
pins it, since one and two threads differ in the last digits.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHORT_RUN = "### The short run the tests check"
SECONDS = slice(-1, None)  # the last column: training seconds


def _section(heading):
    text = README.read_text()
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return text[start:end if end >= 0 else None]


def _short_run():
    """The command (environment, arguments) and the table of README's short run."""
    section = _section(SHORT_RUN)
    command, table = re.search(r"```bash\n(.*?)\n```\n.*?\n```\n(.*?)```", section,
                               re.S).groups()
    words = shlex.split(command)
    env = {}
    while "=" in words[0]:  # leading VAR=value assignments
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert words[:3] == ["python", "-m", "skunroll"], command
    return env, words[3:], table.splitlines()


def _figures(line):
    """A table line without its seconds (rows), or the line itself (headers)."""
    words = line.split()
    if words and words[0].isdigit():
        del words[SECONDS]
        return words
    return line.rstrip()


def test_the_readme_states_the_threads_of_its_short_run():
    env, arguments, table = _short_run()
    assert env == {"OMP_NUM_THREADS": "1"}
    assert table[0].split()[:3] == ["m", "l1AE", "exact"] and len(table) >= 4
    # The full run's table has the same columns.
    full = re.search(r"```\n(   m .*?)```", _section("## What the main job printed here"), re.S)
    assert full and full.group(1).splitlines()[:2] == table[:2]


@pytest.mark.slow
def test_the_short_run_prints_the_readme_table():
    env, arguments, expected = _short_run()
    result = subprocess.run([sys.executable, "-m", "skunroll", *arguments], cwd=ROOT,
                            env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=600, check=True)
    printed = result.stdout.splitlines()
    printed = printed[next(i for i, line in enumerate(printed) if line.startswith("   m ")):]
    assert len(printed) == len(expected), result.stdout
    for got, want in zip(printed, expected, strict=True):
        assert _figures(got) == _figures(want), (
            "the main job's table moved away from README.md's short run: run its command and "
            f"update README.md (and the full table above it)\nprinted: {got}\nREADME:  {want}")

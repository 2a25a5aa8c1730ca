"""Find every public skunroll estimator (used by the common tests)."""

import inspect
import pkgutil
from importlib import import_module

from sklearn.base import BaseEstimator


def all_estimators():
    """All public estimator classes of skunroll, sorted by name.

    Walks the public (not underscore-prefixed) subpackages and collects the
    classes they export, so that a new estimator joins the common tests as
    soon as its subpackage exports it.

    Returns
    -------
    estimators : list of (name, class) tuples
    """
    import skunroll

    found = {}
    for module_info in pkgutil.walk_packages(skunroll.__path__, prefix="skunroll."):
        parts = module_info.name.split(".")
        if any(part.startswith("_") for part in parts) or "tests" in parts:
            continue
        module = import_module(module_info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (issubclass(obj, BaseEstimator) and obj.__module__.startswith("skunroll.")
                    and not name.startswith("_") and not inspect.isabstract(obj)
                    and name in getattr(module, "__all__", [])):
                found[name] = obj
    return sorted(found.items())

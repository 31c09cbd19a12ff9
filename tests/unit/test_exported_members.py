"""Each domain module's ``__all__`` names exactly the public classes and functions it
defines (and only names that exist): the package's surface stays deliberate."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import legato.domain

MODULES = [m.name for m in pkgutil.walk_packages(legato.domain.__path__, "legato.domain.")]


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_exactly_the_public_classes_and_functions_a_domain_module_defines(name: str) -> None:
    module = importlib.import_module(name)
    # a package may re-export what its own modules define
    home = (name, name + ".") if hasattr(module, "__path__") else (name,)
    defined = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and (
            getattr(v, "__module__", None) == name
            or (len(home) > 1 and str(v.__module__).startswith(home[1]))
        )
        and (getattr(v, "__module__", None) == name or n in module.__all__)
    }
    exported = set(module.__all__)
    assert {
        n for n in exported if inspect.isclass(getattr(module, n)) or inspect.isfunction(getattr(module, n))
    } == defined
    assert all(hasattr(module, n) for n in exported)

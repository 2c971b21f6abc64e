"""Run a callback once a module is imported, without importing it.

    after_import("celery.signals", connect_pins)   # now if imported, else right after its import

The Celery integrations (``replicas.celery``, ``tenants.celery``) connect to ``celery.signals``;
importing Celery at every ``django.setup()`` only to find out whether the project uses it cost
more than the rest of django_cfg's startup together (issue 23). A signal of ``celery.signals``
can only be sent once that module has been imported, so connecting right after its import
(by whoever imports it, whenever) gives the same guarantee as connecting at ``ready()``.

How: a finder on ``sys.meta_path`` answers for that one module name only. It finds the
module's spec with the finders after it, as the import would have, and wraps its loader so that
the callbacks run after the module's code ran (the module's ``__loader__`` and
``__spec__.loader`` are the original loader again by then). The finder removes itself before
running them; it never imports anything, and a module that is never imported costs nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

__all__ = ["after_import"]

Callback = Callable[[ModuleType], object]


def after_import(name: str, callback: Callback) -> None:
    """``callback(module)`` now if ``name`` is imported, else right after its first import."""
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    for finder in sys.meta_path:
        if isinstance(finder, _AfterImport) and finder.name == name:
            if callback not in finder.callbacks:
                finder.callbacks.append(callback)
            return
    sys.meta_path.insert(0, _AfterImport(name, [callback]))


class _AfterImport(MetaPathFinder):
    """Answers for ``name`` only: its spec as the other finders give it, with a loader that
    runs ``callbacks`` after the module ran."""

    def __init__(self, name: str, callbacks: list[Callback]) -> None:
        self.name = name
        self.callbacks = callbacks

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _RunAfter(spec.loader, self)
                return spec
        return None

    def ran(self, module: ModuleType) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for callback in self.callbacks:
            callback(module)


class _RunAfter(Loader):
    """The module's own loader, and then the callbacks."""

    def __init__(self, loader: Loader, finder: _AfterImport) -> None:
        self.loader = loader
        self.finder = finder

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.finder.ran(module)

    def __getattr__(self, name: str) -> Any:  # get_data, is_package, get_resource_reader, ...
        return getattr(self.loader, name)

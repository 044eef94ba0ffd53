"""URL callbacks that import their view's module on first use, not when the URLconf loads.

Loading the checkout views imports ``rest_framework.views``, and with it DRF's ``schemas``
package (``django.contrib.admindocs``, docutils) and ``rest_framework.compat``, which probes
requests, yaml, markdown, pygments and ``django.contrib.postgres``: well over 100 ms of CPU that
every web process would pay at start-up (when the URLconf loads) for endpoints most of its
requests never reach. :class:`LazyView` stands in the URL pattern instead and imports the view
when something needs it: a request to the path, or anything reading the view's attributes
(``csrf_exempt`` and ``_non_atomic_requests`` on a request, ``cls`` and ``initkwargs`` for
DRF's and drf-spectacular's schema generators, ``view_class`` once loaded).

What it answers without importing: the names Django's ``reverse()`` reads for every pattern
(``URLPattern.lookup_str``: ``hasattr(callback, "view_class")``, else ``__module__`` and
``__qualname__``), so that reversing any URL of the site (every admin page does) does not load
the API. The string is the same one the real view gives (``module.ClassName``).
"""

from __future__ import annotations

import threading
from importlib import import_module
from typing import Any

from django.http import HttpRequest, HttpResponseBase

#: Attributes the loaded view may have that must not load it when probed: Django's
#: ``reverse()`` asks ``hasattr(callback, "view_class")`` of every URL pattern.
_NOT_LOADING = frozenset({"view_class"})

#: One lock for every instance: a first load is rare, and an instance then holds nothing that
#: cannot be copied.
_load_lock = threading.Lock()


class LazyView:
    """A URL callback standing for ``module.name`` (a view function, or a view class whose
    ``as_view()`` is used), imported on first call or attribute access."""

    def __init__(self, module: str, name: str) -> None:
        self.__module__ = module
        self.__name__ = name
        self.__qualname__ = name
        self._view: Any = None

    @property
    def loaded(self) -> bool:
        return self._view is not None

    def load(self) -> Any:
        """The real view (the same object on every call, whatever the threads)."""
        if self._view is None:
            with _load_lock:
                if self._view is None:
                    target = getattr(import_module(self.__module__), self.__name__)
                    as_view = getattr(target, "as_view", None)  # a class-based view
                    self._view = as_view() if as_view is not None else target
        return self._view

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response: HttpResponseBase = self.load()(request, *args, **kwargs)
        return response

    def __getattr__(self, name: str) -> Any:
        # Only called for what the instance lacks: everything else is the real view's.
        if name == "_view":
            raise AttributeError(name)  # during __init__ or copying: no recursion
        if name in _NOT_LOADING and self._view is None:
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __repr__(self) -> str:
        state = "loaded" if self._view is not None else "not loaded"
        return f"<LazyView {self.__module__}.{self.__name__} ({state})>"

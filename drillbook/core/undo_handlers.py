"""Undos that are drillbook functions, not platform verbs: the undo of a data fault.

A killed process is undone by a platform verb (`reconcile`). A destroyed data directory is not:
its undo puts the data back, which only the module that moved it knows how to do. Such an undo is
still data, journaled before the fault, so that a later process can replay it:

    UndoAction(platform="drillbook",
               verb="drillbook.scenarios.vector_store.faults:restore_vector_data",
               args={...JSON...})

The verb names a function marked `@undo_handler` inside the drillbook package; it is called with
the platform and the arguments. Anything else is refused, so a journal cannot run arbitrary code.
`drillbook.assembly.target.open_target` registers `handler_executor` for `platform="drillbook"`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from drillbook.core.undo import UndoAction, UndoExecutor
from drillbook.errors import InvalidDrill

HANDLER_PLATFORM = "drillbook"
_MARK = "__drillbook_undo_handler__"
_Handler = TypeVar("_Handler", bound=Callable[..., None])


class _UndoPlatform(Protocol):
    name: str

    def apply_undo(self, action: UndoAction) -> None: ...


def undo_handler(fn: _Handler) -> _Handler:
    """Allow `fn(platform, **args)` to be named as the verb of a journaled undo."""
    setattr(fn, _MARK, True)
    return fn


def handler_undo(description: str, handler: Callable[..., None], **args: Any) -> UndoAction:
    """An UndoAction that calls `handler(platform, **args)`; `args` must be JSON-serialisable."""
    if not getattr(handler, _MARK, False):
        raise InvalidDrill(f"{handler.__qualname__} is not marked @undo_handler")
    return UndoAction(
        description=description,
        platform=HANDLER_PLATFORM,
        verb=f"{handler.__module__}:{handler.__qualname__}",
        args=args,
    )


def resolve_handler(verb: str) -> Callable[..., None]:
    module_name, _, attribute = verb.partition(":")
    if not module_name.startswith("drillbook.") or not attribute:
        raise InvalidDrill(f"undo {verb!r} does not name a drillbook undo handler")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise InvalidDrill(f"undo {verb!r} names no function this drillbook has: {exc}") from None
    if not getattr(handler, _MARK, False):
        raise InvalidDrill(f"undo {verb!r} names a function that is not an @undo_handler")
    return handler  # type: ignore[no-any-return]


def handler_executor(platform: _UndoPlatform) -> UndoExecutor:
    """The executor of `platform="drillbook"` undos (registered in `Target.undo_executors`)."""

    def execute(action: UndoAction) -> None:
        if action.platform != HANDLER_PLATFORM:
            raise InvalidDrill(f"undo {action.verb!r} of {action.platform!r} is not a handler")
        resolve_handler(action.verb)(platform, **action.args)

    return execute

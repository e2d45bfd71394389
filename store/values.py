"""A tiny base for immutable value objects that stay inside one process.

The query language's tree, tokens and compiled SQL, and search results, are built and read by
``ccmgr-watch query``, whose start-up time is part of its job. msgspec structs (the project's
choice for data that crosses a boundary) cost ~15 ms to import and dataclasses pull in
``inspect``; these values need neither encoding nor validation, so a slotted class is enough.
"""

from __future__ import annotations

# typing is imported by type checkers only: it costs the read commands' start-up ~10%.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, NoReturn, Self


class Value:
    """Immutable; equal (and hashing alike) when of the same type with equal fields.

    Subclasses name their fields, in order, in ``__match_args__`` (so ``match`` works too), set
    ``__slots__ = __match_args__``, and pass the fields to ``super().__init__`` in that order.
    """

    __match_args__: ClassVar[tuple[str, ...]] = ()
    __slots__ = ()

    def __init__(self, *values: Any) -> None:
        for name, value in zip(self.__match_args__, values, strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def replace(self, **changes: Any) -> Self:
        """A copy with the named fields changed (a name that is not a field: TypeError)."""
        unknown = set(changes) - set(self.__match_args__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        values = tuple(changes.get(name, getattr(self, name)) for name in self.__match_args__)
        copy = type(self).__new__(type(self))
        Value.__init__(copy, *values)
        return copy

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict, in declaration order (shallow)."""
        return {name: getattr(self, name) for name in self.__match_args__}

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        # copy/pickle would otherwise restore the slots through __setattr__.
        return (_rebuild, (type(self), self._values()))


def _rebuild(cls: type[Value], values: tuple[Any, ...]) -> Value:
    value = cls.__new__(cls)
    Value.__init__(value, *values)
    return value

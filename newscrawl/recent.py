"""A bounded map that forgets its least recently used entries (the trap guard's)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

_Key = TypeVar("_Key", bound=Hashable)


class Recent(Generic[_Key]):
    """A map of at most ``capacity`` entries that forgets the least recently used.

    Two generations instead of an exact LRU: a hit moves an entry to the young
    one, and when the young one is full the old one is dropped whole. Plain dicts
    make that cheaper in time and memory than an ``OrderedDict``.
    """

    __slots__ = ("_half", "_old", "_young")

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            msg = f"capacity must be at least 2, not {capacity}"
            raise ValueError(msg)
        self._half = capacity // 2
        self._young: dict[_Key, int] = {}
        self._old: dict[_Key, int] = {}

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def get(self, key: _Key) -> int | None:
        if (value := self._young.get(key)) is not None:
            return value
        if (value := self._old.pop(key, None)) is not None:
            self.put(key, value)
        return value

    def put(self, key: _Key, value: int) -> None:
        young = self._young
        if key not in young:
            self._old.pop(key, None)
            if len(young) >= self._half:
                self._old = young
                young = self._young = {}
        young[key] = value

"""One small registry, used for losses and regularizers (and by user plug-ins).

A plug-in is a Python file that the operator names on the command line::

    from gan_core import register_loss

    @register_loss("mine")
    class Mine:
        '''What it is, in one line.

        L_D = ...;  L_G = ...
        '''
        def d_loss(real, fake): ...
        def g_loss(real, fake): ...

The registered name is then valid in TrainConfig and listed in the schema.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to entries, in registration order."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"{self.what} name {name!r}: use letters, digits and underscores")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            allowed = ", ".join(self._entries)
            raise KeyError(f"unknown {self.what} {name!r}; allowed: {allowed}") from None

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries.values())


LOADED_PLUGINS: list[Path] = []  # every plug-in file loaded so far, in order


def load_plugin(path: str | Path) -> None:
    """Import a plug-in file by path so that its decorators register their entries.

    Only files the operator names are ever loaded; nothing comes from the network. The file
    is added to LOADED_PLUGINS (a frame process loads them too).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"plug-in file not found: {path}")
    name = f"gandyn_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import plug-in {path}: is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    LOADED_PLUGINS.append(path)


def describe(cls: type) -> tuple[str, str]:
    """(description, formula) from a class docstring: its first line, then the rest."""
    lines = [line.strip() for line in (cls.__doc__ or cls.__name__).strip().splitlines()]
    return lines[0], " ".join(line for line in lines[1:] if line)

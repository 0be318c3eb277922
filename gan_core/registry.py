"""One small registry, used for losses and regularizers (and by user plug-ins).

Each loss and regularizer is declared in a torch-free module (gan_core.loss_specs,
gan_core.regularizer_specs: its name, description, formula and settings, all that the
config, the schema and the web process need) and implemented in a torch module
(gan_core.losses, gan_core.regularizers: its functions), registered under the declared name.
An entry's functions are looked up in its ``Implementations`` on first use, which imports
the torch module then: the web process, which validates configs and serves the schema,
never imports torch.

A plug-in is a Python file that the operator names on the command line; it declares and
implements in one class::

    from gan_core import register_loss

    @register_loss("mine")
    class Mine:
        '''What it is, in one line.

        L_D = ...;  L_G = ...
        '''
        def d_loss(real, fake): ...
        def g_loss(real, fake): ...

The registered name is then valid in TrainConfig and listed in the schema. The web
process loads the file too (for the schema and config validation): a plug-in that imports
torch inside its functions, not at the top of the file, keeps torch out of the web process.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

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


class Implementations:
    """Declared names to the classes holding their functions (torch code).

    ``module`` implements the built-in entries; it is imported the first time an entry's
    functions are asked for (never in the web process, which only reads declarations).
    """

    def __init__(self, declared: Registry[Any], module: str) -> None:
        self.declared = declared
        self.module = module
        self._classes: dict[str, type] = {}

    def declaration(self, name: str) -> Any:
        """The declared entry that ``name`` implements; KeyError if none."""
        if name not in self.declared:
            raise KeyError(
                f"{self.declared.what} {name!r} is implemented but not declared: declare it "
                f"first (or use register_{self.declared.what})"
            )
        return self.declared.get(name)

    def add(self, name: str, cls: type) -> type:
        self.declaration(name)
        self._classes[name] = cls
        return cls

    def get(self, name: str) -> type:
        if name not in self._classes:
            importlib.import_module(self.module)
        try:
            return self._classes[name]
        except KeyError:
            raise KeyError(
                f"{self.declared.what} {name!r} is declared but has no implementation "
                f"(none in {self.module} or a plug-in)"
            ) from None

    def missing(self) -> list[str]:
        """Declared names without an implementation (after importing ``module``)."""
        importlib.import_module(self.module)
        return [name for name in self.declared.names() if name not in self._classes]


class Implemented:
    """An attribute of a declared entry that its implementing class gives (a function, or
    ``default`` when the class has none); read on use, so declaring needs no torch."""

    def __init__(self, implementations: Implementations, default: Any = None) -> None:
        self.implementations = implementations
        self.default = default

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, entry: Any, owner: type | None = None) -> Any:
        if entry is None:
            return self
        cls = self.implementations.get(entry.name)
        return getattr(cls, self.attribute, self.default)


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

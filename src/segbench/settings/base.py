"""The base classes of segbench's typed settings and the one formatter of their errors.

Every config section that segbench itself reads (``evaluation``, ``fairness``, ``tune``, …) is
a :class:`Section`: a frozen pydantic model whose fields carry the defaults (the only place a
default lives; the YAML files under ``conf/`` choose values) and whose attribute docstrings
document each setting. The components that are plug-ins — a dataset adapter, an estimator, a
feature block — are :class:`Component` s: a ``_target_`` class plus free keyword arguments,
validated by the class itself when it is built (:mod:`segbench.configs`).

A :class:`pydantic.ValidationError` becomes one :class:`~segbench.errors.ConfigError`
paragraph through :func:`settings_error`, naming each key, the value found and what is
expected:

>>> from pydantic import Field
>>> class Demo(Section):
...     size: int = Field(10, ge=2)
>>> try:
...     Demo.model_validate({"size": -1})
... except Exception as err:
...     print(settings_error(err, {"size": -1}, prefix="demo"))
demo.size=-1: expected a value greater than or equal to 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from segbench.errors import ConfigError


class Section(BaseModel):
    """A config section read by segbench: typed, frozen, unknown keys refused."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, validate_default=True
    )

    def dump(self) -> dict[str, Any]:
        """The values as plain Python (``_target_`` keys by their config name)."""
        return self.model_dump(by_alias=True, mode="json")


class Component(BaseModel):
    """A plug-in named by ``_target_`` with free keyword arguments (validated by the class)."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        populate_by_name=True,
        use_attribute_docstrings=True,
    )

    target: str = Field(alias="_target_", min_length=1)
    """The class to build, ``package.module.Class``."""

    @property
    def params(self) -> dict[str, Any]:
        """The keyword arguments of the class (every key but the reserved ones)."""
        return dict(self.model_extra or {})

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


def _key(loc: tuple[Any, ...], data: Any) -> tuple[str, Any]:
    """The dotted config key an error location points at, and the value found there.

    pydantic adds the branch names of unions (``int``, ``function-after[...]``) to locations;
    only the parts that are keys of the data are kept.
    """
    parts, node, value = [], data, data
    for item in loc:
        in_mapping = isinstance(node, Mapping) and item in node
        in_list = isinstance(node, list) and isinstance(item, int) and item < len(node)
        if in_mapping or in_list:
            node = node[item]
        elif isinstance(item, str) and (not parts or isinstance(node, Mapping)):
            parts.append(str(item))
            return ".".join(parts), _MISSING
        else:
            continue
        parts.append(str(item))
        value = node
    return ".".join(parts), value


_MISSING = object()


def _expected(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "missing":
        return "missing; it is required"
    if error.get("type") == "extra_forbidden":
        return "not a setting here"
    if message.startswith("Input should be "):
        message = message[len("Input should be ") :]
        if message.startswith(("a ", "an ", "'", '"')):
            return f"expected {message}"
        return f"expected a value {message}"
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message[:1].lower() + message[1:]


def settings_error(err: ValidationError, data: Mapping[str, Any], prefix: str = "") -> ConfigError:
    """One :class:`ConfigError` paragraph for every problem of a :class:`ValidationError`.

    ``data`` is what was validated (the values are looked up in it); ``prefix`` is the config
    path of that data (``"evaluation"``), prepended to every key.
    """
    seen: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    for error in err.errors():
        key, value = _key(tuple(error.get("loc", ())), data)
        full = f"{prefix}.{key}" if prefix and key else (prefix or key)
        seen.setdefault(full, [])
        expected = _expected(error)
        if expected not in seen[full]:
            seen[full].append(expected)
        shown[full] = "" if value is _MISSING or isinstance(value, Mapping) else f"={value!r}"
    sentences = [f"{key}{shown[key]}: {' or '.join(messages)}" for key, messages in seen.items()]
    return ConfigError("; ".join(sentences) + ".")


def coerce(cls: type[BaseModel], value: Any, prefix: str = "") -> Any:
    """``value`` as settings of type ``cls``: returned as is when it already is, else
    validated from a mapping (an OmegaConf node is resolved first). Errors are one
    :class:`ConfigError` paragraph whose keys start with ``prefix``."""
    if isinstance(value, cls):
        return value
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise settings_error(err, data if isinstance(data, Mapping) else {}, prefix) from None


__all__ = ["Component", "Section", "coerce", "settings_error"]

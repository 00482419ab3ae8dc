"""Typed dataclass configs: named presets as a CLI, strict YAML save/load.

A member writes its configs as (nested) dataclasses with a docstring under each field,
and a plain dict of named presets::

    @dataclasses.dataclass
    class Config:
        lr: float = 1e-3
        \"\"\"Adam learning rate.\"\"\"
        trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)

    PRESETS = {"tiny": ("a minute on CPU", Config(...)), "paper": ("the paper's setup", Config())}
    cfg = cli_from_presets(PRESETS)          # prog tiny --trainer.steps 10 --lr 3e-4

:func:`save_config` writes YAML; :func:`load_config` / :func:`config_from_dict` rebuild the
dataclass and check every value against its annotation: an unknown key, a missing
required field or a value of the wrong type raises :class:`ConfigError` naming the
source (file) and the dotted field, e.g. ``config.yaml: trainer.steps: expected int, got
str 'ten'``. Supported field types: bool, int, float (ints accepted), str, Path,
Literal, Enum, Optional / unions, tuple[...] (fixed or ``...``), list, dict with str keys,
nested dataclasses and Any.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from shared_utils.io.atomic import atomic_write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or dict does not match its dataclass (names the source and the field)."""


# --------------------------------------------------------------------------- CLI
def cli_from_presets(
    presets: Mapping[str, tuple[str, T]],
    *,
    args: Sequence[str] | None = None,
    description: str | None = None,
    prog: str | None = None,
) -> T:
    """Parse ``prog PRESET [--field value ...]`` into a config dataclass.

    Args:
        presets: preset name -> (one-line description, config instance).
        args: the arguments (default: ``sys.argv[1:]``).
        description: the --help text (default: the config class docstring).
        prog: program name for --help.

    Returns:
        A copy of the chosen preset with the overrides applied; nested fields are
        addressed with dots (``--trainer.steps 10``) and each field's docstring is its
        help text.
    """
    if not presets:
        raise ValueError("cli_from_presets needs at least one preset")
    import tyro  # imported lazily: tyro is only needed when parsing a command line

    return tyro.extras.overridable_config_cli(
        dict(presets), args=args, description=description, prog=prog
    )


# --------------------------------------------------------------------------- to dict / YAML
def config_to_dict(cfg: Any) -> Any:
    """A dataclass (or value) as plain YAML/JSON types: dicts, lists, str, numbers, None.

    Paths become strings, tuples lists, enums their values.
    """
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, enum.Enum):
        return config_to_dict(cfg.value)
    if isinstance(cfg, os.PathLike):
        return os.fspath(cfg)
    if isinstance(cfg, Mapping):
        return {str(k): config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, list | tuple):
        return [config_to_dict(v) for v in cfg]
    if cfg is None or isinstance(cfg, bool | int | float | str):
        return cfg
    raise TypeError(f"cannot store a {type(cfg).__name__} in a config: {cfg!r}")


def save_config(cfg: Any, path: str | os.PathLike[str]) -> None:
    """Write a config dataclass to ``path`` as YAML (atomically), fields in declaration order."""
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=False)
    atomic_write_text(path, text)


def load_config(cls: type[T], path: str | os.PathLike[str]) -> T:
    """Read a YAML file written by :func:`save_config` back into ``cls`` (strictly checked)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    return config_from_dict(cls, {} if data is None else data, source=str(path))


# --------------------------------------------------------------------------- from dict
def config_from_dict(cls: type[T], data: Mapping[str, Any], *, source: str = "<dict>") -> T:
    """Build dataclass ``cls`` from plain data, checking every field against its type.

    Args:
        cls: the config dataclass.
        data: the mapping (e.g. parsed YAML); missing fields take their defaults.
        source: where ``data`` came from (a file path), quoted in errors.

    Raises:
        ConfigError: ``"{source}: {dotted.field}: {problem}"`` for an unknown field, a
            missing required field or a mistyped value.
    """
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"{cls!r} is not a dataclass type")
    return typing.cast(T, _build_dataclass(cls, data, source, ""))


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _fail(source: str, where: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {where or '<root>'}: {problem}")


def _build_dataclass(cls: type, data: Any, source: str, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise _fail(source, where, f"expected a mapping for {cls.__name__}, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        prefix = f"{where}." if where else ""
        raise _fail(
            source,
            prefix + str(unknown[0]),
            f"unknown field (valid fields of {cls.__name__}: {', '.join(fields)})",
        )
    kwargs = {}
    for name, field in fields.items():
        dotted = f"{where}.{name}" if where else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], source, dotted)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise _fail(source, dotted, "required field is missing")
    return cls(**kwargs)


def _convert(tp: Any, value: Any, source: str, where: str) -> Any:
    """Check ``value`` against annotation ``tp`` and convert it (lists to tuples, str to Path)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Annotated:
        return _convert(args[0], value, source, where)
    if tp is type(None):
        if value is None:
            return None
        raise _fail(source, where, f"expected null, got {_describe(value)}")
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: keep X's precise error
            return _convert(options[0], value, source, where)
        for option in options:
            try:
                return _convert(option, value, source, where)
            except ConfigError:
                continue
        raise _fail(source, where, f"expected {_type_name(tp)}, got {_describe(value)}")
    if origin is typing.Literal:
        for allowed in args:
            if value == allowed and type(value) is type(allowed):
                return allowed
        raise _fail(source, where, f"expected one of {list(args)}, got {_describe(value)}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build_dataclass(tp, value, source, where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            valid = [m.value for m in tp]
            raise _fail(source, where, f"expected one of {valid}, got {_describe(value)}") from None
    if origin in (tuple, list, dict) or tp in (tuple, list, dict):
        return _convert_container(tp, origin or tp, args, value, source, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif isinstance(tp, type) and issubclass(tp, os.PathLike):
        if isinstance(value, str | os.PathLike):
            return typing.cast(Any, tp)(value)
    else:
        raise _fail(source, where, f"unsupported config field type {_type_name(tp)}")
    raise _fail(source, where, f"expected {_type_name(tp)}, got {_describe(value)}")


def _convert_container(
    tp: Any, origin: Any, args: tuple[Any, ...], value: Any, source: str, where: str
) -> Any:
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _fail(source, where, f"expected a mapping, got {_describe(value)}")
        key_type, value_type = args if args else (str, Any)
        if key_type is not str:
            raise _fail(source, where, "only dicts with str keys are supported")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(source, f"{where}[{key!r}]", "expected a str key")
            out[key] = _convert(value_type, item, source, f"{where}.{key}")
        return out
    if not isinstance(value, list | tuple):
        raise _fail(source, where, f"expected {_type_name(tp)} (a list), got {_describe(value)}")
    if origin is list:
        item_type = args[0] if args else Any
        return [_convert(item_type, v, source, f"{where}[{i}]") for i, v in enumerate(value)]
    if not args:
        return tuple(value)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, source, f"{where}[{i}]") for i, v in enumerate(value))
    if args == ((),):  # tuple[()]
        args = ()
    if len(value) != len(args):
        raise _fail(source, where, f"expected {len(args)} items, got {len(value)}")
    return tuple(
        _convert(a, v, source, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value))
    )


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")

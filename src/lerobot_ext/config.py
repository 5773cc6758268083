"""``ExtTrainPipelineConfig``: lerobot's ``TrainPipelineConfig`` plus the fields plugins declare.

The class itself adds no field: every flag of lerobot-ext - the built-in ones too - comes from a
plugin's ``register_config_fields`` hook, and :func:`build_config_class` assembles the config
class of a run from the loaded plugins. Every field is written into each checkpoint's
``train_config.json`` (so ``--resume`` restores it), and :data:`FIELDS_FILE` next to it records
which plugin owns which field, so a resume without that plugin can say so.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import sys
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from lerobot.configs.train import TrainPipelineConfig

from lerobot_ext.errors import ConfigError
from lerobot_ext.registrations import ConfigField

FIELDS_FILE = "lerobot_ext_fields.json"


@dataclass
class ExtTrainPipelineConfig(TrainPipelineConfig):
    """The base of every run's config class; see :func:`build_config_class`."""

    #: ``{field name: plugin}`` of the fields the loaded plugins added (set on built classes); a
    #: field added to one of upstream's groups is named ``group.name`` (``dataset.mix``).
    plugin_fields: ClassVar[dict[str, str]] = {}

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        (Path(save_directory) / FIELDS_FILE).write_text(
            json.dumps({"fields": dict(self.plugin_fields)}, indent=2) + "\n"
        )


def _dataclass_field(spec: ConfigField) -> tuple[str, Any, Any]:
    metadata = {"plugin": spec.plugin, "help": spec.help}
    default = spec.default
    if spec.is_group:
        group_type = spec.type
        factory = (lambda: group_type()) if default is None else (lambda: copy.deepcopy(default))
        return spec.name, spec.type, field(default_factory=factory, metadata=metadata)
    if isinstance(default, list | dict | set):
        return spec.name, spec.type, field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return spec.name, spec.type, field(default=default, metadata=metadata)


@functools.cache
def upstream_groups() -> dict[str, type]:
    """``{name: class}`` of ``TrainPipelineConfig``'s fields a plugin may add fields to
    (``--dataset.mix``): the plain dataclass ones - not a choice of types like ``policy``."""
    import draccus

    hints = typing.get_type_hints(TrainPipelineConfig)
    return {
        f.name: hints[f.name]
        for f in fields(TrainPipelineConfig)
        if isinstance(hints[f.name], type)
        and dataclasses.is_dataclass(hints[f.name])
        and not issubclass(hints[f.name], draccus.ChoiceRegistry)
    }


def _registered_class(name: str, make: Any) -> type:
    """The class named ``name`` in this module, made once: a config object pickles by reference
    in the process that built its class."""
    module = sys.modules[__name__]
    existing = getattr(module, name, None)
    if existing is not None:
        return existing
    cls = make()
    cls.__module__ = __name__
    setattr(module, name, cls)
    return cls


def _group_class(group: str, specs: Sequence[ConfigField], key: str) -> type:
    """Upstream's ``group`` class plus the plugins' fields for it (names without ``group.``)."""
    base = upstream_groups()[group]
    leaves = [dataclasses.replace(spec, name=spec.name.split(".", 1)[1]) for spec in specs]
    name = f"{base.__name__}_{key}"
    return _registered_class(
        name, lambda: dataclasses.make_dataclass(name, [_dataclass_field(s) for s in leaves], bases=(base,))
    )


def build_config_class(specs: Sequence[ConfigField]) -> type[ExtTrainPipelineConfig]:
    """``ExtTrainPipelineConfig`` with one field per ``spec``, in registration order.

    A ``group.name`` spec adds ``name`` to a subclass of upstream's ``group`` class, which the
    built class declares ``group`` as (in its place among upstream's fields). The classes are
    also set as attributes of this module under names derived from their fields, so a config
    object can be pickled by reference in the process that built them.
    """
    if not specs:
        return ExtTrainPipelineConfig
    key = hashlib.sha1(repr([(s.name, s.type, s.plugin) for s in specs]).encode()).hexdigest()[:10]
    top = [spec for spec in specs if "." not in spec.name]
    nested: dict[str, list[ConfigField]] = {}
    for spec in specs:
        if "." in spec.name:
            nested.setdefault(spec.name.split(".", 1)[0], []).append(spec)
    groups = [(group, _group_class(group, group_specs, key)) for group, group_specs in nested.items()]
    name = f"ExtTrainPipelineConfig_{key}"

    def make() -> type:
        return dataclasses.make_dataclass(
            name,
            [*(_dataclass_field(spec) for spec in top), *groups],
            bases=(ExtTrainPipelineConfig,),
            namespace={
                "plugin_fields": {spec.name: spec.plugin for spec in specs},
                "__doc__": "lerobot-train's config plus the loaded plugins' fields.",
            },
        )

    return _registered_class(name, make)


def nested_extension_fields(
    config_class: type = ExtTrainPipelineConfig,
) -> list[tuple[str, dataclasses.Field]]:
    """``(group.name, field)`` of the fields plugins added to upstream's groups (``dataset.mix``)."""
    out = []
    for group_field in fields(config_class):
        group = group_field.name
        upstream = upstream_groups().get(group)
        if upstream is None or group_field.type is upstream or not isinstance(group_field.type, type):
            continue
        own = {f.name for f in fields(upstream)}
        out += [(f"{group}.{f.name}", f) for f in fields(group_field.type) if f.name not in own]
    return out


def extension_fields(config_class: type = ExtTrainPipelineConfig) -> list[dataclasses.Field]:
    """The dataclass fields ``config_class`` adds to upstream's ``TrainPipelineConfig``."""
    upstream = {f.name for f in fields(TrainPipelineConfig)}
    return [f for f in fields(config_class) if f.name not in upstream]  # groups extended: see below


def saved_field_owners(config_file: Path) -> dict[str, str]:
    """``{field: plugin}`` recorded next to a saved ``train_config.json`` ({} if none)."""
    path = Path(config_file).with_name(FIELDS_FILE)
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("fields", {}))


def check_saved_fields(
    config_file: Path, config_class: type, loaded: Sequence[str], not_loaded: Sequence[str]
) -> None:
    """Refuse a saved config with fields no loaded plugin declares, naming field and plugin.

    Without this, draccus would stop at the first unknown key with a parse error that names
    neither the plugin nor the fix.
    """
    path = Path(config_file)
    if not path.is_file() or path.suffix != ".json":
        return
    saved = json.loads(path.read_text())
    known = {f.name for f in fields(config_class)}
    unknown = [key for key in saved if key not in known]
    # A field a plugin added to one of upstream's groups: saved inside the group's object.
    group_types = {f.name: f.type for f in fields(config_class)}
    for group in upstream_groups():
        values, group_type = saved.get(group), group_types.get(group)
        if isinstance(values, dict) and isinstance(group_type, type) and dataclasses.is_dataclass(group_type):
            group_known = {f.name for f in fields(group_type)}
            unknown += [f"{group}.{key}" for key in values if key not in group_known]
    if not unknown:
        return
    owners = saved_field_owners(path)
    described = ", ".join(
        f"--{key} (plugin '{owners[key]}')" if key in owners else f"--{key} (no plugin recorded)"
        for key in unknown
    )
    missing = sorted({owners[key] for key in unknown if key in owners})
    hint = (
        f"Install or enable plugin(s) {', '.join(repr(m) for m in missing)}"
        if missing
        else "Install the plugin that declared them"
    )
    raise ConfigError(
        f"{path} sets {described}, but no loaded plugin declares {'it' if len(unknown) == 1 else 'them'} "
        f"(loaded: {', '.join(loaded) or 'none'}; installed but not loaded: {', '.join(not_loaded) or 'none'}). "
        f"{hint} (see `lerobot-train-ext --plugins` and LEROBOT_EXT_PLUGINS)."
    )


def parse_config(argv: Sequence[str], config_class: type[ExtTrainPipelineConfig]) -> ExtTrainPipelineConfig:
    """Parse ``argv`` (``--name=value`` flags) exactly as upstream's ``@parser.wrap()`` does,
    into ``config_class``.

    Upstream's parser reads the command line from ``sys.argv``: it is ``argv`` while parsing, and
    put back afterwards. A value the config refuses is a :class:`~lerobot_ext.errors.ConfigError`
    naming it.
    """
    from draccus.utils import ParsingError
    from lerobot.configs import parser

    def _parse(cfg):  # type: ignore[no-untyped-def]
        return cfg

    # parser.wrap reads the config class from the real annotation object (this module defers
    # annotations to strings).
    _parse.__annotations__ = {"cfg": config_class}
    saved = sys.argv
    sys.argv = [sys.argv[0] if sys.argv else "lerobot-train-ext", *argv]
    try:
        return parser.wrap()(_parse)()
    except (SystemExit, ParsingError) as exc:
        # Upstream prints draccus' "Couldn't instantiate class ..." and exits, or (for a nested
        # config such as --ema.*) draccus' error escapes as is; the config's own error (which
        # field, which fix) is only in the exception chain.
        cause = _root_cause(exc if isinstance(exc, ParsingError) else exc.__context__)
        if cause is None or getattr(cause, "logged", False):
            raise
        raise ConfigError(f"invalid configuration: {cause}") from cause
    finally:
        sys.argv = saved


def _root_cause(error: BaseException | None) -> BaseException | None:
    """The innermost exception under a draccus parsing error, or None if there is none."""
    from draccus.utils import ParsingError

    if not isinstance(error, ParsingError):
        return None
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return None if isinstance(error, ParsingError) else error

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
import hashlib
import json
import sys
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

    #: ``{field name: plugin}`` of the fields the loaded plugins added (set on built classes).
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


def build_config_class(specs: Sequence[ConfigField]) -> type[ExtTrainPipelineConfig]:
    """``ExtTrainPipelineConfig`` with one field per ``spec``, in registration order.

    The class is also set as an attribute of this module under a name derived from its fields,
    so a config object can be pickled by reference in the process that built the class.
    """
    if not specs:
        return ExtTrainPipelineConfig
    key = hashlib.sha1(repr([(s.name, s.type, s.plugin) for s in specs]).encode()).hexdigest()[:10]
    name = f"ExtTrainPipelineConfig_{key}"
    module = sys.modules[__name__]
    existing = getattr(module, name, None)
    if existing is not None:
        return existing
    cls = dataclasses.make_dataclass(
        name,
        [_dataclass_field(spec) for spec in specs],
        bases=(ExtTrainPipelineConfig,),
        namespace={
            "plugin_fields": {spec.name: spec.plugin for spec in specs},
            "__doc__": "lerobot-train's config plus the loaded plugins' fields.",
        },
    )
    cls.__module__ = __name__
    setattr(module, name, cls)
    return cls


def extension_fields(config_class: type = ExtTrainPipelineConfig) -> list[dataclasses.Field]:
    """The dataclass fields ``config_class`` adds to upstream's ``TrainPipelineConfig``."""
    upstream = {f.name for f in fields(TrainPipelineConfig)}
    return [f for f in fields(config_class) if f.name not in upstream]


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

"""The context of one command (a training run, ``inspect``, an evaluation, a plugin's command),
passed to the hooks that take ``run`` - as pytest passes ``config`` and ``session`` - instead of
module globals.

A plugin reads the flags given on the command line (``run.flags``), where this process stands in
a launch (``run.rank``, ``run.world_size``), how far a resumed run got (``run.start_step``), calls
the hooks plugins added (``run.hooks``), parses a command line exactly as ``lerobot-train`` does
(``run.parse_config``, ``run.resume_config``), and keeps what one of its hooks leaves for another
in ``run.stash`` (under a key of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lerobot_ext.config import ExtTrainPipelineConfig, parse_config
from lerobot_ext.flags import flag_values
from lerobot_ext.launch import launch_rank, launch_world_size


class HookCaller(Protocol):
    """Calls hooks by name as their kind says (``lerobot_ext.dispatch.Hooks``)."""

    def notify(self, name: str, **kwargs: Any) -> None: ...

    def collect(self, name: str, **kwargs: Any) -> list[tuple[str, Any]]: ...

    def first(self, name: str, **kwargs: Any) -> tuple[str, Any] | None: ...

    def chain(self, name: str, **kwargs: Any) -> tuple[Any, list[tuple[str, Any]]]: ...

    def register(self, name: str, make_register: Callable[[str], Callable[..., None]]) -> None: ...


@dataclass
class RunContext:
    """What a command knows about itself; one per command per process.

    ``flags`` is ``{dotted name: value text}`` of what the command line says, after lerobot-ext's
    normalisation (``--name value`` and bare switches read as ``--name=value``; a flag given twice
    counts once, with its last value) - not the values of a ``--config_path`` file nor the
    defaults. ``rank`` and ``world_size`` come from the launch environment (``RANK``,
    ``WORLD_SIZE``, which torchrun and accelerate set) until upstream's Accelerator exists, and
    from it after. ``start_step`` is the number of steps a resumed run already did (known from
    ``on_train_start`` on).
    """

    command: str
    hooks: HookCaller
    argv: list[str] = field(default_factory=list)
    config_class: type[ExtTrainPipelineConfig] = ExtTrainPipelineConfig
    rank: int = field(default_factory=launch_rank)
    world_size: int = field(default_factory=launch_world_size)
    start_step: int = 0
    #: The config the command runs with, once the ``configure`` hooks settled it.
    cfg: ExtTrainPipelineConfig | None = None
    #: What a plugin keeps between its hooks during this command; key it by the plugin's name.
    stash: dict[str, Any] = field(default_factory=dict)
    #: The command line (``--name=value`` flags) of the config the run trains: the last one
    #: :meth:`parse_config` parsed. Upstream reads it back (``--config_path``, ``--policy.path``)
    #: in ``validate()``, so the run hands it to upstream as ``sys.argv``.
    parsed_argv: list[str] = field(default_factory=list)

    @property
    def flags(self) -> dict[str, str]:
        return flag_values(self.argv)

    @property
    def resuming(self) -> bool:
        """Whether the config the command runs with continues a saved run (``--resume``)."""
        return bool(self.cfg is not None and self.cfg.resume)

    def parse_config(self, argv: Sequence[str]) -> ExtTrainPipelineConfig:
        """Parse ``argv`` (``--name=value`` flags) exactly as upstream's ``@parser.wrap()`` does, into
        this command's config class. The last config parsed is the one the run trains: a
        ``configure`` implementation that parses one returns it."""
        cfg = parse_config(argv, self.config_class)
        self.parsed_argv = list(argv)
        return cfg

    def resume_config(self, train_config: Path, overrides: Sequence[str] = ()) -> ExtTrainPipelineConfig:
        """The config of ``--resume=true --config_path=<train_config> <overrides>``, as lerobot-train
        parses that command line (the saved run's config, ``overrides`` applied on top)."""
        return self.parse_config(["--resume=true", f"--config_path={train_config}", *overrides])

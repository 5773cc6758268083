"""The errors this env raises for a request it cannot honour, each naming the value and the fix.

With lerobot-ext installed they are its ``ConfigError``, so ``lerobot-eval-ext`` and
``lerobot-train-ext`` print them as one line (exit code 2); with stock LeRobot alone they are
``ValueError``s (the package does not need lerobot-ext).

The classes are made on first use, not at import: importing this package (which lerobot's
``register_third_party_plugins()`` does in every process, a robot's deploy script included) must
not import lerobot-ext.
"""

from __future__ import annotations

from typing import Any

_DOCS = {
    "EvaluationSeedError": "An evaluation asked for a start state reserved for the demonstrations.",
    "ObservationMismatchError": (
        "A checkpoint takes another environment state than the env gives (the block's offset observed or not)."
    ),
    "RenderingUnavailableError": (
        "``--env.render=true`` but MuJoCo cannot create an OpenGL context on this machine."
    ),
}


def _base() -> type[Exception]:
    try:
        from lerobot_ext import ConfigError
    except ImportError:  # stock LeRobot without lerobot-ext
        return ValueError
    return ConfigError


def __getattr__(name: str) -> Any:
    if name not in _DOCS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = type(name, (_base(),), {"__doc__": _DOCS[name], "__module__": __name__})
    globals()[name] = cls
    return cls


__all__ = list(_DOCS)

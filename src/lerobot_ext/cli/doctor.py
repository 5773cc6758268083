"""``lerobot-ext doctor``: is the installed lerobot one lerobot-ext supports, and if not, what then.

One screen: the installed versions, whether lerobot's is a tested one, the plugins that failed
to load (often because upstream moved something they import - their names cannot be checked
then), every upstream name lerobot-ext and its loaded plugins rely on (found, or what moved), the
sections plugins add through the ``doctor_report`` hook (the ``long_runs`` plugin: a line per
installed VLA policy type, its extras and what it reads from the Hub), and what to do. Exit status
0 when every plugin loaded and every name is found, 1 otherwise: the sections inform, they do not
fail the installation.
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass, field
from typing import TextIO

from lerobot_ext.context import RunContext
from lerobot_ext.dispatch import HOOKS, load_plugins
from lerobot_ext.host import PluginHost, PluginInfo
from lerobot_ext.upstream.catalogue import all_names
from lerobot_ext.upstream.names import UpstreamName
from lerobot_ext.upstream.versions import (
    INSTALL_HINT,
    SUPPORTED_RANGE,
    TESTED,
    installed_lerobot,
    installed_version,
    is_tested,
    status_line,
)

OTHER_DISTRIBUTIONS = ("torch", "accelerate", "draccus", "pluggy", "torchcodec", "av")
#: The hook through which plugins add a section: ``doctor_report(run)`` -> ``{"title": str,
#: "lines": [str, ...], "data": <JSON value>}`` or ``None``.
REPORT_HOOK = "doctor_report"


@dataclass
class Diagnosis:
    lerobot: str
    tested: bool
    versions: dict[str, str]
    plugins: dict[str, str]
    checked: list[tuple[UpstreamName, str | None]] = field(default_factory=list)
    #: Plugins whose entry point failed to import: their upstream names are unknown.
    failed: list[PluginInfo] = field(default_factory=list)
    #: ``(plugin, {"title", "lines", "data"})`` per section a plugin added (``doctor_report``).
    sections: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def moved(self) -> list[tuple[UpstreamName, str]]:
        return [(name, problem) for name, problem in self.checked if problem is not None]

    @property
    def ok(self) -> bool:
        return not self.moved and not self.failed

    def advice(self) -> str:
        if self.failed:
            names = ", ".join(info.name for info in self.failed)
            moved = (
                f"; besides, {len(self.moved)} of {len(self.checked)} names are missing" if self.moved else ""
            )
            fix = (
                "reinstall it or the plugin"
                if self.tested
                else f"install a tested lerobot ({INSTALL_HINT}) or a plugin release for lerobot {self.lerobot}"
            )
            return (
                f"plugin(s) {names} failed to load, so their upstream names were not checked and "
                f"lerobot-train-ext runs without them (LEROBOT_EXT_STRICT_PLUGINS=1 makes that fatal)"
                f"{moved}; if the error names a lerobot module or name, lerobot {self.lerobot} moved "
                f"something the plugin imports: {fix}."
            )
        if self.ok and self.tested:
            return (
                f"lerobot {self.lerobot} is supported: it is a tested version and every name "
                "lerobot-ext relies on is where it expects."
            )
        if self.ok:
            return (
                f"lerobot {self.lerobot} is not a tested version ({', '.join(TESTED)}), but every name "
                "lerobot-ext relies on is present, so it will probably work; for a tested setup: "
                f"{INSTALL_HINT}"
            )
        owners = sorted({name.relied_on_by for name, _ in self.moved})
        what = (
            "lerobot-train-ext will stop at the first one"
            if "lerobot-ext" in owners
            else f"plugin(s) {', '.join(owners)} will fail"
        )
        if self.tested:
            fix = "this lerobot install differs from the release: reinstall it"
        else:
            fix = f"install a tested lerobot: {INSTALL_HINT}"
        return f"{len(self.moved)} of {len(self.checked)} names are missing, so {what}; {fix}."

    def as_dict(self) -> dict:
        return {
            "lerobot": self.lerobot,
            "tested": self.tested,
            "tested_versions": TESTED,
            "supported_range": SUPPORTED_RANGE,
            "versions": self.versions,
            "plugins": self.plugins,
            "failed_plugins": [
                {"name": info.name, "entry_point": info.entry_point, "error": info.error}
                for info in self.failed
            ],
            "names": [
                {
                    "path": name.path,
                    "note": name.note,
                    "kind": name.kind,
                    "distribution": name.provider,
                    "relied_on_by": name.relied_on_by,
                    "why": name.why,
                    "found": problem is None,
                    "problem": problem,
                }
                for name, problem in self.checked
            ],
            "sections": [
                {"plugin": plugin, "title": section.get("title"), "data": section.get("data")}
                for plugin, section in self.sections
            ],
            "ok": self.ok,
            "advice": self.advice(),
        }


def diagnose(host: PluginHost) -> Diagnosis:
    lerobot = installed_lerobot()
    versions = {
        "lerobot-ext": installed_version("lerobot-ext"),
        "python": platform.python_version(),
        **{name: installed_version(name) for name in OTHER_DISTRIBUTIONS},
    }
    plugins = {info.name: info.status for info in host.infos}
    failed = [info for info in host.infos if info.status == "failed"]
    diagnosis = Diagnosis(lerobot, is_tested(lerobot), versions, plugins, failed=failed)
    diagnosis.checked = [(name, name.problem()) for name in all_names(host)]
    diagnosis.sections = plugin_sections(host)
    return diagnosis


def plugin_sections(host: PluginHost) -> list[tuple[str, dict]]:
    """The sections the loaded plugins add (``doctor_report``), in hook order."""
    # A bare host has no hooks; a lerobot-ext whose dispatch table lacks the hook has no sections.
    if host.hooks is None or REPORT_HOOK not in HOOKS:
        return []
    return host.hooks.collect(REPORT_HOOK, run=RunContext("doctor", host.hooks))


def print_diagnosis(diagnosis: Diagnosis, out: TextIO | None = None, verbose: bool = False) -> None:
    out = out or sys.stdout
    write = lambda line="": out.write(line + "\n")  # noqa: E731
    write(f"lerobot-ext {installed_version('lerobot-ext')} doctor")
    write(f"  {status_line(diagnosis.lerobot)}")
    write("  " + ", ".join(f"{k} {v}" for k, v in diagnosis.versions.items() if k != "lerobot-ext"))
    write("  plugins: " + (", ".join(f"{k} ({v})" for k, v in diagnosis.plugins.items()) or "none"))
    write()
    if diagnosis.failed:
        write(
            f"plugins that failed to load ({len(diagnosis.failed)}) - their upstream names are not checked:"
        )
        for info in diagnosis.failed:
            write(f"  FAILED {info.name} ({info.entry_point}): {info.error}")
        write()
    write(f"upstream names lerobot-ext relies on ({len(diagnosis.checked)}):")
    width = max((len(name.label) for name, _ in diagnosis.checked), default=10)
    for name, problem in diagnosis.checked:
        mark = "ok   " if problem is None else "MOVED"
        owner = "" if name.relied_on_by == "lerobot-ext" else f"  [plugin {name.relied_on_by}]"
        if name.provider != "lerobot":
            owner += f"  ({name.provider})"
        write(f"  {mark}  {name.kind:<9} {name.label:<{width}}{owner}".rstrip())
        if problem is not None:
            write(f"         -> {problem}")
        if verbose or problem is not None:
            write(f"         used for: {name.why}")
    write()
    for plugin, section in diagnosis.sections:
        write(f"{section.get('title', plugin)}  [plugin {plugin}]")
        for line in section["lines"]:
            write(f"  {line}")
        write()
    write(("ok: " if diagnosis.ok else "PROBLEM: ") + diagnosis.advice())


def main(as_json: bool = False, verbose: bool = False, host: PluginHost | None = None) -> int:
    diagnosis = diagnose(host if host is not None else load_plugins())
    if as_json:
        json.dump(diagnosis.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_diagnosis(diagnosis, verbose=verbose)
    return 0 if diagnosis.ok else 1

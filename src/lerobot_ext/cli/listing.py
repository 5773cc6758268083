"""``--plugins``: what is loaded, in a table for people or JSON for machines."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from lerobot_ext.host import ENV_ALLOW_LIST, ENV_STRICT, PluginHost
from lerobot_ext.upstream.versions import installed_version


def plugins_as_dicts(host: PluginHost) -> list[dict]:
    return [info.as_dict() for info in host.infos]


def print_plugins(host: PluginHost, as_json: bool = False, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        json.dump(
            {"lerobot_ext": installed_version("lerobot-ext"), "plugins": plugins_as_dicts(host)},
            out,
            indent=2,
        )
        out.write("\n")
        return
    rows = [("NAME", "VERSION", "STATUS", "PROVIDES", "HOOKS")]
    for info in host.infos:
        provides = "; ".join(
            f"{kind}: {', '.join(names)}" for kind, names in info.registered.items() if names
        )
        status = info.status if info.status != "failed" else f"failed ({info.error})"
        rows.append((info.name, info.version or "-", status, provides or "-", ", ".join(info.hooks) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")
    if not host.infos:
        out.write("(no lerobot_ext plugins installed)\n")
    out.write(
        f"\nlerobot-ext {installed_version('lerobot-ext')}; {ENV_ALLOW_LIST} and {ENV_STRICT} control loading.\n"
    )

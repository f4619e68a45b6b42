# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The bundle_hosts filter: the inventory's hosts as the offline bundle's plan reads them."""

from __future__ import annotations

from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle.plan import HOST_KEYS


def bundle_hosts(hostvars: Any, hosts: list[str]) -> list[dict[str, Any]]:
    """[{name, roles, vars}] with only the variables of HOST_KEYS a host sets."""
    listed = []
    for name in hosts:
        own = hostvars[name]
        values = {key: own[key] for key in HOST_KEYS if key in own}
        listed.append(
            {"name": name, "roles": list(own.get("fornax_host_roles") or []), "vars": values}
        )
    return listed


class FilterModule:
    def filters(self) -> dict:
        return {"bundle_hosts": bundle_hosts}

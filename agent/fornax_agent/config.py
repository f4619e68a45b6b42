"""Agent configuration: a YAML file, validated with errors that name the field and value."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.limits import MAX_PATHS
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.names import KUBE_DISTROS
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.policy import (
    MissionPolicy,
    PolicyError,
    parse_policy,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.name_rules import (
    dns1123_label_problem,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import (
    YamlLimitError,
    safe_load,
)

from .commands import CommandUser, resolve_user


class ConfigError(ValueError):
    """The configuration is unusable; the message names the field and the value."""


@dataclass
class AgentConfig:
    cluster: str
    kubeconfig: str  # this cluster's API server
    parent_kubeconfig: str | None = None  # the child identity on the parent; None at the root
    parent: str | None = None  # the parent's name (recorded on copied Missions)
    labels: dict[str, str] = field(default_factory=dict)
    kube_distro: str = "k8s"
    heartbeat_seconds: float = 10.0
    child_timeout_seconds: float = 60.0
    resync_seconds: float = 30.0
    report_delay_seconds: float = 0.02  # coalesce bursts of changes into one report write
    max_paths: int = 100
    # Mission status writes on this cluster: a ceiling (the writes also wait for the API
    # server's answers); no child watches Missions, so a write costs the parent alone.
    status_writes_per_second: float = 50.0
    status_write_burst: int = 50
    allow_commands: bool = False
    command_timeout_seconds: float = 10.0
    command_user: str | int | None = None  # run commands as this (unprivileged) user
    command_kubeconfig: str | None = None  # what [kubeconfig] becomes (default: kubeconfig)
    command_workers: int = 4  # commands running at once
    command_queue: int = 64  # commands waiting for a worker, at most
    statecheck_interval_seconds: float = 10.0  # a Mission's statecheck runs at most this often
    kubectl: str = "kubectl"
    state_dir: str = "/var/lib/fornax-agent"
    token_renewal: bool = True
    token_renew_after: float = 0.66  # renew the parent token after this part of its lifetime
    # The rights this cluster grants Missions (MissionPolicy.to_dict() form; None: defaults).
    mission_policy: dict[str, Any] | None = None
    # Derived by validate(): the parsed grant and the resolved command user.
    policy: MissionPolicy = field(init=False, repr=False, default_factory=MissionPolicy)
    user: CommandUser | None = field(init=False, repr=False, default=None)

    def validate(self) -> AgentConfig:
        if not isinstance(self.cluster, str) or dns1123_label_problem(self.cluster):
            raise ConfigError(f"cluster: {self.cluster!r} is not a DNS-1123 label")
        if self.kube_distro not in KUBE_DISTROS:
            raise ConfigError(f"kube_distro: {self.kube_distro!r} is not one of {KUBE_DISTROS}")
        for name in (
            "heartbeat_seconds",
            "child_timeout_seconds",
            "resync_seconds",
            "command_timeout_seconds",
            "status_writes_per_second",
            "statecheck_interval_seconds",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{name}: {value!r} must be a positive number")
        if self.child_timeout_seconds <= self.heartbeat_seconds:
            raise ConfigError(
                f"child_timeout_seconds: {self.child_timeout_seconds!r} must exceed "
                f"heartbeat_seconds ({self.heartbeat_seconds!r})"
            )
        if (
            not isinstance(self.token_renew_after, int | float)
            or not 0 < self.token_renew_after < 1
        ):
            raise ConfigError(
                f"token_renew_after: {self.token_renew_after!r} must lie between 0 and 1"
            )
        for name in ("max_paths", "status_write_burst", "command_workers", "command_queue"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}: {value!r} must be a positive integer")
        if self.max_paths > MAX_PATHS:
            raise ConfigError(
                f"max_paths: {self.max_paths!r} must be at most {MAX_PATHS}, what a parent keeps"
            )
        if not isinstance(self.labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.labels.items()
        ):
            raise ConfigError(f"labels: {self.labels!r} must map strings to strings")
        return self._check_host()

    def _check_host(self) -> AgentConfig:
        """The files, switches, grant and user the settings name; derives policy and user."""
        for name in ("kubeconfig", "parent_kubeconfig", "command_kubeconfig"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ConfigError(f"{name}: {value!r} is not a readable file")
        for name in ("allow_commands", "token_renewal"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"{name}: {value!r} must be true or false")
        try:
            self.policy = parse_policy(self.mission_policy, "mission_policy")
        except PolicyError as exc:
            raise ConfigError(str(exc)) from exc
        if self.command_user is not None:
            try:
                self.user = resolve_user(self.command_user)
            except ValueError as exc:
                raise ConfigError(f"command_user: {exc}") from exc
        return self


def load_config(path: str) -> AgentConfig:
    try:
        raw: Any = safe_load(Path(path).read_bytes(), f"config file {path!r}")
    except OSError as exc:
        raise ConfigError(f"config file {path!r}: {exc.strerror}") from exc
    except YamlLimitError as exc:
        raise ConfigError(str(exc)) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path!r} must hold a mapping")
    known = {f.name for f in fields(AgentConfig) if f.init}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown setting in {path!r} (known: {sorted(known)})")
    for required in ("cluster", "kubeconfig"):
        if required not in raw:
            raise ConfigError(f"{required}: missing in {path!r}")
    return AgentConfig(**raw).validate()

"""The agent's configuration: new settings are checked and name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fornax_agent.config import ConfigError, load_config

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.policy import MissionPolicy


def write(tmp_path: Path, **settings) -> str:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    config = {"cluster": "b", "kubeconfig": str(kubeconfig), **settings}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_defaults(tmp_path):
    config = load_config(write(tmp_path))
    assert config.policy == MissionPolicy()
    assert config.user is None
    assert (config.command_workers, config.command_queue) == (4, 64)


def test_mission_policy_is_parsed(tmp_path):
    policy = {"resources": ["configmaps"], "namespaces": ["shop"], "podSecurity": "restricted"}
    config = load_config(write(tmp_path, mission_policy=policy))
    assert config.policy.to_dict() == policy
    assert not config.policy.allows_resource("deployments", "apps")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mission_policy": "all"}, "mission_policy: 'all' must be a mapping"),
        ({"mission_policy": {"resources": ["Pods"]}}, "mission_policy.resources: 'Pods' is not"),
        ({"command_user": "no-such-user-x"}, "command_user: 'no-such-user-x' is not a user"),
        ({"command_workers": 0}, "command_workers: 0 must be a positive integer"),
        ({"command_queue": "8"}, "command_queue: '8' must be a positive integer"),
        ({"statecheck_interval_seconds": -1}, "statecheck_interval_seconds: -1 must be"),
        ({"allow_commands": "false"}, "allow_commands: 'false' must be true or false"),
        ({"command_kubeconfig": "/nope"}, "command_kubeconfig: '/nope' is not a readable file"),
        ({"policy": {}}, "policy: unknown setting"),
        ({"max_paths": 1001}, "max_paths: 1001 must be at most 1000"),
    ],
)
def test_bad_settings_name_the_field(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(write(tmp_path, **settings))


def test_command_user(tmp_path):
    config = load_config(write(tmp_path, command_user="nobody"))
    assert config.user is not None and config.user.name == "nobody"

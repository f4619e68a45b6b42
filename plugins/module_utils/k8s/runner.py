# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The frame of every Kubernetes module's main(): options, client, run, one way to fail.

A module declares its own options and a ``run(module, client) -> result`` function; main() is

    module = k8s_module(OWN_OPTIONS, wait=True)
    run_module(module, run, f"mission {module.params['name'] or ''}")

``run_module`` builds the client from the shared connection options, calls ``run``, turns any
error of ours into one ``fail_json`` that names the field, closes the client and exits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule

from .ansible_module import client_from_module, fail
from .args_common import DEFAULT_FIELD_MANAGER, argument_spec
from .client import KubeClient, KubeError
from .service import BulkError, ObjectService

# The errors a run reports as a failed task (anything else is a bug and shows its traceback).
RUN_ERRORS = (KubeError, ValueError, OSError)


def k8s_module(own: dict, *, wait: bool = False, **options: Any) -> AnsibleModule:
    """An AnsibleModule with the shared connection (and wait) options and check mode."""
    return AnsibleModule(
        argument_spec=argument_spec(own, wait=wait), supports_check_mode=True, **options
    )


def object_service(module: Any, client: KubeClient) -> ObjectService:
    """The service with the module's field manager, force_conflicts and check mode."""
    params = module.params
    return ObjectService(
        client,
        field_manager=params.get("field_manager") or DEFAULT_FIELD_MANAGER,
        force=bool(params.get("force_conflicts")),
        check_mode=module.check_mode,
    )


def run_module(module: Any, run: Callable[[Any, KubeClient], dict], action: str = "") -> NoReturn:
    """Run ``run(module, client)`` and exit with its result, or fail naming what and why."""
    client = client_from_module(module)
    try:
        result = run(module, client)
    except BulkError as exc:
        fail(module, exc, action, problems=exc.problems, done=exc.done)
    except RUN_ERRORS as exc:
        fail(module, exc, action)
    finally:
        client.close()
    module.exit_json(**result)
    raise AssertionError("exit_json returned")  # pragma: no cover - exit_json exits

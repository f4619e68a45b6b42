# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Disruptions that are always undone: stop an agent, cut an uplink, stop an API server.

What to run comes from the inventory (``validate_controls`` of a cluster's control-plane host:
systemd units on real hosts, the harness's commands on the loopback tree); it runs ON that
host through Ansible (``ansible <host> -m ansible.builtin.command``), with a bounded time.

Every disruption is written to a journal on the controller BEFORE it is made and removed only
once it is undone, so a run that is killed half-way (even with SIGKILL) leaves a record: the
clean-up at the start of the next run (``restore_journal``) undoes what it lists.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from hashlib import sha256
from typing import Optional

from .base import CheckFailed, log
from .fleet import CONTROLS, Fleet


class ControlError(RuntimeError):
    """A control command failed or did not finish in time; the message says which and why."""


class Journal:
    """Disruptions in progress for one fleet, in a JSON file written atomically."""

    def __init__(self, state_dir: str, fleet_key: str) -> None:
        digest = sha256(fleet_key.encode()).hexdigest()[:12]
        self.path = os.path.join(state_dir, f"disruptions-{digest}.json")
        self.fleet_key = fleet_key

    def entries(self) -> list:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ControlError(f"cannot read the disruption journal {self.path}: {exc}") from exc
        return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []

    def _write(self, entries: list) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(entries, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def add(self, entry: dict) -> str:
        entry = dict(entry, id=uuid.uuid4().hex, fleet=self.fleet_key, since=time.time())
        self._write([*self.entries(), entry])
        return entry["id"]

    def remove(self, entry_id: str) -> None:
        remaining = [e for e in self.entries() if e.get("id") != entry_id]
        if remaining:
            self._write(remaining)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)


class Controller:
    """Runs control commands on fleet hosts through Ansible and journals disruptions."""

    def __init__(
        self,
        fleet: Fleet,
        journal: Journal,
        *,
        inventory_sources: Optional[list] = None,
        ansible_bin: str = "ansible",
        log: Callable[[str], None] = log,
    ) -> None:
        self.fleet = fleet
        self.journal = journal
        self.inventory_sources = list(inventory_sources or [])
        self.ansible_bin = ansible_bin
        self.log = log

    def command(self, cluster: str, control: str, action: str) -> tuple:
        """(host, argv) of ``control``'s ``action`` for ``cluster``, or a failure saying why."""
        spec = self.fleet[cluster].controls.get(control) or {}
        argv = spec.get(action)
        host = self.fleet[cluster].control_host
        if not argv or not host:
            raise CheckFailed(
                f"cluster {cluster}: the inventory says nothing about how to {action} its "
                f"{control} (validate_controls.{control}.{action} of its control-plane host)",
                [cluster],
            )
        return host, list(argv)

    def run_on(self, host: str, argv: list, timeout: float) -> str:
        """Run ``argv`` on inventory host ``host`` (ansible ad hoc), bounded by ``timeout``."""
        call = [self.ansible_bin, host]
        for source in self.inventory_sources:
            call += ["-i", source]
        call += ["-m", "ansible.builtin.command", "-a", json.dumps({"argv": argv}), "--one-line"]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        proc = subprocess.Popen(
            call,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            output, _unused = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ControlError(
                f"{' '.join(argv)} on {host} did not finish within {timeout:g} s"
            ) from exc
        except BaseException:
            # Interrupted (a signal, a test timeout): let the command finish first, so that
            # the restore that follows cannot race with it.
            try:
                proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            raise
        text = output.decode(errors="replace").strip()
        if proc.returncode != 0:
            raise ControlError(
                f"{' '.join(argv)} on {host} failed (ansible exit {proc.returncode}): "
                f"{text[-1500:]}"
            )
        return text

    def do(self, cluster: str, control: str, action: str, timeout: float) -> None:
        host, argv = self.command(cluster, control, action)
        self.log(f"{cluster}: {control} {action}: {' '.join(argv)} on {host}")
        try:
            self.run_on(host, argv, timeout)
        except ControlError as exc:
            raise CheckFailed(f"cluster {cluster}: {exc}", [cluster]) from exc

    @contextmanager
    def disrupted(self, cluster: str, control: str, timeout: float) -> Iterator[None]:
        """Disrupt, yield, and undo whatever happens; the journal covers a killed run."""
        disrupt, restore = CONTROLS[control]
        host, undo = self.command(cluster, control, restore)
        self.command(cluster, control, disrupt)  # fails before anything is done
        entry = self.journal.add(
            {"cluster": cluster, "control": control, "host": host, "restore": undo}
        )
        failure: Optional[BaseException] = None
        try:
            self.do(cluster, control, disrupt, timeout)
            yield
        except BaseException as exc:
            failure = exc
            raise
        finally:
            try:
                self.do(cluster, control, restore, timeout)
            except CheckFailed as exc:
                message = (
                    f"{exc} -- could NOT restore it; the journal {self.journal.path} keeps it "
                    "for the next run's clean-up"
                )
                if failure is None:
                    raise CheckFailed(message, [cluster]) from exc
                self.log(message)
            else:
                self.journal.remove(entry)

    def restore_journal(self, timeout: float) -> list:
        """Undo what an interrupted run left disrupted; return what was restored."""
        restored = []
        for entry in self.journal.entries():
            argv = entry.get("restore")
            host = entry.get("host")
            if not isinstance(argv, list) or not host:
                self.journal.remove(str(entry.get("id")))
                continue
            self.run_on(str(host), [str(a) for a in argv], timeout)
            self.journal.remove(str(entry.get("id")))
            restored.append(f"{entry.get('cluster')}: {entry.get('control')} ({' '.join(argv)})")
        return restored

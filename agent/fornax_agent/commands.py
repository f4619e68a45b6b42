"""Mission commands: run only where the cluster opted in, bounded in time, never built by us.

The Mission author's command is handed to /bin/sh as ONE argument, exactly as written; the
agent never pastes Mission content into a command line of its own (the original piped YAML
through printf into kubectl and broke on quotes and percent signs). The placeholders
[kubectl] and [kubeconfig] become shell-quoted paths.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st

MAX_OUTPUT = 200


@dataclass
class CommandRunner:
    allowed: bool
    timeout: float
    kubectl: str
    kubeconfig: str

    def substitute(self, command: str) -> str:
        return command.replace("[kubectl]", shlex.quote(self.kubectl)).replace(
            "[kubeconfig]", shlex.quote(self.kubeconfig)
        )

    def run(self, command: str) -> tuple[int, str]:
        """(exit status, first line of output); 124 and a message on timeout."""
        try:
            result = subprocess.run(
                ["/bin/sh", "-c", self.substitute(command)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return 124, f"timed out after {self.timeout:g} s"
        output = (result.stdout.strip() or result.stderr.strip()).splitlines()
        first = output[0] if output else ""
        return result.returncode, first[:MAX_OUTPUT]

    def mission_command(self, spec: dict) -> str:
        """Run spec.missioncommand once: the state it leaves (done, skipped, failed: ...)."""
        if not self.allowed:
            return st.failed("missioncommand is disabled on this cluster (allow_commands: false)")
        mc = spec.get("missioncommand") or {}
        trigger = mc.get("trigger")
        if trigger:
            code, _out = self.run(trigger)
            wanted = bool(mc.get("runwhentriggersucceed"))
            if (code == 0) != wanted:
                return st.SKIPPED
        code, out = self.run(mc.get("command") or "true")
        return st.DONE if code == 0 else st.failed(f"command exited {code}: {out}")

    def reverse(self, spec: dict) -> None:
        reverse = (spec.get("missioncommand") or {}).get("reversecommand")
        if self.allowed and reverse:
            self.run(reverse)

    def statecheck(self, spec: dict) -> str | None:
        """The statecheck command's output as the state, or None when there is none to run."""
        command = (spec.get("statecheck") or {}).get("command")
        if not command or not self.allowed:
            return None
        code, out = self.run(command)
        return out if code == 0 else st.failed(f"statecheck exited {code}: {out}")

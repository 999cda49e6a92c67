"""Start one program of the embedded stack: apply its environment overlay, then exec it.

    python -m drillbook.stack.launch [--env-file FILE] [--discard-stdout] -- COMMAND [ARGS...]

`--env-file` is how the local platform plays `kubectl set env`: `LocalPlatform.set_env` writes
the component's overlay (a JSON object of name -> value, or null to unset a variable) and
restarts its replicas, which read it here. The file is read at every start, so a restarted
replica always has the current overlay, and removing the file returns to the deployed spec.

`--discard-stdout` is for programs that print credentials on stdout (OpenBao's dev server
prints its root token and unseal key in its start-up banner): supervisord would keep them in a
log file, and secrets never go into logs.

The command is exec'd, so supervisord's PID is the program's own (kill and stop reach it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from drillbook.platforms.env_overlay import apply_overlay, read_overlay


def launch_command(
    command: Sequence[str], *, env_file: Path | None = None, discard_stdout: bool = False
) -> list[str]:
    """`command` wrapped in this launcher (what a supervisord program runs)."""
    options: list[str] = []
    if env_file is not None:
        options += ["--env-file", str(env_file)]
    if discard_stdout:
        options.append("--discard-stdout")
    return [sys.executable, "-m", "drillbook.stack.launch", *options, "--", *command]


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    env_file: Path | None = None
    discard_stdout = False
    while args and args[0] != "--":
        option = args.pop(0)
        if option == "--env-file" and args:
            env_file = Path(args.pop(0))
        elif option == "--discard-stdout":
            discard_stdout = True
        else:
            print(f"launch: unknown option {option!r}", file=sys.stderr)
            return 2
    command = args[1:]
    if not command:
        print("launch: no command after --", file=sys.stderr)
        return 2
    if env_file is not None:
        apply_overlay(os.environ, read_overlay(env_file))
    if discard_stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    os.execvpe(command[0], command, os.environ)
    return 0  # unreachable: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

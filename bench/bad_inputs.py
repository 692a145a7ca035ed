"""Every bad input of the matrix in ``tests/bad_inputs.py``, through the real ``rnnkit`` command.

Prints one row per case: what is wrong, the exit code, the first line on stderr. A case passes when
the exit code is 2, stderr is exactly the expected single line (no ``Traceback`` anywhere), and the
failed run left no output directory behind. Exits non-zero if any case fails.

    .venv/bin/python bench/bad_inputs.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared case list lives in tests/

from tests.bad_inputs import CASES, OUT, command, write_inputs


def main() -> int:
    d = Path(tempfile.mkdtemp(prefix="rnnkit-bad-inputs-"))
    try:
        write_inputs(d)
        failures = 0
        print(f"{'case':<34} {'exit':>4}  first stderr line")
        for name, argv, line in CASES:
            result = subprocess.run(
                [sys.executable, "-m", "rnnkit.cli", *command(argv, d)], capture_output=True, text=True, cwd=d
            )
            lines = result.stderr.splitlines()
            left_behind = Path(OUT.format(d=d)).exists()
            shutil.rmtree(OUT.format(d=d), ignore_errors=True)  # so one failure does not spill into the next case
            ok = result.returncode == 2 and lines == [line.format(d=d)] and not left_behind
            failures += not ok
            shown = (lines[0] if lines else "(nothing)").replace(str(d), "DIR")
            print(f"{name:<34} {result.returncode:>4}  {shown}{'' if ok else '   <-- FAILED'}")
            if "Traceback" in result.stderr or left_behind:
                print(f"{'':<40}{'traceback on stderr' if 'Traceback' in result.stderr else 'output left behind'}")
        print(f"\n{len(CASES)} cases, {len(CASES) - failures} passed, {failures} failed")
        return 1 if failures else 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

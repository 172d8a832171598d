#!/usr/bin/env python3
"""Long crash-safety run: `tools/crash_soak.py --cycles 100 --durability process|fsync`.

Each cycle drives concurrent mixed load against `larder serve` ($LARDER_BIN, default
build/larder), kills it with SIGKILL at a random moment (often mid-flush: the flusher runs every
few milliseconds), restarts it (sometimes crashing it again during recovery) and checks every
acknowledged write against a reference model; tools/crash_harness.py has the details. Prints one
line per cycle and a RESULT line; exits 1 on the first violation and keeps the data directory.
--seed replays a run's random choices (the kill moments still depend on timing).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import crash_harness  # noqa: E402

if __name__ == "__main__":
    sys.exit(crash_harness.run_cli())

"""The command lines, one module per command (``randommask <command>``: ``main.py``; or ``examples/<command>.py``),
all run through ``entry.run_command``: the same environment, logging and error reporting everywhere.

The top stage: it drives every other and nothing imports it. Importing it sets the OpenMP wait policy before any
command module loads torch.
"""

import os

# Idle OpenMP threads sleep instead of spinning (must be set before torch loads): on a busy 2-core machine spinning
# threads made a 200-step tiny run take 302 s and 155 CPU-s instead of 70 s and 28 CPU-s (docs/tutorial.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""Put on PYTHONPATH to see what a served process imported: on SIGUSR1 it writes the names of the
modules loaded so far, one a line, to the file named by CLONE_IMPORT_WATCH (tests and benchmarks)."""

import os
import signal
import sys

_TARGET = os.environ.get("CLONE_IMPORT_WATCH", "")


def _dump(signum, frame):
    names = sorted(sys.modules)
    with open(_TARGET + ".part", "w", encoding="utf-8") as handle:
        handle.write("\n".join(names) + "\n")
    os.replace(_TARGET + ".part", _TARGET)  # whole or not at all


if _TARGET:
    signal.signal(signal.SIGUSR1, _dump)

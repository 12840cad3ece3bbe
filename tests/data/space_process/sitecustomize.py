"""Put on PYTHONPATH to watch a served process from outside (tests and benchmarks).

``CLONE_IMPORT_WATCH=FILE``: on SIGUSR1 the process writes the names of the modules it has loaded,
one a line, to FILE. ``CLONE_FAKE_HUB=FOLDER``: ``huggingface_hub.snapshot_download`` copies
``FOLDER/<repo id>`` instead of reaching the Hub (the network boundary), and notes each repo id it
was asked for in ``FOLDER/requests.txt``.
"""

import os
import signal
import sys

_WATCH = os.environ.get("CLONE_IMPORT_WATCH", "")
_HUB = os.environ.get("CLONE_FAKE_HUB", "")


def _dump(signum, frame):
    names = sorted(sys.modules)
    with open(_WATCH + ".part", "w", encoding="utf-8") as handle:
        handle.write("\n".join(names) + "\n")
    os.replace(_WATCH + ".part", _WATCH)  # whole or not at all


def _snapshot_download(repo_id, *, local_dir, allow_patterns=None, token=None, **kwargs):
    import fnmatch
    import shutil
    from pathlib import Path

    with open(Path(_HUB) / "requests.txt", "a", encoding="utf-8") as log:
        log.write(repo_id + "\n")
    source = Path(_HUB) / repo_id
    if not source.is_dir():
        raise OSError(f"404: no repository {repo_id}")
    Path(local_dir).mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and any(fnmatch.fnmatch(path.name, p) for p in allow_patterns or ["*"]):
            shutil.copyfile(path, Path(local_dir) / path.name)
    return local_dir


if _WATCH:
    signal.signal(signal.SIGUSR1, _dump)
if _HUB:
    import huggingface_hub

    huggingface_hub.snapshot_download = _snapshot_download

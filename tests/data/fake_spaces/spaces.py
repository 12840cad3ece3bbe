"""A stand-in for the ``spaces`` package as it behaves on ZeroGPU, for tests (put its folder on PYTHONPATH).

``GPU(fn)`` returns a wrapper that, like ZeroGPU's worker, passes the arguments and every yielded item
through pickle (a worker process gets only what pickles), and notes each call in ``$FAKE_SPACES_LOG``.
"""

import functools
import os
import pickle


def GPU(task=None, *, duration=None, size=None):  # noqa: N802 - the real package's name
    if task is None:
        return lambda function: GPU(function, duration=duration, size=size)

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        with open(os.environ["FAKE_SPACES_LOG"], "a", encoding="utf-8") as log:
            log.write(task.__name__ + "\n")
        for item in task(*args, **kwargs):
            yield pickle.loads(pickle.dumps(item))

    wrapper.zerogpu = None
    return wrapper

"""Worker functions that die like an OOM kill or a decoder crash, for the pool tests.

A module of its own that imports nothing heavy: a decoding worker unpickles these by reference, and importing
``helpers`` (Keras) there would make every fresh worker take seconds to start.
"""


def _first_time(tag: str, main_pid: int) -> bool:
    """True once per test run and tag, across processes (an O_EXCL marker file named by the main process)."""
    import os
    import tempfile

    try:
        os.close(os.open(os.path.join(tempfile.gettempdir(), f"pers_rec_test_{tag}_{main_pid}"),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def die_while_starting(*initargs):
    """A worker initializer whose first call anywhere is SIGKILLed while it starts (an OOM kill at start-up)."""
    import os
    import signal

    from pers_rec.audio import extract

    if _first_time("start", initargs[-1]):  # the last argument is the main process's id
        os.kill(os.getpid(), signal.SIGKILL)
    extract._init_worker(*initargs)


def die_on_first_file(path, cfg_dict):
    """A worker task that is SIGKILLed on the first file named x* any worker receives (a crash
    early in the run: a ``.died`` marker in that folder says it happened)."""
    import os
    import signal

    from pers_rec.audio import extract

    if os.path.basename(path).startswith("x"):
        try:
            os.close(os.open(os.path.join(os.path.dirname(path), ".died"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return extract._extract_one(path, cfg_dict)
        os.kill(os.getpid(), signal.SIGKILL)
    return extract._extract_one(path, cfg_dict)


def die_on_kill_me(path, cfg_dict):
    """A worker task that dies like an out-of-memory kill on files named *kill*."""
    import os
    import signal

    from pers_rec.audio import extract

    if "kill" in os.path.basename(path):
        os.kill(os.getpid(), signal.SIGKILL)
    return extract._extract_one(path, cfg_dict)

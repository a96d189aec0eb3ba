"""Keep third-party noise out of what people read, unless they ask for it (``--verbose``).

What a funnel run prints without this: TensorFlow/absl/CUDA log lines written by C++
straight to file descriptor 2 at import and first use (no environment variable of
TensorFlow 2.21 silences them all), absl/TensorFlow Python warnings, torch and other
Python warnings, ``CHGNet will run on cpu`` and CHGNet's model banner on stdout for every
calculator, and jobflow's INFO lines (TensorFlow's absl handler on the root logger picks
them up). :func:`quiet_third_party` hides exactly these for the duration of a run:

- file descriptor 2 goes through a pipe; a thread drops absl/glog-formatted lines
  (``I0000 00:00:...  port.cc:153] ...``) and passes everything else on, so our own
  errors, Python tracebacks and child processes' messages still reach stderr;
- stdout lines starting with CHGNet's banners are dropped;
- Python warnings are ignored, the absl/tensorflow/h5py loggers raised to ERROR, and
  jobflow's log records no longer propagate to the root logger.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import TextIO

#: Lines on stderr written by absl / glog / TensorFlow's C++ runtime.
STDERR_NOISE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] |"
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called)"
)
#: Lines on stdout printed by third-party code with print().
STDOUT_NOISE_PREFIXES = ("CHGNet will run on ", "CHGNet v", "CHGNet initialized")
#: Python loggers lowered to errors only.
NOISY_LOGGERS = ("absl", "tensorflow", "h5py", "matplotlib", "numexpr", "jobflow.utils")
#: Environment set before TensorFlow is imported (it reads them once).
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}


class _StdoutFilter(io.TextIOBase):
    """A stdout that drops whole lines starting with a noise prefix."""

    def __init__(self, target: TextIO):
        self.target = target
        self.held = ""

    def _noise(self, line: str) -> bool:
        return line.startswith(STDOUT_NOISE_PREFIXES)

    def write(self, text: str) -> int:
        data = self.held + text
        self.held = ""
        while data:
            line, sep, rest = data.partition("\n")
            if not sep:
                if any(p.startswith(line) or line.startswith(p) for p in STDOUT_NOISE_PREFIXES):
                    self.held = line  # maybe the start of a noise line: wait for its end
                else:
                    self.target.write(line)
                break
            if not self._noise(line):
                self.target.write(line + sep)
            data = rest
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")


class _Fd2Filter:
    """Route file descriptor 2 through a pipe and drop :data:`STDERR_NOISE` lines."""

    def __init__(self) -> None:
        self.saved = os.dup(2)
        read_end, write_end = os.pipe()
        self.read_end = read_end
        os.dup2(write_end, 2)
        os.close(write_end)
        self.thread = threading.Thread(target=self._pump, name="sseflow-stderr", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        with os.fdopen(self.read_end, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                out = b"".join(line + b"\n" for line in lines if not STDERR_NOISE.match(line))
                if out:
                    os.write(self.saved, out)
            if pending and not STDERR_NOISE.match(pending):
                os.write(self.saved, pending)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(self.saved, 2)  # closes the pipe's last write end: the pump sees EOF
        self.thread.join(timeout=5)
        os.close(self.saved)


def _fd2_is_usable() -> bool:
    try:
        os.fstat(2)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def quiet_third_party(verbose: bool = False) -> Iterator[None]:
    """Hide third-party noise inside the block (see the module docstring).

    Parameters
    ----------
    verbose
        Show everything (the block runs unchanged, except that jobflow's INFO lines
        are shown too).

    Examples
    --------
    >>> with quiet_third_party():
    ...     print("CHGNet will run on cpu")
    ...     print("kept")
    kept
    """
    if verbose:
        jobflow = logging.getLogger("jobflow")
        old_level = jobflow.level
        jobflow.setLevel(logging.INFO)
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        jobflow.addHandler(handler)
        try:
            yield
        finally:
            jobflow.removeHandler(handler)
            jobflow.setLevel(old_level)
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    jobflow = logging.getLogger("jobflow")
    propagate = jobflow.propagate
    fd2 = _Fd2Filter() if _fd2_is_usable() else None
    stdout = sys.stdout
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        jobflow.propagate = False
        sys.stdout = _StdoutFilter(stdout)  # type: ignore[assignment]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stdout = stdout
        jobflow.propagate = propagate
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if fd2 is not None:
            fd2.close()

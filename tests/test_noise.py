"""Third-party noise is hidden from what people read, and nothing else is."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, sys, logging, warnings
    from sseflow.noise import quiet_third_party
    verbose = sys.argv[1] == "verbose"
    absl = (
        b"WARNING: All log messages before absl::InitializeLog() is called are written\\n",
        b"I0000 00:00:1795849512.869083   14169 port.cc:153] oneDNN custom operations\\n",
        b"E0000 00:00:1795849513.257804   14169 cuda_platform.cc:52] failed cuInit\\n",
    )
    with quiet_third_party(verbose):
        for line in absl:  # C++ code writes straight to file descriptor 2
            os.write(2, line)
        print("CHGNet will run on cpu")
        print("CHGNet v0.3.0 initialized with 412,525 parameters")
        logging.getLogger("absl").warning("Skipping variable loading for optimizer 'Adam'")
        logging.getLogger("jobflow.core.job").info("Starting job - bvse (uuid)")
        warnings.warn("torch warning")
        print("our output stays")
        sys.stderr.write("our error stays\\n")
        os.write(2, b"a child process' message stays\\n")
    print("after the block")
    """
)


def run(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_noise_is_hidden_and_the_rest_kept():
    out = run("quiet")
    for noise in (
        "absl",
        "oneDNN",
        "cuInit",
        "CHGNet",
        "Skipping variable",
        "Starting job",
        "torch warning",
    ):
        assert noise not in out, out
    for kept in ("our output stays", "our error stays", "child process", "after the block"):
        assert kept in out, out


def test_verbose_shows_everything():
    out = run("verbose")
    for shown in ("oneDNN", "CHGNet will run on cpu", "Skipping variable", "Starting job"):
        assert shown in out, out

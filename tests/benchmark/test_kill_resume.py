"""A run killed with SIGKILL mid-training resumes from its checkpoint and ends with the same numbers."""

import json
import os
import signal
import subprocess
import sys
import time


def command(data_dir, cache, out):
    return [
        sys.executable, "-m", "miabench.cli", "run", "--models", "4", "--attack", "loss,lira",
        "--param", "epochs=40", "--data-dir", str(data_dir), "--cache-dir", str(cache), "--out", str(out), "--quiet",
    ]  # fmt: skip


def test_sigkill_then_rerun_resumes(data_dir, tmp_path):
    killed = subprocess.Popen(command(data_dir, tmp_path / "cache", tmp_path / "out"))
    deadline = time.monotonic() + 120
    while not list((tmp_path / "cache").rglob("*.ckpt")):
        assert killed.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint written in time"
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "out").exists()

    subprocess.run(command(data_dir, tmp_path / "cache", tmp_path / "out"), check=True)
    subprocess.run(command(data_dir, tmp_path / "clean-cache", tmp_path / "clean-out"), check=True)
    for attack in ("loss", "lira"):
        resumed = json.loads((tmp_path / "out" / attack / "result.json").read_text())
        clean = json.loads((tmp_path / "clean-out" / attack / "result.json").read_text())
        assert resumed["metrics"] == clean["metrics"]

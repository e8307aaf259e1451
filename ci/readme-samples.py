#!/usr/bin/env python3
"""Regenerates the sample outputs of README.md (the `pmem2` tool's).

Each block marked by a `<!-- sample -->` line before its ```text fence is a
transcript: lines starting with `$ ` are commands, everything else is their
output. This script runs every command, in order, with bash in one scratch
directory under /dev/shm (so outputs show short relative paths, never a
development machine's), with target/release/pmem2 first on PATH, and puts
the fresh output under each command. Commands run with a fixed set of files
there: `x` (64 KiB of zeros), `src` (1 MiB of random bytes) and `big`
(16 MiB of zeros).

usage: ci/readme-samples.py [--check]
  --check  run the commands and fail if any exits non-zero, without
           rewriting README.md (CI: the samples still come from working
           commands; the numbers in them differ per machine, so they are
           not compared).
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def run(cmd, cwd, env):
    out = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=300)
    if out.returncode != 0:
        sys.exit(f"readme-samples: `{cmd}` exited {out.returncode}:\n{out.stdout}")
    return out.stdout.rstrip("\n").splitlines()


def main():
    check = "--check" in sys.argv[1:]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "pmem2-cli"],
                   cwd=ROOT, check=True)
    lines = open(README).read().split("\n")
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, "target", "release") + os.pathsep + env["PATH"]
    env.pop("PMEM2_FORCE_GRANULARITY", None)
    out = []
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="pmem2-samples-") as cwd:
        with open(os.path.join(cwd, "x"), "wb") as f:
            f.write(bytes(65536))
        with open(os.path.join(cwd, "src"), "wb") as f:
            f.write(os.urandom(1 << 20))
        with open(os.path.join(cwd, "big"), "wb") as f:
            f.truncate(16 << 20)
        i, blocks = 0, 0
        while i < len(lines):
            line = lines[i]
            out.append(line)
            i += 1
            if line.strip() != "<!-- sample -->":
                continue
            if lines[i] != "```text":
                sys.exit(f"readme-samples: line {i + 1}: a ```text fence must follow the marker")
            out.append(lines[i])
            i += 1
            blocks += 1
            while lines[i] != "```":
                if lines[i].startswith("$ "):
                    out.append(lines[i])
                    out.extend(run(lines[i][2:], cwd, env))
                i += 1
    if blocks == 0:
        sys.exit("readme-samples: no <!-- sample --> block in README.md")
    if check:
        print(f"readme-samples: {blocks} blocks, every command ran")
    else:
        open(README, "w").write("\n".join(out))
        print(f"readme-samples: {blocks} blocks regenerated in README.md")


if __name__ == "__main__":
    main()

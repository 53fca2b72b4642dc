"""Benchmark of sealed envelopes against raw AES-GCM: throughput and peak memory.

Each case runs in its own subprocess so its peak memory (ru_maxrss increase over the
process's state after imports and key loading, and tracemalloc's traced peak) is its own.

Cases, for 1 MB, 10 MB, 100 MB and 1 GB (skip 1 GB with ``--quick``), 1 and 10 recipients:

* ``memory``: ``seal`` + ``open_sealed`` on an in-memory bytes object, next to a one-shot
  ``AESGCM.encrypt`` + ``decrypt`` of the same bytes (up to 100 MB);
* ``stream``: ``seal_stream`` + ``open_stream`` file to file, next to a raw AES-GCM loop
  that reads, encrypts and writes the same file in chunks of the same size (and back).

Throughput is plaintext MB (10^6 bytes) divided by the encrypt+decrypt wall time. Keys are
RSA-3072 (the library default). Usage::

    python benchmarks/crypto.py            # everything, including 1 GB
    python benchmarks/crypto.py --quick    # without the 1 GB case
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

MB = 1_000_000
SIZES = {"1MB": 1 * MB, "10MB": 10 * MB, "100MB": 100 * MB, "1GB": 1000 * MB}
CHUNK = 1 << 20


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kB


def _write_random_file(path: Path, size: int) -> None:
    block = os.urandom(CHUNK)
    with path.open("wb") as fh:
        remaining = size
        while remaining:
            piece = block[: min(CHUNK, remaining)]
            fh.write(piece)
            remaining -= len(piece)


def _keys(workdir: Path, count: int) -> list[Path]:
    from v6lib.crypto import generate_private_key, save_private_key

    paths = []
    for i in range(count):
        path = workdir / f"key{i}.pem"
        if not path.exists():
            save_private_key(generate_private_key(3072), path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- child side


def _child(args: argparse.Namespace) -> dict[str, float]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from v6lib.crypto import Binding, load_private_key, open_sealed, open_stream, seal, seal_stream

    workdir = Path(args.workdir)
    keys = [load_private_key(p) for p in _keys(workdir, args.recipients)]
    publics = [k.public_key() for k in keys]
    binding = Binding("bench-task", 1, "result", "bench:latest", 2)
    plain = workdir / f"plain-{args.size}"
    size = plain.stat().st_size
    if args.trace:
        tracemalloc.start()
    base_rss = _maxrss_bytes()
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    if args.mode == "memory":
        data = plain.read_bytes()
        base_rss = _maxrss_bytes()

        def envelope() -> tuple[float, float]:
            start = time.perf_counter()
            blob = seal(data, publics, binding)
            middle = time.perf_counter()
            back = open_sealed(blob, keys[-1], binding)
            end = time.perf_counter()
            assert back == data
            return middle - start, end - middle

        def raw() -> float:
            nonce = os.urandom(12)
            start = time.perf_counter()
            aead.decrypt(nonce, aead.encrypt(nonce, data, b"aad"), b"aad")
            return time.perf_counter() - start
    else:
        sealed, opened = workdir / "sealed.bin", workdir / "opened.bin"

        def envelope() -> tuple[float, float]:
            start = time.perf_counter()
            with plain.open("rb") as src, sealed.open("wb") as dst:
                seal_stream(src, dst, publics, binding, chunk_size=CHUNK)
            middle = time.perf_counter()
            with sealed.open("rb") as src, opened.open("wb") as dst:
                open_stream(src, dst, keys[-1], binding)
            end = time.perf_counter()
            assert opened.stat().st_size == size
            return middle - start, end - middle

        def raw() -> float:
            start = time.perf_counter()
            with plain.open("rb") as src, sealed.open("wb") as dst:
                counter = 0
                while block := src.read(CHUNK):
                    dst.write(aead.encrypt(counter.to_bytes(12, "big"), block, b"aad"))
                    counter += 1
            with sealed.open("rb") as src, opened.open("wb") as dst:
                counter = 0
                while block := src.read(CHUNK + 16):
                    dst.write(aead.decrypt(counter.to_bytes(12, "big"), block, b"aad"))
                    counter += 1
            return time.perf_counter() - start

    # Best of several alternating runs: the machine is shared, the minimum is the signal.
    repeats = 1 if args.trace else (3 if size > 100 * MB else 5)
    runs, raws = [], []
    for _ in range(repeats):
        raws.append(raw())
        runs.append(envelope())
    seal_s, open_s = min(runs, key=sum)
    result: dict[str, float] = {
        "seconds": seal_s + open_s,
        "seal_seconds": seal_s,
        "open_seconds": open_s,
        "raw_seconds": min(raws),
        "size": size,
        "rss_delta": _maxrss_bytes() - base_rss,
    }
    if args.mode == "stream":
        sealed.unlink()
        opened.unlink()
    if args.trace:
        result["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


# --------------------------------------------------------------------------- parent side


def _run_case(workdir: Path, size: str, recipients: int, mode: str, trace: bool) -> dict:
    command = [sys.executable, __file__, "--child", "--workdir", str(workdir), "--size", size,
               "--recipients", str(recipients), "--mode", mode]
    if trace:
        command.append("--trace")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _fmt_mb(value: float) -> str:
    return f"{value / 2**20:8.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1 GB case")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--recipients", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return
    sizes = [s for s in SIZES if not (args.quick and s == "1GB")]
    header = (f"{'size':>6} {'rcpt':>4} {'mode':>6} | {'envelope MB/s':>13} {'raw MB/s':>9} "
              f"{'ratio':>6} | {'seal s':>7} {'open s':>7} | {'rss delta':>12} "
              f"{'traced peak':>12}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="v6bench-") as tmp:
        workdir = Path(tmp)
        _keys(workdir, 10)
        for size in sizes:
            _write_random_file(workdir / f"plain-{size}", SIZES[size])
            for recipients in (1, 10):
                for mode in ("memory", "stream"):
                    if mode == "memory" and SIZES[size] > 100 * MB:
                        continue
                    timed = _run_case(workdir, size, recipients, mode, trace=False)
                    traced = _run_case(workdir, size, recipients, mode, trace=True)
                    env_rate = timed["size"] / MB / timed["seconds"]
                    raw_rate = timed["size"] / MB / timed["raw_seconds"]
                    print(f"{size:>6} {recipients:>4} {mode:>6} | {env_rate:13.1f} "
                          f"{raw_rate:9.1f} {env_rate / raw_rate:6.0%} | "
                          f"{timed['seal_seconds']:7.3f} {timed['open_seconds']:7.3f} | "
                          f"{_fmt_mb(timed['rss_delta']):>12} "
                          f"{_fmt_mb(traced['traced_peak']):>12}", flush=True)
            (workdir / f"plain-{size}").unlink()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()

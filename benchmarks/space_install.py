"""What a Space installs: size and time of a fresh virtual environment made from the staged requirements.

    python -m benchmarks.space_install [--venv /tmp/space-venv] [--keep] [--no-write]

Now: ``pip install -r requirements.txt`` as ``deploy`` stages it (no torch, transformers,
sentence-transformers or nncf), into a new virtual environment; reported are the wall time of that
install and the size of the environment on disk. Target: <= 700 MB.

Before: the requirements ``deploy`` staged until the model shipped with the Space (the project's
requirements less the test tools). Installing them for real means the default (CUDA) torch build and its
NVIDIA libraries, several GB, which this benchmark does not download. Instead it reports (a) the size of
the same packages in the local environment (CPU torch, so a lower bound) and (b) the packages pip would
install on a Space, from ``pip install --dry-run --report`` (metadata only, no wheels), which names the
CUDA libraries a Space's build pulls in on top.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from benchmarks.common import ROOT, markdown_table, write_result
from clone.deploy import DEV_REQUIREMENTS, space_requirements

MB = 1_000_000


def before_requirements() -> str:
    """The requirements ``deploy`` staged before: the project's, less the test and development tools."""
    kept = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec and _name(spec) not in DEV_REQUIREMENTS:
            kept.append(spec)
    return "\n".join(kept) + "\n"


def _name(spec: str) -> str:
    return re.split(r"[=<>!~\[; ]", spec, maxsplit=1)[0].strip().lower().replace("_", "-")


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links not followed, each file once)."""
    seen, total = set(), 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def local_closure(requirements: str) -> dict[str, int]:
    """``{distribution: bytes}`` for the named packages and everything they require, as installed here."""
    from packaging.requirements import Requirement

    sizes: dict[str, int] = {}
    todo = [Requirement(line) for line in requirements.splitlines() if line.strip() and not line.startswith("#")]
    while todo:
        req = todo.pop()
        key = _name(req.name)
        if key in sizes:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        sizes[key] = sum(
            (Path(dist.locate_file(f))).stat().st_size for f in dist.files or [] if Path(dist.locate_file(f)).is_file()
        )
        for dep in dist.requires or []:
            child = Requirement(dep)
            extras = req.extras or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras):
                todo.append(child)
    return sizes


def dry_run(requirements: Path) -> list[dict]:
    """What ``pip install`` would put into an empty environment on a Space (metadata only: no wheel is
    downloaded). ``--isolated``: this machine's pip configuration (local wheels, a CPU torch) is ignored."""
    with tempfile.TemporaryDirectory(prefix="pip-report-") as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--isolated", "-q", "--dry-run", "--ignore-installed"]
            + ["--report", str(report), "-r", str(requirements)],
            check=True,
            timeout=900,
        )
        return json.loads(report.read_text())["install"]


def wheel_bytes(item: dict) -> int | None:
    """The size of the file pip would download for one report item (an HTTP HEAD), None if unknown."""
    import urllib.request

    url = item.get("download_info", {}).get("url", "")
    if not url.startswith("https://"):
        return None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as response:
            return int(response.headers.get("Content-Length") or 0) or None
    except (OSError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=None, help="where to build the environment (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the environment (for benchmarks.space_start)")
    parser.add_argument("--skip-dry-run", action="store_true", help="do not ask pip what the old set would pull")
    parser.add_argument("--cold", action="store_true", help="pip --no-cache-dir: download every wheel afresh")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="space-install-"))
    venv = args.venv or work / "venv"
    now_file, before_file = work / "requirements-now.txt", work / "requirements-before.txt"
    now_file.write_text(space_requirements(), encoding="utf-8")
    before_file.write_text(before_requirements(), encoding="utf-8")
    try:
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        empty = tree_bytes(venv)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "-r", str(now_file)]
            + (["--no-cache-dir"] if args.cold else []),
            check=True,
            timeout=1800,
        )
        seconds = time.perf_counter() - start
        installed = tree_bytes(venv) - empty
        torch_free = subprocess.run(
            [
                str(python),
                "-c",
                "import importlib.util as u; print([m for m in ('torch','transformers','nncf',"
                "'sentence_transformers') if u.find_spec(m)])",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"now: {installed / MB:.0f} MB in {seconds:.0f} s; build-only packages present: {torch_free}")
        local_now = sum(local_closure(space_requirements()).values())
        before_sizes = local_closure(before_requirements())
        local_before = sum(before_sizes.values())
        biggest = sorted(before_sizes.items(), key=lambda kv: -kv[1])[:6]
        rows = [
            ["now: run-time requirements", f"{installed / MB:.0f}", f"{seconds:.0f}", f"{local_now / MB:.0f}", "none"],
            [
                "before: the app's requirements",
                "not installed (CUDA torch)",
                "-",
                f"{local_before / MB:.0f} (CPU torch: a lower bound)",
                "torch, transformers, sentence-transformers, nncf",
            ],
        ]
        notes = ["Largest packages before (local sizes, MB): " + ", ".join(f"{n} {b / MB:.0f}" for n, b in biggest)]
        if not args.skip_dry_run:
            try:
                pulled = dry_run(before_file)
                sizes = {p["metadata"]["name"]: wheel_bytes(p) for p in pulled}
                gpu = sorted(n for n in sizes if n.lower().startswith(("nvidia", "cuda", "triton")))
                known = sum(b for b in sizes.values() if b)
                gpu_bytes = sum(sizes[n] or 0 for n in gpu)
                notes.append(
                    f"Before, on a Space (`pip install --isolated --dry-run` into an empty environment, sizes of the "
                    f"wheels it would download): {len(pulled)} packages, {known / MB:.0f} MB of wheels (compressed; "
                    f"installed they take more), of which torch {(sizes.get('torch') or 0) / MB:.0f} MB and "
                    f"{len(gpu)} CUDA packages {gpu_bytes / MB:.0f} MB ({', '.join(gpu)})."
                )
                ours = dry_run(now_file)
                ours_bytes = sum(b for b in (wheel_bytes(p) for p in ours) if b)
                notes.append(
                    f"Now, the same way: {len(ours)} packages, {ours_bytes / MB:.0f} MB of wheels to download."
                )
            except (subprocess.SubprocessError, OSError, KeyError, ValueError) as exc:
                notes.append(f"pip's dry run of the before set failed: {exc}")
    finally:
        if not args.keep:
            shutil.rmtree(venv, ignore_errors=True)
    table = markdown_table(
        [
            "Space requirements",
            "fresh venv MB",
            "install s",
            "same packages in the local venv, MB",
            "build-only packages",
        ],
        rows,
    )
    cache = "every wheel downloaded (pip --no-cache-dir)" if args.cold else "pip's cache as it was"
    body = f"{table}\n\n" + "\n\n".join(notes) + f"\n\nInstall time: {cache}."
    print(body)
    if not args.no_write:
        print(write_result("space_install", "What a staged Space installs", body))


if __name__ == "__main__":
    main()

"""A/B of the label export: the same ready orders exported by another checkout (e.g. the base commit in a
detached worktree) and by this one, alternately, the data restored before each run; on a shared machine the
alternation keeps load changes from favouring either side.

    git worktree add --detach /tmp/base <commit>
    python bench/ship_ab.py /tmp/base [--orders 20000] [--rounds 5]
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import bench.ship as ship  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("other")
ap.add_argument("--orders", type=int, default=20_000)
ap.add_argument("--rounds", type=int, default=5)
args = ap.parse_args()
TREES = {f"other ({args.other})": args.other, "this checkout": str(ROOT)}
n, rounds = args.orders, args.rounds
folder = Path(tempfile.mkdtemp(prefix="tsunagi-ship-ab-"))
c = ship.ready_orders(folder, n)
shutil.copytree(folder / "var", folder / "var.orig")
times = {k: [] for k in TREES}
for r in range(rounds):
    for name, tree in (TREES.items() if r % 2 == 0 else reversed(TREES.items())):
        shutil.rmtree(folder / "var")
        shutil.copytree(folder / "var.orig", folder / "var")
        out = subprocess.run([sys.executable, "-c", ship.STEP, *c, "ship", "export", "yamato", "--date", "2026-06-13"],
                             capture_output=True, text=True, cwd=tree)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        assert res["rc"] == 0, out.stderr
        times[name].append(res["seconds"])
        print(name, f"{res['seconds']:.2f} s", flush=True)
for name, ts in times.items():
    print(name, "min", f"{min(ts):.2f}", "median", f"{sorted(ts)[len(ts) // 2]:.2f}", [round(t, 2) for t in ts])
shutil.rmtree(folder)

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
from tsunagi.demo.csvs import order_csv  # noqa: E402
from tsunagi.demo.mails import Item, Person, SampleOrder  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("other")
ap.add_argument("--orders", type=int, default=20_000)
ap.add_argument("--rounds", type=int, default=5)
args = ap.parse_args()
TREES = {f"other ({args.other})": args.other, "this checkout": str(ROOT)}
n, rounds = args.orders, args.rounds
folder = Path(tempfile.mkdtemp(prefix="tsunagi-ship-ab-"))
config = folder / "config.toml"
config.write_text(ship.CONFIG, encoding="utf-8")
(folder / "products.csv").write_text("sku,name\n" + "".join(f"sku-{i:04d},商品{i}\n" for i in range(500)))
(folder / "counts.csv").write_text("sku,location,lot,qty\n" + "".join(f"sku-{i:04d},本店倉庫,,1000000\n" for i in range(500)))
people = [Person(f"山田 {i}郎", f"{100 + i % 800:03d}-{i % 10000:04d}", f"東京都千代田区千代田{i % 9 + 1}-{i % 30 + 1}",
                 f"03-{i % 10000:04d}-{(i * 7) % 10000:04d}", "") for i in range(1000)]
orders = [SampleOrder(f"402853-20260612-{k:010d}", [Item(f"sku-{k % 500:04d}", "商品", 1 + k % 2, 1280)],
                      ship_to=people[k % 1000], payment="代金引換" if k % 10 == 0 else "クレジットカード",
                      requested_time="午前中" if k % 3 == 0 else "") for k in range(n)]
(folder / "orders.csv").write_bytes(order_csv("rakuten-rms", orders))
c = ["-c", str(config)]
for step in (["products", "import", str(folder / "products.csv")], ["stock", "import", str(folder / "counts.csv")],
             ["import", str(folder / "orders.csv"), "--shop", "rakuten"]):
    ship.tsunagi(*c, *step)
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

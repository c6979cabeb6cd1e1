"""What recording each pushed file's delivery costs: `tsunagi sftp run` pushing N small files from one outbox to
a loopback OpenSSH server (the tests' own, tests/support/sshd.py), by another checkout and by this one,
alternately, each on a fresh data folder.

    python bench/push_record.py /work/wt-before --python /work/venv-before/bin/python [--files 500] [--rounds 3]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.configs import write_config  # noqa: E402
from tests.support.sshd import SshServer  # noqa: E402

STEP = """import json, sys, time
from tsunagi.app import cli
t = time.perf_counter()
rc = cli.main(["-c", sys.argv[1], "sftp", "run", "ys"])
print(json.dumps({"rc": rc, "seconds": time.perf_counter() - t}))
"""

ap = argparse.ArgumentParser()
ap.add_argument("other")
ap.add_argument("--python", default=sys.executable, help="the other checkout's interpreter")
ap.add_argument("--files", type=int, default=500)
ap.add_argument("--rounds", type=int, default=3)
args = ap.parse_args()
TREES = {f"other ({args.other})": (args.other, args.python), "this checkout": (str(ROOT), sys.executable)}
work = Path(tempfile.mkdtemp(prefix="tsunagi-push-"))
sshd = SshServer(work / "sshd")
sshd.start()
times: dict[str, list[float]] = {k: [] for k in TREES}
try:
    for r in range(args.rounds):
        for name, (tree, python) in (TREES.items() if r % 2 == 0 else reversed(TREES.items())):
            folder = work / "site"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            remote = folder / "remote"
            remote.mkdir()
            ep = {"name": "ys", "host": "127.0.0.1", "port": sshd.port, "user": sshd.user, "key_file": str(sshd.user_key),
                  "known_hosts": str(sshd.known_hosts(folder / "known_hosts")), "timeout": 30,
                  "push": {"remote_dir": str(remote), "source": "yahoo"}}
            config = write_config(folder, sftp=[ep])
            ready = folder / "var" / "spool" / "outbox" / "yahoo" / "ready"
            ready.mkdir(parents=True)
            for n in range(args.files):
                (ready / f"yahoo-stock-{n:05d}.csv").write_bytes(b"code,quantity\r\n" + b"item-%05d,3\r\n" % n * 50)
            out = subprocess.run([python, "-c", STEP, str(config)], capture_output=True, text=True, cwd=tree,
                                 env={**os.environ, "PYTHONPATH": tree})
            res = json.loads(out.stdout.strip().splitlines()[-1])
            assert res["rc"] == 0 and len(os.listdir(remote)) == args.files, out.stderr[-2000:]
            times[name].append(res["seconds"])
            print(name, f"{res['seconds']:.2f} s ({args.files / res['seconds']:.0f} files/s)", flush=True)
finally:
    sshd.stop()
    shutil.rmtree(work, ignore_errors=True)
for name, ts in times.items():
    print(name, "median", f"{sorted(ts)[len(ts) // 2]:.2f} s", [round(t, 2) for t in ts])

"""Delivery over FTP benchmark: tsunagi's push against a bare ftplib upload of the same bytes, and with
push.immediate the time from an order mail's 250 to its new stock figure being readable on the FTP server.

Both against a pyftpdlib server (tests/support/ftpd.py) in a process of its own on loopback.

    python bench/delivery_ftp.py                       # 5 files of 8 MB; 20 s of mails at 50/s
    python bench/delivery_ftp.py --mb 15 --protocol ftps --seconds 30
"""
from __future__ import annotations

import argparse
import csv
import ftplib
import io
import multiprocessing as mp
import os
import platform
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.net import free_port, wait_listening  # noqa: E402
from tests.support.ftpd import PASSWORD, USER, FtpServer  # noqa: E402
from tsunagi.common.endpoints import open_remote  # noqa: E402
from tsunagi.demo.mails import Item, SampleOrder, order_mail  # noqa: E402
from tsunagi.outbound.push import push, pushing  # noqa: E402

RCPT = "rakuten-7f3k@orders.example.jp"
PRODUCTS = 50
STOCK = 1_000_000
ENV = "TSUNAGI_BENCH_FTP_PASSWORD"
WARM = 5          # mails before the measured ones
CLIENTS = 4


def serve(root: str, certs: str, mode: str, out: mp.Queue) -> None:
    import logging
    from pyftpdlib.log import config_logging
    config_logging(level=logging.WARNING)        # not a line per command
    server = FtpServer(Path(root), Path(certs), mode)
    out.put((server.port, str(server.ca_file)))
    server.thread.join()


def start_server(tmp: Path, mode: str) -> tuple[mp.Process, int, str]:
    out: mp.Queue = mp.Queue()
    proc = mp.Process(target=serve, args=(str(tmp / "remote"), str(tmp / "certs"), mode, out), daemon=True)
    proc.start()
    port, ca_file = out.get(timeout=30)
    return proc, port, ca_file


def stock_files(folder: Path, count: int, mb: float) -> list[Path]:
    """Stock-file-shaped CSV files (code, sub-code, quantity), mb each."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = int(mb * 1024 * 1024 / 24)
    body = "".join(f"SKU{i:09d},,{i % 500},,0,\r\n" for i in range(rows)).encode("cp932")
    out = []
    for n in range(count):
        path = folder / f"shop{n}-stock-20261201T090000.csv"
        path.write_bytes(b"code,sub-code,quantity,mode,allow-overdraft,stock-close\r\n" + body)
        out.append(path)
    return out


def bare_upload(ep, files: list[Path], remote_dir: str) -> float:
    start = time.perf_counter()
    ftp = ftplib.FTP_TLS(context=_context(ep)) if ep.protocol == "ftps" else ftplib.FTP()
    ftp.connect(ep.host, ep.port)
    ftp.login(USER, PASSWORD)
    if ep.protocol == "ftps":
        ftp.prot_p()
    for path in files:
        with open(path, "rb") as f:
            ftp.storbinary(f"STOR {remote_dir}/{path.name}", f)
    ftp.quit()
    return time.perf_counter() - start


def _context(ep):
    import ssl
    return ssl.create_default_context(cafile=str(ep.ca_file))


def tsunagi_upload(ep, files: list[Path], outbox: Path, remote_dir: str) -> float:
    ready = outbox / "ready"
    ready.mkdir(parents=True, exist_ok=True)
    for path in files:
        os.link(path, ready / path.name)
    start = time.perf_counter()
    with open_remote(ep) as remote, pushing(outbox):
        result = push(remote, outbox, remote_dir)
    elapsed = time.perf_counter() - start
    assert len(result.sent) == len(files), result.errors
    shutil.rmtree(outbox / "sent")
    return elapsed


def throughput(tmp: Path, mode: str, count: int, mb: float, rounds: int) -> None:
    proc, port, ca_file = start_server(tmp / "upload", mode)
    files = stock_files(tmp / "files", count, mb)
    total = sum(p.stat().st_size for p in files) / 1024 / 1024
    ep = SimpleNamespace(name="bench", protocol=mode, host="127.0.0.1", port=port, user=USER, password_env=ENV,
                         ca_file=Path(ca_file) if mode != "ftp" else None, passive=True, timeout=60)
    os.environ[ENV] = PASSWORD
    for d in ("bare", "tsunagi"):
        (tmp / "upload" / "remote" / d).mkdir(parents=True, exist_ok=True)
    bare, ours = [], []
    for _ in range(rounds):        # alternated, so that neither always runs on a warmer cache
        bare.append(bare_upload(ep, files, "/bare"))
        ours.append(tsunagi_upload(ep, files, tmp / "outbox", "/tsunagi"))
    proc.terminate()
    b, t = statistics.median(bare), statistics.median(ours)
    print(f"upload of {count} files, {total:.0f} MB over {mode} (median of {rounds}):")
    print(f"  bare ftplib storbinary:                {total / b:8.1f} MB/s  ({b:.2f} s)")
    print(f"  tsunagi push (temp name, rename, sent/): {total / t:6.1f} MB/s  ({t:.2f} s)  {b / t:.2f}x bare")


def setup_daemon(tmp: Path, smtp_port: int, ftp_port: int, mode: str, ca_file: str) -> Path:
    cfg = (ROOT / "config.toml").read_text(encoding="utf-8").replace('listen = "127.0.0.1:2525"',
                                                                      f'listen = "127.0.0.1:{smtp_port}"')
    cfg += (f'\n[[endpoint]]\nname = "yahoo-ftp"\nprotocol = "{mode}"\nhost = "127.0.0.1"\nport = {ftp_port}\n'
            f'user = "{USER}"\npassword_env = "{ENV}"\n' + (f'ca_file = "{ca_file}"\n' if mode != "ftp" else "") +
            'push = { remote_dir = "/in", source = "yahoo", immediate = true }\n')
    (tmp / "config.toml").write_text(cfg, encoding="utf-8")
    (tmp / "p.csv").write_text("sku,name\n" + "".join(f"P{i:03d},商品{i}\n" for i in range(PRODUCTS)), encoding="utf-8")
    (tmp / "c.csv").write_text("sku,location,lot,qty\n" + "".join(
        f"P{i:03d},本店倉庫,1,{STOCK}\n" for i in range(PRODUCTS)), encoding="utf-8")
    for args in (["products", "import", str(tmp / "p.csv")], ["stock", "import", str(tmp / "c.csv")]):
        subprocess.run([sys.executable, "-m", "tsunagi.app.cli", "-c", str(tmp / "config.toml"), *args],
                       check=True, stdout=subprocess.DEVNULL)
    return tmp / "config.toml"


class Arrivals:
    """The moment each file appears under its final name in the server's folder (inotify, via watchdog)."""

    def __init__(self, folder: Path):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        self.seen: dict[str, float] = {}
        arrivals = self

        class Handler(FileSystemEventHandler):
            def on_moved(self, event):         # renamed in (the server's temporary name, tsunagi's tmp/)
                arrivals.saw(os.path.basename(event.dest_path))

            def on_created(self, event):       # or written in under its name
                arrivals.saw(os.path.basename(event.src_path))

        folder.mkdir(parents=True, exist_ok=True)
        self.observer = Observer()
        self.observer.schedule(Handler(), str(folder))
        self.observer.start()


    def saw(self, name: str) -> None:
        if not name.startswith("."):           # a temporary name is not readable as the file yet
            self.seen.setdefault(name, time.time())


def figures(path: Path) -> dict[str, int]:
    rows = csv.reader(io.StringIO(path.read_bytes().decode("cp932")))
    next(rows, None)
    return {r[0]: int(r[2]) for r in rows if len(r) > 2 and r[2].lstrip("-").isdigit()}


def send_paced(port: int, mails: list[bytes], rate: float, clients: int) -> tuple[list[float], float]:
    """mails at `rate` a second over `clients` SMTP sessions (as a forwarding MTA keeps several); each 250's
    time, in the mails' order, and the rate achieved."""
    acks: list[float] = [0.0] * len(mails)
    begin = time.time() + 0.2

    def client(k: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for i in range(k, len(mails), clients):
                time.sleep(max(0.0, begin + i / rate - time.time()))
                smtp.sendmail("order@rakuten.co.jp", [RCPT], mails[i])
                acks[i] = time.time()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acks, len(mails) / (max(acks) - begin)


def latency(tmp: Path, mode: str, rate: float, seconds: float) -> None:
    ftp_proc, ftp_port, ca_file = start_server(tmp / "latency", mode)
    inbox = tmp / "latency" / "remote" / "in"
    arrivals = Arrivals(inbox)
    smtp_port = free_port()
    config = setup_daemon(tmp, smtp_port, ftp_port, mode, ca_file)
    written = Arrivals(tmp / "var" / "spool" / "outbox" / "yahoo" / "ready")     # the baseline: the feed file
    proc = subprocess.Popen([sys.executable, "-m", "tsunagi.app.cli", "-c", str(config), "serve"],
                            env={**os.environ, ENV: PASSWORD}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(smtp_port)
    mails = [order_mail("rakuten", SampleOrder(f"402853-20261201-{i:010d}", [
        Item(f"P{i % PRODUCTS:03d}", "ベンチ商品", 1, 1200)]), RCPT) for i in range(WARM + int(rate * seconds))]
    send_paced(smtp_port, mails[:WARM], WARM, 1)    # the parse workers start before the clock runs
    time.sleep(5)
    start_files = set(arrivals.seen)
    acks, achieved = send_paced(smtp_port, mails[WARM:], rate, CLIENTS)
    # A mail's figure is its SKU's stock less every mail for it so far (the same SKU's mails are a second
    # apart, so they are applied in order); yahoo's safety_stock is 1.
    ordered: dict[str, int] = {}
    sent: list[tuple[float, str, int]] = []        # (250 at, sku, the yahoo figure once it is applied)
    for i in range(WARM):
        ordered[f"P{i % PRODUCTS:03d}"] = ordered.get(f"P{i % PRODUCTS:03d}", 0) + 1
    for i, acked in enumerate(acks, start=WARM):
        sku = f"P{i % PRODUCTS:03d}"
        ordered[sku] = ordered.get(sku, 0) + 1
        sent.append((acked, sku, STOCK - ordered[sku] - 1))
    n = len(acks)
    time.sleep(5)
    proc.terminate()
    proc.wait()
    ftp_proc.terminate()
    files = sorted(((t, name) for name, t in arrivals.seen.items() if name not in start_files), key=lambda x: x[0])
    published = [(t, figures(inbox / name)) for t, name in files]
    # The same files as they were written to ready/ (the figures read back from the server's copy).
    local = sorted((written.seen[name], f) for (_, f), (_, name) in zip(published, files) if name in written.seen)
    print(f"push.immediate over {mode}: {n} order mails at {achieved:.0f}/s, {len(files)} stock files uploaded")
    for what, times in (("250 -> feed file in ready/ (baseline):", local),
                        ("250 -> figure readable on the FTP server:", published)):
        waits = [t - acked for acked, sku, figure in sent
                 if (t := next((t for t, f in times if f.get(sku, STOCK) <= figure), None)) is not None]
        missing = len(sent) - len(waits)
        q = statistics.quantiles(waits, n=100) if len(waits) > 1 else waits * 99
        print(f"  {what:43s} p50 {q[49] * 1000:5.0f} ms, p99 {q[98] * 1000:5.0f} ms, max {max(waits) * 1000:5.0f} ms"
              f"{f'; {missing} never seen' if missing else ''}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", default="ftp", choices=["ftp", "ftps"])
    ap.add_argument("--files", type=int, default=5)
    ap.add_argument("--mb", type=float, default=8.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--only", choices=["upload", "latency"])
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}")
    tmp = Path(tempfile.mkdtemp(prefix="tsunagi-bench-ftp-"))
    try:
        if args.only != "latency":
            throughput(tmp, args.protocol, args.files, args.mb, args.rounds)
        if args.only != "upload":
            latency(tmp, args.protocol, args.rate, args.seconds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()

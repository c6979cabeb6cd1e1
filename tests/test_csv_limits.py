"""Hostile CSV files against the daemon: a line too long is refused early, naming its byte offset, in bounded
memory, while SMTP keeps answering."""
from __future__ import annotations

import io
import threading

import pytest

from tests.support.configs import write_config, seed
from tests.support.daemon import Serving, wait_for
from tsunagi.parsers.csvread import check_line_lengths
from tsunagi.parsers.errors import ParseError

HEADER = "注文番号,ステータス\r\n".encode("cp932")


def test_a_50_mb_single_line_file_goes_to_failed_with_its_byte_offset_in_bounded_memory(tmp_path):
    config_path = write_config(tmp_path)
    seed(config_path)
    daemon = Serving(config_path)
    try:
        drop = daemon.spool.dir("drop") / "rakuten"
        tmp = tmp_path / "huge.part"
        with open(tmp, "wb") as fh:
            fh.write(HEADER)
            for _ in range(50):
                fh.write(b"x" * (1 << 20))
        answers, done = [], threading.Event()

        def probe():
            while not done.is_set():
                try:
                    answers.append(daemon.probe())
                except OSError as exc:        # no answer at all counts as the longest
                    answers.append(exc)
        prober = threading.Thread(target=probe)
        prober.start()
        tmp.rename(drop / "huge.csv")
        [reason] = wait_for(daemon.spool.failed, timeout=60)
        done.set()
        prober.join()
        assert reason["kind"] == "line_too_long" and f"byte {len(HEADER)}:" in reason["message"]
        assert "csv.max_line_bytes" in reason["message"]
        assert daemon.peak_rss() < 500 << 20
        assert answers and all(isinstance(a, float) and a < 1.0 for a in answers)
    finally:
        daemon.stop()


@pytest.mark.parametrize("limit", [1024, 1 << 20, 3 << 20])
def test_the_offset_named_is_where_the_first_long_line_starts(limit):
    lines = [b"a" * 100, b"b" * limit, b"c" * (limit + 1), b"d"]       # a line of exactly the limit is fine
    data = b"\n".join(lines)
    with pytest.raises(ParseError) as caught:
        check_line_lengths(io.BytesIO(data), limit)
    assert caught.value.message.startswith(f"byte {data.index(b'c')}:")
    check_line_lengths(io.BytesIO(b"\n".join(lines[:2] + lines[3:])), limit)
    with pytest.raises(ParseError, match=r"^byte \d+:"):           # the last line, without its newline
        check_line_lengths(io.BytesIO(b"x\n" + b"e" * (limit + 1)), limit)


def test_check_with_a_sample_refuses_a_long_line_as_the_daemon_would(tmp_path, capsys):
    from tsunagi.app import cli
    config_path = write_config(tmp_path, csv={"max_line_bytes": 1024})
    sample = tmp_path / "sample.csv"
    sample.write_bytes(HEADER + b"1," + b"x" * 2000 + b"\r\n")
    assert cli.main(["-c", str(config_path), "check", "--layout", "rakuten-rms", "--sample", str(sample)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: byte {len(HEADER)}: a line longer than 1024 bytes (csv.max_line_bytes)")

"""A command's import read once into memory: its spool copy is written and made durable in a thread while the
same bytes are planned (CsvImporter.prepare), so the copy costs no time of its own. Nothing is applied before
the copy is durable: the plan only reads the store."""
from __future__ import annotations

import io
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

from tsunagi.ingest.csvimport import CsvImporter, Prepared
from tsunagi.ingest.spool import Item, Spool
from tsunagi.parsers.csvread import IN_MEMORY


def spool_reading_ahead(spool: Spool, importer: CsvImporter | None, src: BinaryIO, meta: dict, item_id: str
                        ) -> tuple[Item, Prepared | None]:
    """src spooled into cur/ as item_id, and what importer.prepare planned of the same bytes (None for a file
    too large to hold, one that is no regular file, or one prepare leaves to the copy's own read)."""
    data = _held(src) if importer else None
    if data is None:
        return spool.put_file(src, meta, ".csv", into="cur", item_id=item_id), None
    with ThreadPoolExecutor(1, thread_name_prefix="spool-copy") as copier:
        copy = copier.submit(spool.put_file, io.BytesIO(data), meta, ".csv", "cur", item_id)
        prepared = importer.prepare(data, meta)
        return copy.result(), prepared


def _held(src: BinaryIO) -> bytes | None:
    """The bytes of a regular file small enough to hold, read once: the copy and the plan both see them, even if
    the file grows meanwhile. None (src where it was) for any other file, or one that grew past what is held."""
    info = os.fstat(src.fileno())
    if not stat.S_ISREG(info.st_mode) or info.st_size > IN_MEMORY:
        return None
    data = src.read(IN_MEMORY + 1)
    if len(data) > IN_MEMORY:
        src.seek(0)
        return None
    return data

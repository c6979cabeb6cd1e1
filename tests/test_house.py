"""The house rules, read off the product tree: SQL and order JSON only in oms/, parsers kept out of
oms/ and outbound/, and a ground floor (common/) that imports nothing above it."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ROOT / "tsunagi"
# Words that only SQL says, in capitals as the house writes it.
SQL = re.compile(r"\b(SELECT\s+\S|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|ALTER\s+TABLE|"
                 r"PRAGMA\s|SAVEPOINT\s|BEGIN\s+IMMEDIATE)")
# The spool's own meta and reason files and the endpoint and IMAP pulls' records of what they took: JSON,
# but not order data.
JSON_ALLOWED = {"tsunagi/ingest/spool.py", "tsunagi/ingest/pull.py", "tsunagi/ingest/imap_pull.py"}


def modules(under: str = "") -> list[tuple[str, ast.Module]]:
    """(path relative to the repository, parsed module) of every product file, optionally under a folder."""
    out = []
    for path in sorted((PRODUCT / under).rglob("*.py")):
        out.append((path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))))
    return out


def sql_literals(tree: ast.AST) -> list[int]:
    """Lines of string constants (f-string parts too) that hold SQL."""
    return sorted(n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                  and SQL.search(n.value))


def json_reads(tree: ast.AST) -> list[int]:
    """Lines that decode JSON: json.load(s)(…), or load/loads taken from json."""
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("load", "loads") \
                and isinstance(n.func.value, ast.Name) and n.func.value.id == "json":
            out.append(n.lineno)
        elif isinstance(n, ast.ImportFrom) and n.module == "json" and {a.name for a in n.names} & {"load", "loads"}:
            out.append(n.lineno)
    return sorted(out)


def imported(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import, relative ones resolved against the module's package."""
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out += [(n.lineno, a.name) for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - (n.level - 1)] if n.level else []
            module = ".".join(base + ([n.module] if n.module else []))
            out += [(n.lineno, module)] if n.module else [(n.lineno, f"{module}.{a.name}") for a in n.names]
    return sorted(out)


def test_the_checks_see_what_they_look_for():
    tree = ast.parse('q = "SELECT id FROM orders"\nf"UPDATE orders SET x = {y}"\nt = "select your shop"\n'
                     'import json\njson.loads(s)\nfrom json import loads\n'
                     'from ..oms import store\nfrom . import clock\nimport tsunagi.parsers.csvfile\n')
    assert sql_literals(tree) == [1, 2]
    assert json_reads(tree) == [5, 6]
    assert [m for _, m in imported(tree, "tsunagi.common")] == ["json", "json", "tsunagi.oms", "tsunagi.common.clock",
                                                                "tsunagi.parsers.csvfile"]


def test_sql_is_written_only_in_oms():
    found = [f"{path}:{line}" for path, tree in modules() if not path.startswith("tsunagi/oms/")
             for line in sql_literals(tree)]
    assert found == [], "SQL outside tsunagi/oms/ (give it a named function in oms/): " + ", ".join(found)


def test_order_json_is_decoded_only_in_oms():
    found = [f"{path}:{line}" for path, tree in modules()
             if not path.startswith("tsunagi/oms/") and path not in JSON_ALLOWED for line in json_reads(tree)]
    assert found == [], "json.loads outside tsunagi/oms/ (read the order with oms.readmodel): " + ", ".join(found)


def test_oms_and_outbound_do_not_import_the_parsers():
    found = [f"{path}:{line} {module}" for under in ("oms", "outbound") for path, tree in modules(under)
             for line, module in imported(tree, _package(path)) if module.startswith("tsunagi.parsers")]
    assert found == [], "parsers imported by oms/ or outbound/: " + ", ".join(found)


def test_the_ground_floor_imports_nothing_above_it():
    found = [f"{path}:{line} {module}" for path, tree in modules("common")
             for line, module in imported(tree, _package(path))
             if module.startswith("tsunagi") and not (module + ".").startswith("tsunagi.common.")]
    assert found == [], "tsunagi/common/ imports from above it: " + ", ".join(found)


def _package(path: str) -> str:
    """The package a file's relative imports start from: its folder (an __init__.py's too)."""
    return ".".join(path.split("/")[:-1])


def test_the_console_reaches_the_store_only_through_the_domain():
    allowed = ("tsunagi.common", "tsunagi.oms", "tsunagi.outbound", "tsunagi.web")
    found = [f"{path}:{line} {module}" for path, tree in modules("web") for line, module in imported(tree, _package(path))
             if module.startswith("tsunagi") and not any((module + ".").startswith(a + ".") for a in allowed)]
    assert found == [], "tsunagi/web/ imports beyond common, oms and outbound (app/console.py wires it): " + \
        ", ".join(found)


def test_nothing_below_app_imports_the_console():
    found = [f"{path}:{line} {module}" for under in ("common", "parsers", "oms", "ingest", "outbound")
             for path, tree in modules(under) for line, module in imported(tree, _package(path))
             if module.startswith("tsunagi.web")]
    assert found == [], "the console is a presentation layer; nothing below app/ imports it: " + ", ".join(found)

"""The order list's search box over real HTTP: kana typed in hiragana, any part of a name, number or phone,
one or two characters, combined with the filters, paged with its count, and following a corrected name."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from tsunagi.common.clock import JST
from tsunagi.demo.csvs import order_csv
from tsunagi.demo.mails import Item, Person, SampleOrder

SATO = Person(name="佐藤 一郎", kana="サトウ イチロウ", phone="090-1111-2222")
TANAKA = Person(name="田中 次郎", kana="タナカ ジロウ", phone="080-3333-4444")
TAKAHASHI = Person(name="高橋 三郎", postal="530-0001", address="大阪府大阪市北区梅田1-1-1",
                   phone="06-5555-6666", email="", kana="タカハシ サブロウ")


def rakuten(n: int, buyer: Person = SATO, **kw) -> SampleOrder:
    return SampleOrder(f"402853-20260612-{n:010d}", [Item("item-a", "商品", 1, 1000)], buyer=buyer, **kw)


def imported(console, orders: list[SampleOrder]) -> None:
    """The orders as the cart's CSV brings them (with the buyers' kana), through the import command."""
    path = console.running.config_path.parent / "rms.csv"
    path.write_bytes(order_csv("rakuten-rms", orders))
    assert console.running.cli("import", str(path), "--shop", "rakuten", "--layout", "rakuten-rms") == 0


def found(console, **query) -> tuple[list[str], str]:
    """The order numbers the list shows (in its order) and the count it gives."""
    page = console.client("guest").get("/orders?" + urlencode(query)).text
    numbers = [part.split('"', 1)[0] for part in page.split('data-order="')[1:]]
    return numbers, page.split('id="total">', 1)[1].split("<", 1)[0]


def test_a_search_in_hiragana_finds_the_katakana_reading(console):
    imported(console, [rakuten(1), rakuten(2, TANAKA)])
    assert found(console, q="さとう") == ([rakuten(1).order_no], "1 件")
    assert found(console, q="タナカ ジ") == ([rakuten(2).order_no], "1 件")


def test_a_search_finds_part_of_the_buyers_or_the_recipients_name(console):
    imported(console, [rakuten(1), rakuten(2, TANAKA, ship_to=TAKAHASHI)])
    assert found(console, q="藤 一郎") == ([rakuten(1).order_no], "1 件")
    assert found(console, q="橋 三郎") == ([rakuten(2).order_no], "1 件")


def test_a_search_finds_a_phone_number_typed_with_or_without_hyphens(console):
    imported(console, [rakuten(1), rakuten(2, TANAKA, ship_to=TAKAHASHI)])
    for typed in ("090-1111-2222", "09011112222", "1111-2222", "０９０１１１１"):
        assert found(console, q=typed) == ([rakuten(1).order_no], "1 件"), typed
    assert found(console, q="06-5555") == ([rakuten(2).order_no], "1 件")          # the recipient's phone


def test_a_search_finds_an_order_by_its_number_or_a_part_of_it(console):
    imported(console, [rakuten(31), rakuten(32), rakuten(41)])
    assert found(console, q=rakuten(32).order_no) == ([rakuten(32).order_no], "1 件")
    assert found(console, q="0000000031") == ([rakuten(31).order_no], "1 件")
    assert found(console, q="20260612-000000003") == ([rakuten(32).order_no, rakuten(31).order_no], "2 件")


def test_one_or_two_characters_are_searched_too(console):
    imported(console, [rakuten(1), rakuten(2, TANAKA)])
    assert found(console, q="佐藤") == ([rakuten(1).order_no], "1 件")
    assert found(console, q="藤") == ([rakuten(1).order_no], "1 件")
    assert found(console, q="さ") == ([rakuten(1).order_no], "1 件")                # サトウ
    assert found(console, q="ジロ") == ([rakuten(2).order_no], "1 件")


def test_a_search_combines_with_the_status_shop_and_date_filters(console):
    day = datetime(2026, 6, 12, 10, 0, tzinfo=JST)
    imported(console, [rakuten(1, TANAKA, ordered_at=day), rakuten(2, TANAKA, ordered_at=day + timedelta(days=3)),
                       rakuten(3, TANAKA, ordered_at=day, payment="銀行振込"), rakuten(4, SATO, ordered_at=day)])
    assert found(console, q="たなか") == ([rakuten(2).order_no, rakuten(3).order_no, rakuten(1).order_no], "3 件")
    assert found(console, q="たなか", status="payment") == ([rakuten(3).order_no], "1 件")      # 入金待ち
    assert found(console, q="たなか", status="ready", shop="rakuten", ordered_to="2026-06-12") == (
        [rakuten(1).order_no], "1 件")
    assert found(console, q="たなか", ordered_from="2026-06-13") == ([rakuten(2).order_no], "1 件")
    assert found(console, q="田中", ordered_from="2026-06-13") == ([rakuten(2).order_no], "1 件")   # 2 characters
    assert found(console, q="たなか", shop="yahoo") == ([], "0 件")


def test_many_matches_are_paged_newest_first_with_their_count(console):
    start = datetime(2026, 6, 12, 10, 0, tzinfo=JST)
    imported(console, [rakuten(n, TANAKA if n % 3 else SATO, ordered_at=start + timedelta(minutes=n))
                       for n in range(1, 91)])
    tanaka = [rakuten(n).order_no for n in range(90, 0, -1) if n % 3]                    # 60, newest first
    assert found(console, q="たなか") == (tanaka[:50], "60 件")
    assert found(console, q="たなか", page="2") == (tanaka[50:], "60 件")


def test_two_characters_of_a_name_or_its_kana_are_paged_newest_first_with_their_count(console):
    start = datetime(2026, 6, 12, 10, 0, tzinfo=JST)
    imported(console, [rakuten(n, TANAKA if n % 3 else SATO, ordered_at=start + timedelta(minutes=n))
                       for n in range(1, 91)])
    tanaka = [rakuten(n).order_no for n in range(90, 0, -1) if n % 3]                    # 60, newest first
    sato = [rakuten(n).order_no for n in range(90, 0, -1) if n % 3 == 0]                 # 30
    assert found(console, q="田中") == (tanaka[:50], "60 件")
    assert found(console, q="田中", page="2") == (tanaka[50:], "60 件")
    assert found(console, q="さと") == (sato, "30 件")                  # hiragana finds the katakana サトウ
    assert found(console, q="ｻﾄ") == (sato, "30 件")                    # and so does half-width kana
    assert found(console, q="次郎", ordered_from="2026-06-12", shop="rakuten") == (tanaka[:50], "60 件")


def test_an_order_whose_name_is_corrected_is_found_by_the_new_name_and_not_the_old(console):
    imported(console, [rakuten(1), rakuten(2, TANAKA)])
    assert console.running.cli("order-set", "rakuten", rakuten(1).order_no, "buyer.name=鈴木 五郎",
                               "ship_to.name=鈴木 五郎") == 0
    assert found(console, q="鈴木 五郎") == ([rakuten(1).order_no], "1 件")
    assert found(console, q="佐藤 一郎") == ([], "0 件")
    assert found(console, q="鈴木") == ([rakuten(1).order_no], "1 件")              # by its new 2 characters
    assert found(console, q="佐藤") == ([], "0 件")                                   # and not its old
    assert found(console, q="佐") == ([], "0 件")                                     # the 1-character scan agrees

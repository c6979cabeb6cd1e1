"""The catalog as an operator keeps it: products and count files read through layouts and decoded like order
files, each refused row named with its value, codes that differ only in case, and deleting a product."""
from __future__ import annotations

import json

import pytest

from tests.support.configs import RAKUTEN_TO, edit_config
from tsunagi.app import cli
from tsunagi.app import config as config_mod
from tsunagi.demo.mails import Item, SampleOrder, order_mail
from tsunagi.oms.store import Store


class Catalog:
    """The seeded shop (item-a, item-b, item-c at 10 each; set-ab = item-a + 2 item-b) driven by its CLI."""

    def __init__(self, config_path, folder, capsys):
        self.config_path, self.folder, self.capsys = config_path, folder, capsys

    def cli(self, *args) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = cli.main(["-c", str(self.config_path), *args])
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def file(self, name: str, text: str, encoding: str = "utf-8") -> str:
        (self.folder / name).write_bytes(text.encode(encoding))
        return str(self.folder / name)

    def products(self, text: str, *args, encoding: str = "utf-8") -> tuple[int, str, str]:
        return self.cli("products", "import", self.file("p.csv", text, encoding), *args)

    def counts(self, text: str, *args) -> tuple[int, str, str]:
        return self.cli("stock", "import", self.file("c.csv", text), *args)

    def db(self):
        return Store.open_read_only(config_mod.load(self.config_path).db_path).read()

    def product(self, sku: str) -> tuple | None:
        return self.db().one("SELECT sku, name FROM products WHERE sku = ?", sku)

    def parts(self, sku: str) -> list[tuple]:
        return self.db().all("SELECT sku, qty FROM set_components WHERE set_sku = ? ORDER BY sku", sku)

    def on_hand(self) -> dict[str, int]:
        code, out, _ = self.cli("stock", "--json")
        return {r["sku"]: r["on_hand"] for r in json.loads(out)}

    def order_for(self, sku: str, n: int = 1) -> str:
        """A Rakuten order mail for one of sku, taken in as if it came over SMTP (it reserves stock)."""
        number = f"402853-20260612-{n:010d}"
        eml = self.folder / f"order{n}.eml"
        eml.write_bytes(order_mail("rakuten", SampleOrder(number, [Item(sku, "商品", 1, 1000)]), RAKUTEN_TO))
        assert self.cli("ingest", str(eml), "--shop", "rakuten")[0] == 0
        return number

    def ready(self):
        return config_mod.load(self.config_path).spool_dir / "outbox" / "rakuten" / "ready"

    def feeds(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.ready().glob("*"))]


@pytest.fixture
def shop(config_path, tmp_path, capsys) -> Catalog:
    return Catalog(config_path, tmp_path, capsys)


def one_line(err: str) -> str:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def test_a_set_of_a_part_no_product_has_is_refused_naming_the_part(shop):
    code, out, err = shop.products("sku,name,components\nset-x,セットX,item-a*1;ghost-1*2\nitem-d,商品D,\n")
    assert code == 1
    assert "行 2: セットの構成品 ghost-1 は商品マスタにありません" in err
    assert "products: 1 rows applied, 1 changed, 1 rows refused" in out
    assert shop.product("set-x") is None and shop.product("item-d") == ("item-d", "商品D")


def test_a_set_may_list_parts_that_come_further_down_the_same_file(shop):
    code, _, err = shop.products("sku,name,components\nset-cd,セットCD,item-c*1;item-d*2\nitem-d,商品D,\n")
    assert code == 0, err
    assert shop.parts("set-cd") == [("item-c", 1), ("item-d", 2)]


def test_a_set_as_a_part_of_a_set_is_refused(shop):
    code, _, err = shop.products("sku,name,components\nset-big,大セット,set-ab*1;item-c*1\n")
    assert code == 1 and "行 2: セットの構成品 set-ab はセット商品です" in err
    assert shop.product("set-big") is None


def test_a_code_equal_to_a_products_but_for_case_is_refused_naming_both(shop):
    code, out, err = shop.products("sku,name\nITEM-A,大文字の商品A\n")
    assert code == 1
    assert "行 2: 商品コード ITEM-A は既存の商品 item-a と大文字小文字だけが違います" in err
    assert shop.product("ITEM-A") is None and shop.product("item-a") == ("item-a", "商品A")


def test_a_count_for_a_code_in_another_case_is_refused_naming_the_product(shop):
    code, _, err = shop.counts("sku,location,lot,qty\nITEM-A,本店倉庫,1,99\n")
    assert code == 1 and "行 2: 商品コード ITEM-A は商品マスタにありません (大文字小文字だけ違う item-a があります" in err
    assert shop.on_hand()["item-a"] == 10 and "ITEM-A" not in shop.on_hand()


def test_with_sku_case_fold_a_code_in_another_case_is_the_existing_product(shop):
    edit_config(shop.config_path, lambda config: config.update(catalog={"sku_case": "fold"}))
    assert shop.products("sku,name,components\nITEM-A,商品A 改,\nset-ac,セットAC,Item-A*1;ITEM-C*1\n")[0] == 0
    assert shop.product("ITEM-A") is None and shop.product("item-a") == ("item-a", "商品A 改")
    assert shop.parts("set-ac") == [("item-a", 1), ("item-c", 1)]
    assert shop.counts("sku,location,lot,qty\nITEM-A,本店倉庫,1,4\n")[0] == 0
    assert shop.on_hand()["item-a"] == 4 and "ITEM-A" not in shop.on_hand()


def test_a_count_for_a_code_no_product_has_is_refused_and_the_rest_applied(shop):
    code, out, err = shop.counts("sku,location,lot,qty\nghost-1,本店倉庫,1,5\nitem-b,本店倉庫,1,7\n")
    assert code == 1
    assert "行 2: 商品コード ghost-1 は商品マスタにありません (tsunagi products import で登録)" in err
    assert "stock: 1 rows applied, 1 changed, 1 rows refused" in out
    assert shop.on_hand()["item-b"] == 7 and "ghost-1" not in shop.on_hand()


def test_a_count_for_a_set_is_refused_naming_its_parts(shop):
    code, _, err = shop.counts("sku,location,lot,qty\nset-ab,本店倉庫,1,5\n")
    assert code == 1 and "行 2: 商品コード set-ab はセット商品です: 在庫は構成品 (item-a, item-b) で数えます" in err
    assert "set-ab" not in shop.on_hand()


def test_a_warehouse_stock_file_through_the_daemons_import_refuses_sets_and_unknown_codes_per_row(shop):
    path = shop.file("wms.csv", "商品コード,倉庫,ロット,在庫数\nset-ab,外部倉庫,,3\nghost-1,外部倉庫,,4\nitem-c,外部倉庫,,5\n")
    code, out, _ = shop.cli("import", path, "--shop", "rakuten")
    assert code == 1
    assert "行 2: 商品コード set-ab はセット商品です" in out and "行 3: 商品コード ghost-1 は商品マスタにありません" in out
    stock = shop.on_hand()
    assert stock["item-c"] == 15 and "set-ab" not in stock and "ghost-1" not in stock


@pytest.mark.parametrize("encoding", ["euc_jp", "cp932"])
def test_a_products_file_in_a_japanese_encoding_is_decoded(shop, encoding):
    text = "sku,name\nitem-j,東京都産の手作り陶器マグカップ（白）\nitem-k,ほうじ茶ティーバッグ詰め合わせ\n"
    code, _, err = shop.products(text, encoding=encoding)
    assert code == 0, err
    assert shop.product("item-j") == ("item-j", "東京都産の手作り陶器マグカップ（白）")
    assert shop.product("item-k") == ("item-k", "ほうじ茶ティーバッグ詰め合わせ")


def test_a_products_file_with_a_byte_no_encoding_reads_is_refused_naming_its_offset(shop):
    (shop.folder / "p.csv").write_bytes(b"sku,name\nitem-e,ab\x81 cd\n")
    code, _, err = shop.cli("products", "import", str(shop.folder / "p.csv"))
    assert code == 2 and "byte 18" in one_line(err)
    assert shop.product("item-e") is None


def test_a_count_file_with_a_broken_byte_is_refused_naming_its_offset(shop):
    (shop.folder / "c.csv").write_bytes("sku,location,lot,qty\nitem-a,本店倉庫,1,3\n".encode("cp932") + b"item-b,\x81 ,1,4\n")
    code, _, err = shop.cli("stock", "import", str(shop.folder / "c.csv"))
    assert code == 2 and "byte 48" in one_line(err)
    assert shop.on_hand()["item-a"] == 10


def test_products_and_count_layouts_are_chosen_by_header(shop):
    code, _, err = shop.products("商品コード,商品名,セット構成\nitem-m,商品M,\nset-cm,セットCM,item-c*1;item-m*1\n")
    assert code == 0, err
    assert shop.parts("set-cm") == [("item-c", 1), ("item-m", 1)]
    code, _, err = shop.counts("商品コード,倉庫,ロット,在庫数\nitem-m,外部倉庫,,6\n")
    assert code == 0, err
    assert shop.db().one("SELECT location, on_hand FROM stock WHERE sku = 'item-m'") == ("外部倉庫", 6)


def test_a_header_no_products_layout_has_is_refused_naming_the_layouts_tried(shop):
    code, _, err = shop.products("code,title\nitem-m,商品M\n")
    assert code == 2 and "tsunagi-products, tsunagi-products-ja" in one_line(err)


def test_layout_names_a_products_layout_of_ones_own(shop):
    edit_config(shop.config_path, lambda config: config.update(csv_layout={"my-products": {
        "kind": "products", "fields": {"sku": "品番", "name": "品名"}}}))
    assert shop.products("品番,品名\nitem-n,商品N\n", "--layout", "my-products")[0] == 0
    assert shop.product("item-n") == ("item-n", "商品N")
    code, _, err = shop.products("sku,name\nitem-o,商品O\n", "--layout", "tsunagi-stock")
    assert code == 2 and "is a stock layout, not products" in one_line(err)


def test_products_delete_removes_the_product_its_channel_codes_and_stock_rows(shop):
    assert shop.products("sku,name,components,channel_sku,shop\njunk-1,不要な商品,,junk-code,rakuten\n")[0] == 0
    assert shop.counts("sku,location,lot,qty\njunk-1,本店倉庫,1,0\n")[0] == 0
    code, out, _ = shop.cli("products", "delete", "junk-1")
    assert code == 0 and "product junk-1 deleted; channel codes junk-code removed" in out
    db = shop.db()
    assert shop.product("junk-1") is None and "junk-1" not in shop.on_hand()
    assert db.all("SELECT * FROM channel_skus WHERE sku = 'junk-1'") == []


def test_products_delete_is_refused_while_an_open_order_has_it(shop):
    number = shop.order_for("item-c")
    code, _, err = shop.cli("products", "delete", "item-c")
    assert code == 2 and f"商品 item-c は未出荷の注文にあります: rakuten {number}" in one_line(err)
    assert shop.product("item-c") is not None


def test_products_delete_is_refused_for_a_part_of_a_set(shop):
    code, _, err = shop.cli("products", "delete", "item-a")
    assert code == 2 and "商品 item-a はセット set-ab の構成品です" in one_line(err)
    assert shop.product("item-a") is not None


def test_products_delete_of_stock_on_hand_is_refused_unless_forced(shop):
    code, _, err = shop.cli("products", "delete", "item-c")
    assert code == 2 and "商品 item-c には在庫があります (本店倉庫 ロット 1 10)" in one_line(err)
    code, out, _ = shop.cli("products", "delete", "item-c", "--force")
    assert code == 0 and "stock counted to 0 (本店倉庫 10)" in out
    assert shop.product("item-c") is None
    assert shop.db().value("SELECT SUM(d_on_hand) FROM ledger WHERE sku = 'item-c'") == 0


def test_a_deleted_product_is_gone_from_the_next_feed_file(shop):
    assert shop.products("sku,name\njunk-1,不要な商品\n")[0] == 0
    assert shop.counts("sku,location,lot,qty\njunk-1,本店倉庫,1,3\n")[0] == 0
    assert shop.cli("import", shop.file("c1.csv", "sku,location,lot,qty\nitem-a,本店倉庫,1,11\n"), "--shop", "rakuten")[0] == 0
    assert any(b"junk-1" in f for f in shop.feeds())          # published while it was a product
    assert shop.cli("products", "delete", "junk-1", "--force")[0] == 0
    assert shop.cli("import", shop.file("c2.csv", "sku,location,lot,qty\nitem-a,本店倉庫,1,12\n"), "--shop", "rakuten")[0] == 0
    # unsent figures merge into one file, each SKU's latest: item-a's new figure, junk-1 no more
    (after,) = shop.feeds()
    assert b"item-a" in after and b"junk-1" not in after


def rakuten_figures(data: bytes) -> dict[str, int]:
    """商品管理番号 -> 在庫数 of a Rakuten normal-item.csv ("u", code, SKU number, quantity; all quoted)."""
    rows = [line.replace('"', "").split(",") for line in data.decode("cp932").split("\r\n")[1:] if line]
    return {row[1]: int(row[3]) for row in rows}


def the_feed(shop) -> dict[str, int]:
    """The figures of the shop's one unsent stock file."""
    (only,) = shop.feeds()
    return rakuten_figures(only)


def sent_by_hand(shop) -> None:
    """Every unsent stock file uploaded by a person and recorded so (it leaves ready/ as a push's does)."""
    for name in [p.name for p in shop.ready().glob("*")]:
        assert shop.cli("outbox", "mark-sent", name)[0] == 0


def stock_changes(shop, name: str, qty: int) -> None:
    """item-a counted again by the warehouse: the feed writes its new figure (merged into the unsent file)."""
    path = shop.file(name, f"sku,location,lot,qty\nitem-a,本店倉庫,1,{qty}\n")
    assert shop.cli("import", path, "--shop", "rakuten")[0] == 0


def published_codes(shop) -> set[str]:
    return {r[0] for r in shop.db().all("SELECT channel_sku FROM feed_state WHERE shop = 'rakuten'")}


@pytest.fixture
def junk_sent(shop):
    """junk-1 (3 on hand) published to Rakuten in a file that went: the channel holds 3 of it."""
    assert shop.products("sku,name\njunk-1,不要な商品\n")[0] == 0
    assert shop.counts("sku,location,lot,qty\njunk-1,本店倉庫,1,3\n")[0] == 0
    stock_changes(shop, "c1.csv", 11)
    assert the_feed(shop)["junk-1"] == 3
    sent_by_hand(shop)
    return shop


def test_a_deleted_product_the_channel_holds_stock_of_is_told_0_once_then_leaves_the_feeds(junk_sent):
    shop = junk_sent
    assert shop.cli("products", "delete", "junk-1", "--force")[0] == 0
    assert the_feed(shop) == {"junk-1": 0}                   # at once: the channel sells none of it any more
    stock_changes(shop, "c2.csv", 12)
    assert the_feed(shop) == {"item-a": 12, "junk-1": 0}     # the 0 stays until the channel has read it
    sent_by_hand(shop)
    stock_changes(shop, "c3.csv", 13)
    assert the_feed(shop) == {"item-a": 13}                  # then it is gone from every file
    assert "junk-1" not in published_codes(shop)


def test_a_deleted_product_the_channel_was_never_told_of_leaves_the_unsent_file_and_no_file_is_left_empty(shop):
    stock_changes(shop, "c0.csv", 10)
    sent_by_hand(shop)                                       # the first feed, every product's figure, went
    assert shop.products("sku,name\njunk-1,不要な商品\n")[0] == 0
    assert shop.counts("sku,location,lot,qty\njunk-1,本店倉庫,1,3\n")[0] == 0
    stock_changes(shop, "c1.csv", 10)                        # item-a unchanged: junk-1's figure alone is written
    assert the_feed(shop) == {"junk-1": 3}
    assert shop.cli("products", "delete", "junk-1", "--force")[0] == 0
    assert shop.feeds() == []                                # nothing left for the channel to read
    assert "junk-1" not in published_codes(shop)
    stock_changes(shop, "c2.csv", 12)
    assert the_feed(shop) == {"item-a": 12}


def test_a_deleted_product_whose_0_went_already_leaves_without_another_row(junk_sent):
    shop = junk_sent
    assert shop.counts("sku,location,lot,qty\njunk-1,本店倉庫,1,0\n")[0] == 0
    stock_changes(shop, "c2.csv", 12)
    assert the_feed(shop) == {"item-a": 12, "junk-1": 0}
    sent_by_hand(shop)                                       # the channel holds 0 of it
    assert shop.cli("products", "delete", "junk-1")[0] == 0
    assert shop.feeds() == [] and "junk-1" not in published_codes(shop)


def test_a_product_deleted_and_made_again_under_its_code_is_published_again(junk_sent):
    shop = junk_sent
    assert shop.cli("products", "delete", "junk-1", "--force")[0] == 0
    assert shop.products("sku,name\njunk-1,不要な商品 (再登録)\n")[0] == 0
    assert shop.counts("sku,location,lot,qty\njunk-1,本店倉庫,1,4\n")[0] == 0
    stock_changes(shop, "c2.csv", 12)
    assert the_feed(shop) == {"item-a": 12, "junk-1": 4}     # its new figure replaces the unsent 0
    # deleted again before that file went: the channel still holds the 3 it was sent, so it is told 0
    assert shop.cli("products", "delete", "junk-1", "--force")[0] == 0
    assert the_feed(shop) == {"item-a": 12, "junk-1": 0}
    sent_by_hand(shop)
    stock_changes(shop, "c3.csv", 13)
    assert the_feed(shop) == {"item-a": 13}
    # made again once it had left the feeds: published afresh
    assert shop.products("sku,name\njunk-1,不要な商品 (再々登録)\n")[0] == 0
    assert shop.counts("sku,location,lot,qty\njunk-1,本店倉庫,1,5\n")[0] == 0
    stock_changes(shop, "c4.csv", 14)
    assert the_feed(shop) == {"item-a": 14, "junk-1": 5}


def test_a_crash_between_the_merged_file_and_the_removal_of_the_old_one_brings_no_deleted_row_back(shop, monkeypatch):
    from tsunagi.outbound import stockmerge
    assert shop.products("sku,name\njunk-1,不要な商品\n")[0] == 0
    assert shop.counts("sku,location,lot,qty\njunk-1,本店倉庫,1,3\n")[0] == 0
    stock_changes(shop, "c1.csv", 11)
    assert the_feed(shop)["junk-1"] == 3                     # unsent: the channel never had it

    def killed(paths):
        raise SystemExit("killed after the merged file was written, before the old one went")
    monkeypatch.setattr(stockmerge, "remove", killed)
    with pytest.raises(SystemExit):
        shop.cli("products", "delete", "junk-1", "--force")
    monkeypatch.undo()
    old, new = [rakuten_figures(f) for f in shop.feeds()]    # both in ready/, as the crash left them
    assert old["junk-1"] == 3 and "junk-1" not in new
    stock_changes(shop, "c2.csv", 12)                        # the next merge takes both
    feed = the_feed(shop)
    assert feed["item-a"] == 12 and "junk-1" not in feed
    assert "junk-1" not in published_codes(shop)


def test_a_products_layout_is_refused_by_the_order_and_stock_import(shop):
    code, _, err = shop.cli("import", shop.file("p.csv", "sku,name\nitem-p,商品P\n"), "--shop", "rakuten",
                            "--layout", "tsunagi-products")
    assert code == 2 and "tsunagi products import FILE --layout tsunagi-products" in one_line(err)
    assert shop.product("item-p") is None


def test_check_reads_a_products_sample_with_its_layout(shop):
    code, out, _ = shop.cli("check", "--layout", "tsunagi-products", "--sample",
                            shop.file("p.csv", "sku,name,components\nset-q,セットQ,item-a*2;item-c\n"))
    assert code == 0 and '"sku": "set-q"' in out and "1 rows, 0 rows with problems" in out


def test_a_count_file_whose_rows_leave_out_the_trailing_empty_fields_is_read_whole(shop):
    """Spreadsheets drop trailing empty cells: every row shorter than the header must not fail the file."""
    code, out, err = shop.counts("sku,location,lot,qty,counted_at,memo\nitem-a,本店倉庫,1,7\nitem-b,本店倉庫,1,8\n")
    assert code == 0, err
    assert shop.on_hand()["item-a"] == 7 and shop.on_hand()["item-b"] == 8


def test_fields_beyond_the_header_are_left_unread_and_the_row_still_counts(shop):
    code, _, err = shop.counts("sku,location,lot,qty\nitem-a,本店倉庫,1,6,余分\nitem-b,本店倉庫,1,5\n")
    assert code == 0, err
    assert shop.on_hand()["item-a"] == 6 and shop.on_hand()["item-b"] == 5

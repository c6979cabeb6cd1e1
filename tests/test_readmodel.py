"""The read model: one typed order, whose as_dict() is exactly what `tsunagi order --json` prints."""
from __future__ import annotations

import json
from datetime import date

import pytest

from tests.test_shipping import order
from tests.test_wms import WmsSite
from tsunagi.demo.mails import Item
from tsunagi.oms import queries
from tsunagi.oms.orders import OrderError
from tsunagi.oms.readmodel import Order, each_order, load_order
from tsunagi.oms.store import Store

# The stable interface: the keys `tsunagi order --json` prints, in this order.
ORDER_KEYS = ["shop", "order_no", "status", "status_label", "ordered_at", "buyer", "ship_to", "payment_method",
              "delivery_method", "requested_date", "requested_time", "shipping_fee", "cod_fee", "discount", "total",
              "source", "hold_reason", "hold_kind", "mail_at", "csv_at", "shipping", "channel_status", "lines",
              "reserved", "shipments", "warehouse", "history"]
ADDRESS_KEYS = ["name", "postal_code", "prefecture", "address", "phone", "email", "kana"]
NESTED_KEYS = {"lines": ["sku", "channel_sku", "name", "options", "qty", "unit_price"],
               "reserved": ["sku", "location", "lot", "qty"],
               "shipments": ["key", "carrier", "state", "location", "tracking", "ship_date", "file"],
               "warehouse": ["wms", "state", "updated_at"], "history": ["at", "from", "to", "note"]}


def test_as_dict_is_what_the_cli_prints_for_a_planned_split_and_instructed_order(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = order(1, Item("item-c", "C", 3, 100), Item("item-b", "B", 1, 500, ("色:青",)),
              requested_date=date(2026, 6, 15), requested_time="午前中")
    site.orders_csv([o])
    site.send()
    site.export()
    printed = site.view(o)
    tx = Store(tmp_path / "var" / "tsunagi.db").read()
    loaded = load_order(tx, queries.find_order(tx, "rakuten", o.order_no), history=True)
    assert json.loads(json.dumps(loaded.as_dict(), ensure_ascii=False)) == printed
    assert list(printed) == ORDER_KEYS
    assert list(printed["buyer"]) == list(printed["ship_to"]) == ADDRESS_KEYS
    assert list(printed["shipping"]) == ["carrier", "delivery", "payment", "time"]
    for key, keys in NESTED_KEYS.items():
        assert printed[key] and all(list(item) == keys for item in printed[key]), key
    # the typed side reads the same order
    assert isinstance(loaded, Order) and loaded.requested_date == date(2026, 6, 15)
    assert loaded.shipping.carrier == "carrier" and loaded.lines[1].options == ("色:青",)
    assert [(r.sku, r.location, r.qty) for r in loaded.reserved] == [
        ("item-b", "本店倉庫", 1), ("item-c", "外部倉庫", 2), ("item-c", "本店倉庫", 1)]
    assert [w.wms for w in loaded.warehouse] == ["logi"] and loaded.history[0].to_status == "confirm"


def test_without_history_the_key_is_absent_and_an_unplanned_order_has_an_empty_plan(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    o = order(2, delivery="ポスト投函")                      # no mapping: held, no plan
    site.orders_csv([o])
    tx = Store(tmp_path / "var" / "tsunagi.db").read()
    loaded = load_order(tx, queries.find_order(tx, "rakuten", o.order_no))
    view = loaded.as_dict()
    assert "history" not in view and loaded.history is None
    assert loaded.shipping is None and view["shipping"] == {} and view["status"] == "hold"
    assert list(view) == ORDER_KEYS[:-1]


def test_each_order_reads_many_in_the_order_asked_and_names_an_unknown_id(tmp_path, capsys):
    site = WmsSite(tmp_path, capsys)
    site.orders_csv([order(1), order(2, Item("item-b", "B", 2, 500))])
    tx = Store(tmp_path / "var" / "tsunagi.db").read()
    a, b = (queries.find_order(tx, "rakuten", order(n).order_no) for n in (1, 2))
    assert list(each_order(tx, [b, a, b])) == [load_order(tx, b), load_order(tx, a), load_order(tx, b)]
    with pytest.raises(OrderError, match="no order with id 999"):
        load_order(tx, 999)

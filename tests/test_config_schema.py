"""The config schema: mistakes named by path and all reported at once, defaults, environment overrides,
and the README's key table generated from the schema."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import tomli_w

from tsunagi.app import config, configdoc
from tsunagi.outbound.layouts import available_layouts
from tsunagi.parsers.mailspec import SPEC_DIR, available_carts

BASE = {
    "shop": [
        {"id": "rakuten", "cart": "rakuten", "order_mail_to": ["r@orders.example.jp"],
         "stock_feed": {"layout": "rakuten-normal-item"}, "order_csv": {"layout": "rakuten-rms"}},
        {"id": "yahoo", "cart": "yahoo", "order_mail_to": ["y@orders.example.jp"]},
    ],
}


def write(folder: Path, data: dict) -> Path:
    path = folder / "config.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def mistakes(folder: Path, data: dict) -> list[str]:
    """The lines of the ConfigError loading data gives, without the file name."""
    path = write(folder, data)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    lines = str(err.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    return [line.removeprefix(f"{path}: ") for line in lines]


def changed(**sections) -> dict:
    data = copy.deepcopy(BASE)
    data.update(sections)
    return data


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch):
    import os
    for name in [n for n in os.environ if n.startswith("TSUNAGI_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize("edit,line", [
    (lambda d: d.update(smpt={}), "smpt: unknown key (allowed: alerts, carrier, catalog, csv, csv_layout, data_dir, endpoint, imap, "
                                  "locations, log, mail_spec_dir, pipeline, relay, returns, sftp, shop, smtp, stock_feed, store, web, wms)"),
    (lambda d: d.update(smtp={"lisen": "127.0.0.1:25"}), "smtp.lisen: unknown key (allowed: dkim_dns, "
                                                         "dkim_timeout_seconds, dkim_verify, idle_timeout_seconds, "
                                                         "in_flow_delay_seconds, listen, max_connections, max_connections_per_peer, "
                                                         "max_message_bytes, max_recipients, require_tls, tls_cert, "
                                                         "tls_key, user)"),
    (lambda d: d["shop"][0]["stock_feed"].update(layot="x"), "shop[0].stock_feed.layot: unknown key (allowed: "
                                                             "download_layout, layout, location, safety_stock)"),
    (lambda d: d["shop"][1].update(shipping={"autoready": True}), "shop[1].shipping.autoready: unknown key"),
])
def test_an_unknown_key_is_named_by_its_path_with_the_keys_allowed_there(tmp_path, edit, line):
    data = changed()
    edit(data)
    (found,) = mistakes(tmp_path, data)
    assert found.startswith(line)


def test_every_mistake_in_the_file_is_reported_in_one_run(tmp_path):
    data = changed(smtp={"listen": "localhost", "max_message_bytes": 10}, store={"synchronous": "fast"})
    data["shop"][0]["stock_feed"] = {"layout": "yahoo", "safety_stock": "1"}
    data["shop"][1].update(id="Yahoo", cart="yahoo-old", order_mail_to=["nobody"], colour="red")
    found = mistakes(tmp_path, data)
    assert found == [
        "smtp.listen: must be host:port (port 0 = any free port), not 'localhost'",
        "smtp.max_message_bytes: must be at least 1024, not 10",
        "store.synchronous: must be 'FULL', 'NORMAL' or 'EXTRA', not 'FAST'",
        "shop[0].stock_feed.layout: unknown layout 'yahoo' (known stock layouts: amazon-price-quantity, "
        "rakuten-normal-item, shopify-inventory, yahoo-quantity)",
        "shop[0].stock_feed.safety_stock: must be integer, not string '1'",
        "shop[1].id: 'Yahoo': use lower-case letters, digits, - and _ (it names folders)",
        "shop[1].order_mail_to[0]: 'nobody' is not a mail address",
        f"shop[1].cart: no mail spec 'yahoo-old' in {SPEC_DIR} (known: {', '.join(available_carts())})",
        "shop[1].colour: unknown key (allowed: accept_from, cart, id, invoice_number, lot_table, mail, mail_specs, "
        "name, order_csv, order_mail_to, reduced_rate_tag, review, shipping, stock_feed)",
    ]


def test_the_checks_across_sections_are_reported_together(tmp_path):
    data = changed(alerts={"to": ["ops@example.jp"], "sender": "t@example.jp"})
    data["shop"][1].update(id="rakuten", order_mail_to=["R@orders.example.jp"], mail={"sender": "s@example.jp"},
                           shipping={"delivery": {"宅配便": "宅急便"}})
    assert mistakes(tmp_path, data) == [
        "shop[1].id: 'rakuten' is already used by shop[0]",
        "shop[1].order_mail_to: r@orders.example.jp is already used by shop[0]",
        "shop[1].shipping.delivery.\"宅配便\": '宅急便': no [[carrier]] offers it (offered: none: add a [[carrier]])",
        "shop[1].mail: buyer mails are sent through [relay]: add it",
        "alerts: alerts are mailed through [relay]: add it",
    ]


def test_defaults_fill_every_key_not_given(tmp_path):
    cfg = config.load(write(tmp_path, changed()))
    assert (cfg.smtp_host, cfg.smtp_port, cfg.max_message_bytes) == ("127.0.0.1", 2525, 10 * 1024 * 1024)
    assert (cfg.data_dir, cfg.db_path) == (tmp_path / "var", tmp_path / "var" / "tsunagi.db")
    assert (cfg.feed_coalesce_ms, cfg.store_synchronous, cfg.stock_layouts) == (200, "FULL", ["tsunagi-stock",
                                                                                            "wms-stock"])
    assert (cfg.mail_within_minutes, cfg.drop_stable_seconds, cfg.csv_layout_dirs) == (60.0, 2.0, ())
    shop = cfg.shop("yahoo")
    assert (shop.name, shop.mail_specs, shop.stock_feed, shop.order_csv) == ("yahoo", ["yahoo"], None, None)
    assert cfg.shop("rakuten").order_csv.confirm_within_hours == 24.0
    assert cfg.relay is None and cfg.alerts is None and cfg.carriers == cfg.warehouses == cfg.sftp == []


def test_an_environment_variable_overrides_a_key_of_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, changed(store={"synchronous": "FULL"}, smtp={"max_message_bytes": 4096}))
    monkeypatch.setenv("TSUNAGI_STORE__SYNCHRONOUS", "NORMAL")
    monkeypatch.setenv("TSUNAGI_SMTP__MAX_MESSAGE_BYTES", "2048")
    monkeypatch.setenv("TSUNAGI_DATA_DIR", "/srv/tsunagi")
    cfg = config.load(path)
    assert (cfg.store_synchronous, cfg.max_message_bytes, cfg.data_dir) == ("NORMAL", 2048, Path("/srv/tsunagi"))


def test_smtp_listen_from_the_environment_keeps_the_rest_of_the_smtp_table(tmp_path, monkeypatch):
    path = write(tmp_path, changed(smtp={"listen": "127.0.0.1:2525", "max_message_bytes": 4096}))
    monkeypatch.setenv("TSUNAGI_SMTP__LISTEN", "127.0.0.1:2526")
    cfg = config.load(path)
    assert (cfg.smtp_host, cfg.smtp_port, cfg.max_message_bytes) == ("127.0.0.1", 2526, 4096)


def test_a_wrong_value_from_the_environment_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("TSUNAGI_SMTP__LISTEN", "localhost")
    (line,) = mistakes(tmp_path, changed())
    assert line.startswith("smtp.listen: must be host:port") and line.endswith("(from the environment: "
                                                                               "TSUNAGI_SMTP__LISTEN)")


def test_shops_are_not_overridden_item_by_item_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TSUNAGI_SHOP__0__NAME", "other")
    (line,) = mistakes(tmp_path, changed())
    assert line.startswith("TSUNAGI_SHOP__0__…: an array is not overridden item by item")


def test_loading_a_config_sets_no_module_global_for_outbound_layouts(tmp_path):
    (tmp_path / "layouts" / "label").mkdir(parents=True)
    shipped = (Path(available_layouts.__code__.co_filename).parent / "label" / "yamato-b2.toml").read_text("utf-8")
    (tmp_path / "layouts" / "label" / "my-labels.toml").write_text(shipped, encoding="utf-8")
    cfg = config.load(write(tmp_path, changed(csv={"layout_dir": "layouts"}, carrier=[{
        "name": "mine", "layout": "my-labels",
        "shipper": {"name": "店", "postal_code": "100-0001", "address": "東京都", "phone": "03-0000-0000"}}])))
    assert "my-labels" in cfg.layouts.available("label")
    assert "my-labels" not in available_layouts("label")
    assert cfg.carrier_for_service("宅急便").name == "mine"


def test_a_missing_file_is_one_line_naming_it(tmp_path):
    with pytest.raises(config.ConfigError, match=r"config.toml: no such file \(give one with -c CONFIG\)$"):
        config.load(tmp_path / "config.toml")


def test_a_file_that_is_not_toml_is_one_line_naming_it(tmp_path):
    (tmp_path / "config.toml").write_text("[shop\n", encoding="utf-8")
    with pytest.raises(config.ConfigError, match=r"config.toml: not valid TOML: "):
        config.load(tmp_path / "config.toml")


def test_the_readme_table_is_the_one_the_schema_generates():
    text = configdoc.README.read_text(encoding="utf-8")
    assert configdoc.readme_table(text) == configdoc.markdown_table(), (
        "README.md's configuration table differs from the schema: run `python -m tsunagi.app.configdoc --write`")

"""Reading config.toml: one typed schema, every mistake named with its key, all of them in one run."""
from tsunagi.app.config.errors import ConfigError
from tsunagi.app.config.loader import load
from tsunagi.app.config.mailboxes import ImapEndpoint
from tsunagi.app.config.partners import Carrier, SftpEndpoint, SftpPull, SftpPush, Shipper, Wms
from tsunagi.app.config.schema import ConfigFile
from tsunagi.app.config.shops import OrderCsv, Shop, ShopMail, ShopShipping, StockFeed
from tsunagi.app.config.view import Config
from tsunagi.outbound.settings import AlertSettings, RelaySettings

Alerts = AlertSettings     # the [alerts] table under its old name here

__all__ = ["AlertSettings", "Alerts", "Carrier", "Config", "ConfigError", "ConfigFile", "ImapEndpoint", "OrderCsv", "RelaySettings",
           "SftpEndpoint", "SftpPull", "SftpPush", "Shipper", "Shop", "ShopMail", "ShopShipping", "StockFeed", "Wms",
           "load"]

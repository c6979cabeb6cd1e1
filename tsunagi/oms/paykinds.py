"""Payment kinds and the payment names of the shipped carts that map to them without configuration."""
from __future__ import annotations

PREPAID, COD, POSTPAY, PAY_FIRST = "prepaid", "cod", "postpay", "pay_first"
KINDS = (PREPAID, COD, POSTPAY, PAY_FIRST)

# Rakuten, Yahoo! Shopping, EC-CUBE (and makeshop, futureshop, BASE) as their mails and CSVs name them;
# names are compared as the parsers give them (mail text width-folded), so both bracket widths appear.
_NAMES = {
    PREPAID: ("クレジットカード", "クレジットカード決済", "クレジットカード払い", "クレジット", "カード決済",
              "楽天ペイ", "楽天ペイ(オンライン決済)", "楽天バンク決済", "楽天Edy決済", "PayPay", "PayPay残高払い",
              "PayPay(残高)", "PayPayカード", "Yahoo!ウォレット", "Amazon Pay", "AmazonPay", "Apple Pay",
              "Google Pay", "d払い", "auかんたん決済", "ソフトバンクまとめて支払い", "キャリア決済", "ポイント払い",
              "全額ポイント支払い", "PayPal", "モバイルSuica", "ショッピングクレジット", "セディナショッピングクレジット"),
    COD: ("代金引換", "代金引換え", "代引き", "代引", "代金引換(ヤマト)", "代金引換(佐川)", "代金引換(ゆうパック)",
          "代金引換決済", "着払い(代金引換)", "商品代引"),
    POSTPAY: ("後払い", "後払い決済", "後払い(コンビニ・郵便局・銀行)", "NP後払い", "後払い.com", "atone", "Paidy",
              "Paidy翌月払い", "GMO後払い", "スコア後払い", "楽天後払い", "後払い(コンビニ/郵便局/銀行)"),
    PAY_FIRST: ("銀行振込", "銀行振込(前払い)", "銀行振込み", "銀行振り込み", "銀行振込(前払)", "前払い",
                "郵便振替", "ゆうちょ振替", "ゆうちょ銀行振込", "郵便局振込", "コンビニ決済", "コンビニ決済(前払い)",
                "コンビニ前払い", "コンビニ払い", "コンビニエンスストア決済", "Pay-easy", "Pay-easy(ペイジー)",
                "ペイジー", "ペイジー決済", "Pay-easy決済", "銀行ATM(Pay-easy)", "ネットバンク決済", "楽天銀行振込"),
}


def _both_brackets(name: str) -> tuple[str, ...]:
    full = name.replace("(", "（").replace(")", "）")
    return (name, full) if full != name else (name,)


DEFAULTS: dict[str, str] = {variant: kind for kind, names in _NAMES.items() for name in names
                            for variant in _both_brackets(name)}


def mapping(shop_names: dict[str, str]) -> dict[str, str]:
    """The common names, with the shop's own mapping over them."""
    return DEFAULTS | shop_names


def label_payment(kind: str) -> str:
    """How a carrier's label sees it: only cash on delivery collects; the rest ships prepaid (発払い)."""
    return COD if kind == COD else PREPAID

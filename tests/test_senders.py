"""accept_from entries, read and matched (tsunagi/ingest/senders.py): a pure function of envelope, peer and login."""
from __future__ import annotations

import pytest

from tsunagi.ingest.senders import Rules, Sender, entry

RULES = Rules.parse(["noreply@Rakuten.co.jp", "@mail.example-shop.jp", "192.0.2.0/24", "2001:db8::/32",
                     "auth:forwarder"])


def test_an_envelope_sender_address_matches_whatever_its_case():
    assert RULES.allows(Sender("NOREPLY@rakuten.co.jp", "203.0.113.1"))
    assert not RULES.allows(Sender("other@rakuten.co.jp", "203.0.113.1"))


def test_a_domain_matches_that_domain_exactly_not_its_subdomains_nor_its_parent():
    assert RULES.allows(Sender("order@mail.example-shop.jp", "203.0.113.1"))
    assert not RULES.allows(Sender("order@x.mail.example-shop.jp", "203.0.113.1"))
    assert not RULES.allows(Sender("order@example-shop.jp", "203.0.113.1"))


def test_a_network_matches_peers_inside_it_ipv4_mapped_ones_included():
    assert RULES.allows(Sender("", "192.0.2.200"))
    assert RULES.allows(Sender("", "::ffff:192.0.2.7"))
    assert RULES.allows(Sender("", "2001:db8::25"))
    assert not RULES.allows(Sender("", "192.0.3.1"))


def test_an_auth_entry_matches_only_that_logged_in_user():
    assert RULES.allows(Sender("x@example.com", "203.0.113.1", user="forwarder"))
    assert not RULES.allows(Sender("x@example.com", "203.0.113.1", user="someone"))
    assert not RULES.allows(Sender("x@example.com", "203.0.113.1"))


def test_the_null_sender_matches_no_address_or_domain():
    assert not RULES.allows(Sender("", "203.0.113.1"))


def test_a_refusal_names_the_sender_and_the_peer():
    assert RULES.refusal(Sender("forger@example.com", "203.0.113.1")) == \
        "<forger@example.com> from 203.0.113.1 is not among this shop's accepted senders"
    assert RULES.refusal(Sender("noreply@rakuten.co.jp", "203.0.113.1")) is None


def test_entries_are_normalised():
    assert entry("NoReply@Rakuten.CO.JP") == "noreply@rakuten.co.jp"
    assert entry("@Mail.Example.JP") == "@mail.example.jp"
    assert entry("192.0.2.7") == "192.0.2.7/32"


@pytest.mark.parametrize("bad,says", [
    ("192.0.2.1/24", "not a network"), ("300.1.2.3", "not a network"), ("@nodot", "not a mail domain"),
    ("a b@example.jp", "not a mail address"), ("auth:", "auth: is followed by"), ("rakuten", "give a sender"),
])
def test_a_bad_entry_says_what_is_wrong(bad, says):
    with pytest.raises(ValueError, match=says):
        entry(bad)

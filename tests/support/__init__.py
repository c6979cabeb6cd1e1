"""What the tests build on, one module a job; test modules import from here, never from each other.

configs  the base site config as data, written as TOML; the shops' addresses, products and counts; seed()
daemon   a daemon running in this process (Running) and wait_for()
net      loopback ports: a free one, and whether something listens on one
sites    whole sites a test drives: ShipSite (labels, results, confirmations), MailSite (buyer mails)
sinks    real SMTP servers on loopback that keep, delay, drop or refuse what they are sent
sshd     a real OpenSSH server on loopback, and a relay in front of it that cuts connections
"""

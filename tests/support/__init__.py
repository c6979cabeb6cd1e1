"""What the tests build on, one module a job; test modules import from here, never from each other.

net      loopback ports: a free one, and whether something listens on one
sinks    real SMTP servers on loopback that keep, delay, drop or refuse what they are sent
sshd     a real OpenSSH server on loopback, and a relay in front of it that cuts connections
"""

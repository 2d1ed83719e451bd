"""The event generator: one small function per suspicious action, each naming the rule it should trigger.

Every action is safe: scratch files are created and removed, connections go only to a test host the
generator creates itself (a network namespace on a veth pair, 192.0.2.0/24, a listener inside), and
container actions run in a throw-away container on the local engine.
"""

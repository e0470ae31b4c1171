"""The internal API: read-only JSON over the church data mirrored from PCO, for the church's own
apps, behind API tokens (`pco-pipeline api serve`, bound to 127.0.0.1 by default).

It is a listener of its own, separate from the public webhook receiver: the receiver is the only
thing exposed to the internet, and it serves no church data.
"""

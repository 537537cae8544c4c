"""`qbo-sync demo`: the whole service on one machine with a stand-in CRM and the QBO emulator.

The only package outside app/integrations that speaks HTTP itself: the demo plays the CRM (a
small receiver in `crm.py`, signed events posted from `run.py`) as a real CRM would, from outside
the service. Nothing in the service imports it.
"""

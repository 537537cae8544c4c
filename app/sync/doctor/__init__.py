"""The settings doctor: checks of a connection's QuickBooks company settings against what the
CRM sends, and of the connection's own health, each `ok | warn | fail` with what to do.

`facts.py` gathers what the checks read (QBO's Preferences, CompanyInfo, accounts and tax
codes; the location's recent CRM documents, tokens, webhooks and failures), `checks.py` holds
the rules (pure), `run.py` runs them and stores the result (`doctor_results`).
"""

"""A stateful in-memory stand-in for QuickBooks Online and Intuit OAuth 2.0."""

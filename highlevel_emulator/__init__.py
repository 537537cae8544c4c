"""A local stand-in for HighLevel (LeadConnector): OAuth, v2 API, signed webhooks, control API."""

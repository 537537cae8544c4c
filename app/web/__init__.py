"""The integration card: a server-rendered page the CRM embeds or links to."""

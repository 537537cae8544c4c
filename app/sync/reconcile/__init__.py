"""The reconciliation report: every CRM document of a period beside its QuickBooks document,
with a verdict, and the Re-sync that puts a wrong one right (docs/design.md, "Reconciliation")."""

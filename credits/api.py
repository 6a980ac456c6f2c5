"""REST API for credits (the ledger's endpoints arrive with it)."""

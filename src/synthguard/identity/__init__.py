"""Identity number rules and verification (Provisions Art. 9)."""

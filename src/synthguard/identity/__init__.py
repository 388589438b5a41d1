"""Real-name identity (Provisions Art. 9) and the personal data behind it.

- `numbers`, `uscc`, `regions`: format rules for ID numbers, credit codes, mobiles.
- `vault`: identity and phone numbers as keyed hash + AES-GCM ciphertext + masked form.
- `otp`: one-time codes by SMS; `adapters`: SMS and third-party verifier plug-ins.
- `verification`: the flows that mark an account verified (`Accounts.mark_verified`).
- `services.IdentityServices`: everything wired from configuration; `http.router` and
  `cli.identity_app` expose it. Consent records (Art. 14) are in `synthguard.consent`.
"""

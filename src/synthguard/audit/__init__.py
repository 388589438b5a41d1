"""Tamper-evident audit log of gateway requests (RFC 6962 Merkle tree, C2SP checkpoints).

- `service.Audit`: what the gateway holds (`app.state.audit`): the log, the checkpoint
  publisher, settings and the background task.
- `log.AuditLog`: durable group-committed appends, ingestion of request records,
  proofs, retention. `checkpoint.Checkpointer`: signed checkpoints that never fork.
- `merkle`, `note`, `canonical`: RFC 6962/9162 trees and proofs, C2SP signed notes,
  canonical JSON leaf entries.
- `export` / `verify`: archives for a regulator and the standalone verifier.
- `http.router`, `cli.audit_app`: the endpoints and `synthguard audit`.

Submodules are imported directly: the store registers `models` without pulling in the
rest.
"""

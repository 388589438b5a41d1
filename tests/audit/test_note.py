"""C2SP signed notes and checkpoints: the Go sumdb/note and C2SP spec vectors, key
encodings, and every way a note or key can be wrong."""

from __future__ import annotations

import base64

import pytest

from synthguard.audit.checkpoint import Checkpoint, open_checkpoint
from synthguard.audit.errors import CheckpointError
from synthguard.audit.merkle import EMPTY_ROOT
from synthguard.audit.note import (
    NoteError,
    NoteSigner,
    NoteVerifier,
    key_id,
    open_note,
    parse_note,
)

# golang.org/x/mod/sumdb/note, the reference implementation's documented example.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + ("\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1"
                     "FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
# c2sp.org/signed-note's example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = ("This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv"
             "1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")


def test_signing_reproduces_the_go_reference_note_byte_for_byte() -> None:
    signer = NoteSigner.parse(GO_SKEY)
    assert signer.verifier.encode() == GO_VKEY
    assert signer.encode() == GO_SKEY
    assert signer.sign(GO_TEXT) == GO_NOTE  # Ed25519 is deterministic
    assert open_note(GO_NOTE, NoteVerifier.parse(GO_VKEY)) == GO_TEXT


def test_the_c2sp_example_verifies() -> None:
    verifier = NoteVerifier.parse(SPEC_VKEY)
    assert verifier.key_id.hex() == "530d903a"
    assert open_note(SPEC_NOTE, verifier) == "This is an example message.\n"


def test_key_id_is_sha256_of_name_newline_alg_key() -> None:
    import hashlib

    verifier = NoteVerifier.parse(GO_VKEY)
    assert key_id("PeterNeumann", verifier.public_key) == hashlib.sha256(
        b"PeterNeumann\n\x01" + verifier.public_key).digest()[:4]


def test_every_mangled_key_is_refused() -> None:
    for key, parse in ((GO_VKEY, NoteVerifier.parse), (GO_SKEY, NoteSigner.parse)):
        for cut in range(1, len(key)):
            with pytest.raises(NoteError):
                parse(key[:cut])  # type: ignore[operator]
        for at in range(len(key)):
            changed = key[:at] + chr(ord(key[at]) + 1) + key[at + 1:]
            with pytest.raises(NoteError):
                parse(changed)  # type: ignore[operator]


def test_other_signatures_are_ignored_and_the_right_one_found() -> None:
    witness = NoteSigner("witness.example", bytes(32))
    cosigned = witness.sign(GO_TEXT).replace(GO_TEXT + "\n", GO_NOTE, 1)
    assert len(parse_note(cosigned).signatures) == 2
    assert open_note(cosigned, NoteVerifier.parse(GO_VKEY)) == GO_TEXT
    assert open_note(cosigned, witness.verifier) == GO_TEXT


def test_notes_signed_by_another_key_or_altered_are_rejected() -> None:
    impostor = NoteSigner("PeterNeumann", bytes(32))  # same name, other key
    with pytest.raises(NoteError, match="not signed"):
        open_note(impostor.sign(GO_TEXT), NoteVerifier.parse(GO_VKEY))
    with pytest.raises(NoteError, match="not signed"):
        open_note(GO_NOTE.replace("problem is", "problem was"), NoteVerifier.parse(GO_VKEY))


@pytest.mark.parametrize("note", [
    "",
    "no signature block\n",
    GO_TEXT + "\n",
    GO_TEXT + "\n- PeterNeumann AAAA\n",  # hyphen, not an em dash
    GO_TEXT + "\n\u2014 PeterNeumann not*base64\n",
    GO_TEXT + "\n\u2014 PeterNeumann AAAA\n",  # shorter than a key id
    GO_TEXT + "\n\u2014 Peter Neumann AAAAAAAA\n",
    GO_NOTE.rstrip("\n"),
    GO_TEXT + "\n" + "\u2014 x AAAAAAAA\n" * 101,
])
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(NoteError):
        open_note(note, NoteVerifier.parse(GO_VKEY))


@pytest.mark.parametrize("text", ["no newline", "blank\n\nline\n", "bell\x07\n"])
def test_only_well_formed_text_is_signed(text: str) -> None:
    with pytest.raises(NoteError):
        NoteSigner.parse(GO_SKEY).sign(text)


def test_a_signed_checkpoint_round_trips() -> None:
    signer = NoteSigner("log.example/a", bytes(range(32)))
    checkpoint = Checkpoint("log.example/a", 12345, bytes(range(32)))
    note = signer.sign(checkpoint.body())
    root = base64.b64encode(bytes(range(32))).decode()
    assert note.startswith(f"log.example/a\n12345\n{root}\n\n")
    assert open_checkpoint(note, signer.verifier, "log.example/a") == checkpoint
    with pytest.raises(CheckpointError, match="for log"):
        open_checkpoint(note, signer.verifier, "log.example/b")
    with pytest.raises(CheckpointError, match="not signed"):
        open_checkpoint(note, NoteSigner("log.example/a", bytes(32)).verifier)


@pytest.mark.parametrize("body", [
    "origin\n12\n",
    "\n12\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
    "origin\n012\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
    "origin\n-1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
    "origin\n12\n" + base64.b64encode(b"short").decode() + "\n",
    "origin\n12\n!!!!\n",
    "origin\n12\n" + base64.b64encode(EMPTY_ROOT).decode(),
])
def test_malformed_checkpoint_bodies_are_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(body)


def test_checkpoint_extension_lines_are_allowed() -> None:
    body = "origin\n3\n" + base64.b64encode(EMPTY_ROOT).decode() + "\nextension\n"
    assert Checkpoint.parse(body).size == 3

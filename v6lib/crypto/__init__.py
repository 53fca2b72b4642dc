"""End-to-end encryption of task inputs and results: RSA key handling and sealed envelopes."""

from __future__ import annotations

from v6lib.crypto.binding import Binding as Binding
from v6lib.crypto.binding import TaskBinding as TaskBinding
from v6lib.crypto.envelope import is_envelope as is_envelope
from v6lib.crypto.envelope import open_sealed as open_sealed
from v6lib.crypto.envelope import open_stream as open_stream
from v6lib.crypto.envelope import seal as seal
from v6lib.crypto.envelope import seal_stream as seal_stream
from v6lib.crypto.keys import RSAPrivateKey as RSAPrivateKey
from v6lib.crypto.keys import RSAPublicKey as RSAPublicKey
from v6lib.crypto.keys import fingerprint as fingerprint
from v6lib.crypto.keys import generate_private_key as generate_private_key
from v6lib.crypto.keys import load_private_key as load_private_key
from v6lib.crypto.keys import load_public_key_pem as load_public_key_pem
from v6lib.crypto.keys import public_key_b64 as public_key_b64
from v6lib.crypto.keys import public_key_pem as public_key_pem
from v6lib.crypto.keys import save_private_key as save_private_key
from v6lib.crypto.shape import envelope_shape_problem as envelope_shape_problem

__all__ = [
    "Binding",
    "RSAPrivateKey",
    "RSAPublicKey",
    "TaskBinding",
    "envelope_shape_problem",
    "fingerprint",
    "generate_private_key",
    "is_envelope",
    "load_private_key",
    "load_public_key_pem",
    "open_sealed",
    "open_stream",
    "public_key_b64",
    "public_key_pem",
    "save_private_key",
    "seal",
    "seal_stream",
]

"""The platforms' signature and encryption schemes, written from the spec sheet (docs/im-platforms.md).

- :class:`WXBizMsgCrypt`: WeCom callbacks (apps and AI bots) and DingTalk HTTP event subscriptions.
- :class:`FeishuCipher`: Feishu event subscription v2.0 (AES-256-CBC body, SHA-256 request signature).
- :func:`dingtalk_robot_sign`: the DingTalk robot callback's header signature.

Every comparison of a signature is constant-time. Failures raise the connector errors of
:mod:`connectors.base`, which name the platform and never the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors.base import DecryptionFailed, ReceiverMismatch, SignatureInvalid


def _aes_cbc(cipher: Cipher, data: bytes, *, encrypt: bool) -> bytes:
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(data) + op.finalize()


def _pad(data: bytes, block: int) -> bytes:
    n = block - len(data) % block  # a whole block when already aligned
    return data + bytes([n]) * n


def _unpad(data: bytes, block: int, platform: str) -> bytes:
    n = data[-1] if data else 0
    if not 1 <= n <= block or n > len(data) or data[-n:] != bytes([n]) * n:
        raise DecryptionFailed(platform, "payload does not decrypt with this bot's key (bad padding)")
    return data[:-n]


def _b64decode(text: str, platform: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionFailed(platform, "encrypted payload is not valid base64") from None


def same(a: str, b: str) -> bool:
    """Constant-time string equality (signatures)."""
    return hmac.compare_digest(a.encode(), b.encode())


class WXBizMsgCrypt:
    """WeCom's message crypto: SHA-1 signature over sorted parts, AES-256-CBC with 32-byte PKCS#7.

    ``receive_id`` is the corp id for self-built apps, ``""`` for WeCom AI bots, and the suite/app
    key for DingTalk event subscriptions. Decryption checks it, so a genuine payload meant for
    another app is refused with :class:`ReceiverMismatch`.
    """

    BLOCK = 32

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str, *, platform: str = "wecom"):
        self.platform = platform
        try:
            self.key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            self.key = b""
        if len(self.key) != 32:
            raise ValueError(f"{platform}: EncodingAESKey must be 43 base64 characters (32 bytes once decoded)")
        self.token = token
        self.receive_id = receive_id
        self._cipher = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))  # fixed IV: built once

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        parts = sorted([self.token, str(timestamp), str(nonce), encrypt])
        return hashlib.sha1("".join(parts).encode()).hexdigest()

    def verify(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        if not signature or not same(self.signature(timestamp, nonce, encrypt), signature):
            raise SignatureInvalid(self.platform, "msg_signature does not match this bot's token")

    def decrypt(self, encrypt: str) -> str:
        """The plaintext message; raises when the key or the receive id is wrong."""
        data = _b64decode(encrypt, self.platform)
        if not data or len(data) % 16:
            raise DecryptionFailed(self.platform, "encrypted payload has a wrong length")
        plain = _unpad(_aes_cbc(self._cipher, data, encrypt=False), self.BLOCK, self.platform)
        if len(plain) < 20:
            raise DecryptionFailed(self.platform, "decrypted payload is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise DecryptionFailed(self.platform, "decrypted payload has a wrong length field")
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise ReceiverMismatch(self.platform, "payload is addressed to another receive id (corp id / bot)")
        try:
            return message.decode()
        except UnicodeDecodeError:
            raise DecryptionFailed(self.platform, "decrypted payload is not UTF-8") from None

    def verify_and_decrypt(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        self.verify(signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def encrypt(self, message: str, *, random_prefix: bytes | None = None) -> str:
        """Base64 ciphertext of ``message`` for this receive id (replies, and tests)."""
        body = message.encode()
        prefix = random_prefix if random_prefix is not None else os.urandom(16)
        plain = prefix + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        return base64.b64encode(_aes_cbc(self._cipher, _pad(plain, self.BLOCK), encrypt=True)).decode()

    def seal(self, message: str, timestamp: str, nonce: str) -> tuple[str, str]:
        """``(encrypt, msg_signature)`` for a reply."""
        encrypt = self.encrypt(message)
        return encrypt, self.signature(timestamp, nonce, encrypt)


class FeishuCipher:
    """Feishu event subscription crypto for one Encrypt Key.

    Body: AES-256-CBC, key ``SHA256(encrypt_key)``, IV the first 16 bytes, PKCS#7 (16).
    Signature: ``sha256_hex((timestamp + nonce + encrypt_key).encode() + raw_body)`` (not an HMAC).
    """

    platform = "feishu"

    def __init__(self, encrypt_key: str):
        self.encrypt_key = encrypt_key
        self.key = hashlib.sha256(encrypt_key.encode()).digest()
        self._aes = algorithms.AES(self.key)

    def decrypt(self, encrypt: str) -> str:
        data = _b64decode(encrypt, self.platform)
        if len(data) < 32 or len(data) % 16:
            raise DecryptionFailed(self.platform, "encrypted payload has a wrong length")
        plain = _unpad(_aes_cbc(Cipher(self._aes, modes.CBC(data[:16])), data[16:], encrypt=False), 16, self.platform)
        try:
            return plain.decode()
        except UnicodeDecodeError:
            raise DecryptionFailed(self.platform, "payload does not decrypt with this app's Encrypt Key") from None

    def encrypt(self, message: str, *, iv: bytes | None = None) -> str:
        iv = iv if iv is not None else os.urandom(16)
        sealed = _aes_cbc(Cipher(self._aes, modes.CBC(iv)), _pad(message.encode(), 16), encrypt=True)
        return base64.b64encode(iv + sealed).decode()

    def signature(self, timestamp: str, nonce: str, body: bytes) -> str:
        return hashlib.sha256((timestamp + nonce + self.encrypt_key).encode() + body).hexdigest()

    def verify(self, signature: str, timestamp: str, nonce: str, body: bytes) -> None:
        if not signature or not same(self.signature(timestamp, nonce, body), signature):
            raise SignatureInvalid(self.platform, "X-Lark-Signature does not match this app's Encrypt Key")


def dingtalk_robot_sign(timestamp: str, app_secret: str) -> str:
    """``base64(HMAC-SHA256(app_secret, f"{timestamp}\\n{app_secret}"))``: the robot callback's ``sign``."""
    digest = hmac.new(app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()

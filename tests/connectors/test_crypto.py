"""The platforms' crypto, checked against every official vector and against wechatpy as the other side."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from connectors.base import DecryptionFailed, ReceiverMismatch, SignatureInvalid
from connectors.crypto import FeishuCipher, WXBizMsgCrypt, dingtalk_robot_sign

# WeCom official sample (docs/im-platforms.md)
WECOM_TOKEN = "QDG6eK"
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WECOM_CORP_ID = "wx5823bf96d3bd56c7"
WECOM_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="

# DingTalk event subscription official vector
DING_TOKEN = "mryue"
DING_AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"
DING_KEY = "ding6ccabc44d2c8d38b"
DING_ENCRYPT = (
    "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3"
)


def wecom() -> WXBizMsgCrypt:
    return WXBizMsgCrypt(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)


def test_wecom_official_url_check_vector_verifies_and_decrypts():
    crypt = wecom()
    assert crypt.signature("1409659589", "263014780", WECOM_ECHOSTR) == "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    plain = crypt.verify_and_decrypt("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", WECOM_ECHOSTR)
    assert plain == "1616140317555161061"


def test_dingtalk_event_vector_signature_and_plaintext():
    crypt = WXBizMsgCrypt(DING_TOKEN, DING_AES_KEY, DING_KEY, platform="dingtalk")
    assert crypt.signature("1608001896814", "WL4PK6yA", DING_ENCRYPT) == "03044561471240d4a14bb09372dfcfd4fd0e40cb"
    assert crypt.decrypt(DING_ENCRYPT) == '{"EventType":"check_url"}'


def test_feishu_official_vector_decrypts_to_hello_world():
    assert FeishuCipher("test key").decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == "hello world"


def test_feishu_signature_is_plain_sha256_over_timestamp_nonce_key_and_raw_body():
    body = b'{"encrypt":"abc"}'
    expected = hashlib.sha256(b"1700000000" + b"n0nce" + b"test key" + body).hexdigest()
    cipher = FeishuCipher("test key")
    assert cipher.signature("1700000000", "n0nce", body) == expected
    cipher.verify(expected, "1700000000", "n0nce", body)
    with pytest.raises(SignatureInvalid):
        cipher.verify(expected, "1700000000", "n0nce", body + b" ")


def test_feishu_round_trip_and_wrong_key_is_refused():
    sealed = FeishuCipher("key A").encrypt('{"type":"url_verification"}')
    assert FeishuCipher("key A").decrypt(sealed) == '{"type":"url_verification"}'
    with pytest.raises(DecryptionFailed):
        FeishuCipher("key B").decrypt(sealed)


def test_wechatpy_encrypted_message_decrypts_here_and_ours_decrypts_in_wechatpy():
    peer = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    xml = peer.encrypt_message("<xml><Content>你好</Content></xml>", "nonce1", "1700000000")
    encrypt = xml.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = xml.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert wecom().verify_and_decrypt(signature, "1700000000", "nonce1", encrypt) == "<xml><Content>你好</Content></xml>"

    ours, our_signature = wecom().seal("退款多久到账？", "1700000001", "nonce2")
    assert peer.decrypt_message({"Encrypt": ours}, our_signature, "1700000001", "nonce2") == "退款多久到账？"


@pytest.mark.parametrize("size", [0, 1, 11, 12, 43, 44, 1000])
def test_wecom_padding_is_to_32_byte_blocks_including_a_whole_block_when_aligned(size):
    message = "x" * size
    # 16 random + 4 length + message + receive id (18): aligned to 32 when size is 12 or 44
    raw = base64.b64decode(wecom().encrypt(message))
    plain_len = 16 + 4 + size + len(WECOM_CORP_ID)
    assert len(raw) == (plain_len // 32 + 1) * 32
    assert wecom().decrypt(wecom().encrypt(message)) == message


def test_wecom_forged_signature_is_refused():
    with pytest.raises(SignatureInvalid):
        wecom().verify("0" * 40, "1409659589", "263014780", WECOM_ECHOSTR)


def test_wecom_wrong_aes_key_is_refused_as_a_decryption_failure():
    other = WXBizMsgCrypt(WECOM_TOKEN, "A" * 43, WECOM_CORP_ID)
    with pytest.raises(DecryptionFailed):
        other.decrypt(WECOM_ECHOSTR)


def test_wecom_payload_for_another_corp_is_refused_as_receiver_mismatch():
    other = WXBizMsgCrypt(WECOM_TOKEN, WECOM_AES_KEY, "ww-other-corp")
    with pytest.raises(ReceiverMismatch):
        other.decrypt(WECOM_ECHOSTR)


def test_ai_bot_receive_id_is_empty_and_checked():
    bot = WXBizMsgCrypt(WECOM_TOKEN, WECOM_AES_KEY, "")
    assert bot.decrypt(bot.encrypt('{"msgid":"1"}')) == '{"msgid":"1"}'
    with pytest.raises(ReceiverMismatch):
        bot.decrypt(WECOM_ECHOSTR)  # sealed for a corp id, not for an AI bot


def test_garbage_ciphertext_is_a_decryption_failure_not_a_crash():
    for junk in ["not base64!!", base64.b64encode(b"short").decode(), base64.b64encode(b"\0" * 32).decode()]:
        with pytest.raises(DecryptionFailed):
            wecom().decrypt(junk)
        with pytest.raises(DecryptionFailed):
            FeishuCipher("k").decrypt(junk)


def test_encoding_aes_key_of_the_wrong_length_is_a_configuration_error():
    with pytest.raises(ValueError, match="43 base64 characters"):
        WXBizMsgCrypt("t", "tooshort", "")


def test_dingtalk_robot_sign_is_base64_hmac_sha256_of_timestamp_newline_secret():
    secret, ts = "this-is-secret", "1700000000000"
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), "sha256").digest()).decode()
    assert dingtalk_robot_sign(ts, secret) == expected
    assert dingtalk_robot_sign(ts, "other") != expected

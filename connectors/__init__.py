"""IM platform connectors (DingTalk, Feishu, WeCom) and the message gateway."""

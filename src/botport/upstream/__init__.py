"""The Coze v3 client: the only code in botport that knows Coze's wire format."""

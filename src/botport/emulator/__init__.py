"""An offline Coze v3 emulator. It writes Coze's wire bytes itself and never imports botport.upstream."""

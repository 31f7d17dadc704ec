-- Sample registry for the detection oversight-unknown-token-callback: callbacks for tokens the registry never issued (fires).
-- Load it into a new SQLite file and export it like any registry (see README.md in this folder):
--   sqlite3 sample.sqlite < oversight-unknown-token-callback.fires.sql
--   oversight siem export --db sample.sqlite --registry-id sample ...
-- Move its times up to now first (README.md, "Shift the samples to now") so scheduled rules see the events.
--
-- Fires once per unknown-token callback (three: pixel, DNS, OCSP); the callback of merger-term-sheet.docx
-- belongs to a registered file and is not alerted here.
-- The table has the registry's columns without their NOT NULL constraints (and a `note` column no export reads).

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT,
    file_id TEXT,
    recipient_id TEXT,
    issuer_id TEXT,
    kind TEXT,
    source_ip TEXT,
    user_agent TEXT,
    extra TEXT,
    timestamp INTEGER,
    qualified_timestamp TEXT,
    tlog_index INTEGER,
    note TEXT
);
-- A registered file calls back (not this rule) ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('30f0242a4e67ac5036110157bb99d18c', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'http_img', '203.0.113.45', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)', '{}', 1795164900, '2026-11-20T08:55:00Z', 5001);
-- ... and a token the registry never issued: a forged pixel behind a proxy ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('910771f21c9e210f1b7fb6367606a067', NULL, NULL, NULL, 'http_img', 'unknown', 'OversightViewer/1.4.2 (macOS 15.1; arm64; J' || char(195, 188) || 'rgen' || char(226, 128, 153) || 's MacBook)', '{}', 1795165080, NULL, 5002);
-- ... and a DNS lookup of an unknown token name, with no client address.
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('054da6740102087cbb660b2e0046a0a9', NULL, NULL, NULL, 'dns', NULL, '', '{"qtype": "A", "qname": "054da6740102087c.t.oversight.example"}', 1795165140, NULL, 5003);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('85eec0f0831198869dec0e31efb1e6bf', NULL, NULL, NULL, 'ocsp', '192.0.2.77', 'Microsoft-CryptoAPI/10.0', '{}', 1795165200, NULL, 5004);

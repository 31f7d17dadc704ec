-- Sample registry for the detection oversight-unknown-token-callback: callbacks of registered files only (stays quiet).
-- Load it into a new SQLite file and export it like any registry (see README.md in this folder):
--   sqlite3 sample.sqlite < oversight-unknown-token-callback.quiet.sql
--   oversight siem export --db sample.sqlite --registry-id sample ...
-- Move its times up to now first (README.md, "Shift the samples to now") so scheduled rules see the events.
--
-- Stays quiet: every callback names its file, including those from 'unknown' and from no address.
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
-- Every callback belongs to a registered file, whatever its address: a real one ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('30f0242a4e67ac5036110157bb99d18c', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'http_img', '203.0.113.45', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)', '{}', 1795164900, '2026-11-20T08:55:00Z', 5001);
-- ... 'unknown' ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('13685a89dd975c4caae14cb1e88f2518', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'ocsp', 'unknown', 'Microsoft-CryptoAPI/10.0', '{}', 1795165080, '2026-11-20T08:58:00Z', 5002);
-- ... or none at all (DNS).
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('b1ee3da01e94728bca58227463bc6081', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'dns', NULL, '', '{"qtype": "A", "qname": "b1ee3da01e94728b.t.oversight.example"}', 1795165140, '2026-11-20T08:59:00Z', 5003);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('6bcc686471825dc3768f88a9b4bab7c0', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'license', '203.0.113.45', 'OversightViewer/1.4.2 (macOS 15.1; arm64; J' || char(195, 188) || 'rgen' || char(226, 128, 153) || 's MacBook)', '{}', 1795165200, '2026-11-20T09:00:00Z', 5004);

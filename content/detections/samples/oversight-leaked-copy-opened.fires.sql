-- Sample registry for the detection oversight-leaked-copy-opened: a leaked copy is opened (fires).
-- Load it into a new SQLite file and export it like any registry (see README.md in this folder):
--   sqlite3 sample.sqlite < oversight-leaked-copy-opened.fires.sql
--   oversight siem export --db sample.sqlite --registry-id sample ...
-- Move its times up to now first (README.md, "Shift the samples to now") so scheduled rules see the events.
--
-- Fires: one alert per callback of merger-term-sheet.docx (four callbacks, DNS, pixel, OCSP and licence
-- check), all within the last three minutes. The unknown-token probe has no file and is not alerted here.
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
-- The leaked copy is opened: its DNS beacon (a resolver that gave no client address, so no source IP) ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('b1ee3da01e94728bca58227463bc6081', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'dns', NULL, '', '{"qtype": "A", "qname": "b1ee3da01e94728b.t.oversight.example"}', 1795165030, '2026-11-20T08:57:10Z', 5001);
-- ... its image beacon ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('30f0242a4e67ac5036110157bb99d18c', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'http_img', '203.0.113.45', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)', '{}', 1795165032, '2026-11-20T08:57:12Z', 5002);
-- ... and its OCSP beacon, through a proxy that hid the caller (the registry stores 'unknown').
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('13685a89dd975c4caae14cb1e88f2518', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'ocsp', 'unknown', 'Microsoft-CryptoAPI/10.0', '{}', 1795165060, '2026-11-20T08:57:40Z', 5003);
-- A probe for a token the registry never issued (no file): not this rule.
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('e746b160d649e4d0bcff7155dcb8087a', NULL, NULL, NULL, 'http_img', '192.0.2.77', 'curl/8.5.0', '{}', 1795165140, NULL, 5005);
-- The viewer checks the licence; its user agent arrives Latin-1 garbled, with C1 controls.
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('6bcc686471825dc3768f88a9b4bab7c0', 'f-2a592b6572f57adc', 'alice@partner.example', 'legal@acme.example', 'license', '203.0.113.45', 'OversightViewer/1.4.2 (macOS 15.1; arm64; J' || char(195, 188) || 'rgen' || char(226, 128, 153) || 's MacBook)', '{}', 1795165200, '2026-11-20T09:00:00Z', 5004);

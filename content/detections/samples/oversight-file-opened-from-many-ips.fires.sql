-- Sample registry for the detection oversight-file-opened-from-many-ips: one file opened from 3 addresses in 6 hours (fires).
-- Load it into a new SQLite file and export it like any registry (see README.md in this folder):
--   sqlite3 sample.sqlite < oversight-file-opened-from-many-ips.fires.sql
--   oversight siem export --db sample.sqlite --registry-id sample ...
-- Move its times up to now first (README.md, "Shift the samples to now") so scheduled rules see the events.
--
-- Fires once, for acquisition-memo.pdf: 198.51.100.23, 203.0.113.77 and 2001:db8:4f1a::1c3 within six hours.
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
-- acquisition-memo.pdf is opened from three addresses within six hours ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('5a61b0e5e49e9c2cb79d5133d6b0e685', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'http_img', '198.51.100.23', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)', '{}', 1795143600, '2026-11-20T03:00:00Z', 5001);
-- (a DNS callback with no client address counts for no address)
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('0ffd36729daf4de00147117e8d35b156', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'dns', NULL, '', '{"qtype": "A", "qname": "0ffd36729daf4de0.t.oversight.example"}', 1795143601, '2026-11-20T03:00:01Z', 5002);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('4eb6fa45017cdf51b4141f8df0305ad3', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'ocsp', '203.0.113.77', 'Microsoft-CryptoAPI/10.0', '{}', 1795158000, '2026-11-20T07:00:00Z', 5003);
-- ('unknown' is no address either)
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('5a61b0e5e49e9c2cb79d5133d6b0e685', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'http_img', 'unknown', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', '{}', 1795158005, '2026-11-20T07:00:05Z', 5004);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('f2accce71beeff63ab754498c9979b0a', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'license', '2001:db8:4f1a::1c3', 'OversightViewer/1.4.2 (macOS 15.1; arm64; J' || char(195, 188) || 'rgen' || char(226, 128, 153) || 's MacBook)', '{}', 1795165200, '2026-11-20T09:00:00Z', 5005);

-- Sample registry for the detection oversight-first-callback-for-file: a file's first callback ever (fires).
-- Load it into a new SQLite file and export it like any registry (see README.md in this folder):
--   sqlite3 sample.sqlite < oversight-first-callback-for-file.fires.sql
--   oversight siem export --db sample.sqlite --registry-id sample ...
-- Move its times up to now first (README.md, "Shift the samples to now") so scheduled rules see the events.
--
-- Fires once, for source-code-escrow.pdf: its first callback (the DNS one 90 seconds before the end). The
-- file pricing-2027.xlsx calls back now too, but it was seen 30 hours earlier. The first 2 rows are that history:
-- for rules that go by arrival time, export them first and the rest more than an hour later (README.md, "Export it").
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
-- pricing-2027.xlsx was first opened 30 hours ago ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('0d56e368ad5a1453211da7c88c60f99a', 'f-5d8f162f6a6ca06a', 'bob@lawfirm.example', 'legal@acme.example', 'http_img', '198.51.100.23', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', '{}', 1795057200, '2026-11-19T03:00:00Z', 5001);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('30efe9944b6414a157ee841556149987', 'f-5d8f162f6a6ca06a', 'bob@lawfirm.example', 'legal@acme.example', 'dns', '198.51.100.53', '', '{"qtype": "A", "qname": "30efe9944b6414a1.t.oversight.example"}', 1795057201, '2026-11-19T03:00:01Z', 5002);
-- ... and again now: not a first callback.
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('0d56e368ad5a1453211da7c88c60f99a', 'f-5d8f162f6a6ca06a', 'bob@lawfirm.example', 'legal@acme.example', 'http_img', '198.51.100.23', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', '{}', 1795164960, '2026-11-20T08:56:00Z', 5003);
-- source-code-escrow.pdf calls back for the first time ever (DNS first, with no client address) ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('dd65a9d5bd9d64d38b9ee7cda90c9312', 'f-6f3fa5b91857f9ae', 'dave@contractor.example', 'security@acme.example', 'dns', NULL, '', '{"qtype": "A", "qname": "dd65a9d5bd9d64d3.t.oversight.example"}', 1795165110, '2026-11-20T08:58:30Z', 5004);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('25ba6e3c32861eab53f150e4c17eb309', 'f-6f3fa5b91857f9ae', 'dave@contractor.example', 'security@acme.example', 'http_img', '2001:db8:4f1a::1c3', 'OversightViewer/1.4.2 (macOS 15.1; arm64; J' || char(195, 188) || 'rgen' || char(226, 128, 153) || 's MacBook)', '{}', 1795165112, '2026-11-20T08:58:32Z', 5005);
-- An unknown token (no file) is not a first callback for a file.
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('e28bd807c64fdfcc1e9fa3a39029fbb0', NULL, NULL, NULL, 'http_img', '192.0.2.77', 'curl/8.5.0', '{}', 1795165170, NULL, 5007);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('1e190b45e5f93de0343ca22b4b612d61', 'f-6f3fa5b91857f9ae', 'dave@contractor.example', 'security@acme.example', 'ocsp', 'unknown', 'Microsoft-CryptoAPI/10.0', '{}', 1795165200, '2026-11-20T09:00:00Z', 5006);

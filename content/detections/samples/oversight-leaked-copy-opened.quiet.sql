-- Sample registry for the detection oversight-leaked-copy-opened: callbacks, but none for a registered file (stays quiet).
-- Load it into a new SQLite file and export it like any registry (see README.md in this folder):
--   sqlite3 sample.sqlite < oversight-leaked-copy-opened.quiet.sql
--   oversight siem export --db sample.sqlite --registry-id sample ...
-- Move its times up to now first (README.md, "Shift the samples to now") so scheduled rules see the events.
--
-- Stays quiet: every callback is for a token the registry does not know, so no event has a file_id (NULL, or
-- the empty string in the last row). The unknown-token rule fires on this sample instead.
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
-- Callbacks for tokens the registry never issued: file_id NULL ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('cc4738524a44a62d05f65a7bf93d012b', NULL, NULL, NULL, 'http_img', '192.0.2.77', 'curl/8.5.0', '{}', 1795165000, NULL, 5001);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('73ea40a590d070b03e4f1f598750c65d', NULL, NULL, NULL, 'dns', NULL, '', '{"qtype": "A", "qname": "73ea40a590d070b0.t.oversight.example"}', 1795165050, NULL, 5002);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('dba55bc5215eb1e3edd3b2102eccfaa1', NULL, NULL, NULL, 'ocsp', 'unknown', 'Microsoft-CryptoAPI/10.0', '{}', 1795165080, NULL, 5003);
-- ... or the empty string, which the records leave out just like NULL.
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('8909a2b61f0d7cd01a3ab27c11e39aaf', '', '', '', 'http_img', '192.0.2.77', 'python-requests/2.32.3', '{}', 1795165200, NULL, 5004);

-- Sample registry for the detection oversight-file-opened-from-many-ips: one file from 2 addresses in 24 hours (stays quiet).
-- Load it into a new SQLite file and export it like any registry (see README.md in this folder):
--   sqlite3 sample.sqlite < oversight-file-opened-from-many-ips.quiet.sql
--   oversight siem export --db sample.sqlite --registry-id sample ...
-- Move its times up to now first (README.md, "Shift the samples to now") so scheduled rules see the events.
--
-- Stays quiet: acquisition-memo.pdf calls back from two addresses only (198.51.100.23 and 203.0.113.77); the
-- third address opened another file, three addresses probed a token the registry does not know (no file), and
-- 'unknown' and missing addresses do not count.
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
-- Within 24 hours: two addresses, many callbacks ...
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('5a61b0e5e49e9c2cb79d5133d6b0e685', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'http_img', '198.51.100.23', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)', '{}', 1795147200, '2026-11-20T04:00:00Z', 5002);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('5a61b0e5e49e9c2cb79d5133d6b0e685', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'http_img', '198.51.100.23', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)', '{}', 1795147800, '2026-11-20T04:10:00Z', 5003);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('5a61b0e5e49e9c2cb79d5133d6b0e685', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'http_img', '198.51.100.23', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)', '{}', 1795148400, '2026-11-20T04:20:00Z', 5004);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('5a61b0e5e49e9c2cb79d5133d6b0e685', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'http_img', '198.51.100.23', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)', '{}', 1795149000, '2026-11-20T04:30:00Z', 5005);
-- A third address, but for another file: addresses are counted per file.
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('0d56e368ad5a1453211da7c88c60f99a', 'f-5d8f162f6a6ca06a', 'bob@lawfirm.example', 'legal@acme.example', 'http_img', '192.0.2.31', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', '{}', 1795150800, '2026-11-20T05:00:00Z', 5001);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('4eb6fa45017cdf51b4141f8df0305ad3', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'ocsp', '203.0.113.77', 'Microsoft-CryptoAPI/10.0', '{}', 1795154400, '2026-11-20T06:00:00Z', 5006);
-- ... plus callbacks with no usable address ('unknown', and DNS without a client address).
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('5a61b0e5e49e9c2cb79d5133d6b0e685', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'http_img', 'unknown', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', '{}', 1795154401, '2026-11-20T06:00:01Z', 5007);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('0ffd36729daf4de00147117e8d35b156', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'dns', NULL, '', '{"qtype": "A", "qname": "0ffd36729daf4de0.t.oversight.example"}', 1795154402, '2026-11-20T06:00:02Z', 5008);
-- Three addresses probing an unknown token: no file, so not counted.
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('4916c4bfd909881f329844d5735d6774', NULL, NULL, NULL, 'http_img', '192.0.2.10', 'zgrab/0.x', '{}', 1795163400, NULL, 5010);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('4583a523934cf52850035f1d1ef1f238', NULL, NULL, NULL, 'http_img', '192.0.2.11', 'zgrab/0.x', '{}', 1795163460, NULL, 5011);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('8cf8ccda504121a34d76103a96036fc7', NULL, NULL, NULL, 'http_img', '192.0.2.12', 'zgrab/0.x', '{}', 1795163520, NULL, 5012);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('0ffd36729daf4de00147117e8d35b156', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'dns', NULL, '', '{"qtype": "A", "qname": "0ffd36729daf4de0.t.oversight.example"}', 1795164600, '2026-11-20T08:50:00Z', 5009);
INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES ('f2accce71beeff63ab754498c9979b0a', 'f-c0cda491e0970068', 'alice@partner.example', 'legal@acme.example', 'license', '198.51.100.23', 'OversightViewer/1.4.2 (macOS 15.1; arm64; J' || char(195, 188) || 'rgen' || char(226, 128, 153) || 's MacBook)', '{}', 1795165200, '2026-11-20T09:00:00Z', 5013);

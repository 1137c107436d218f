-- The schema of the shared backend of pam_helpdesk_license, version 1
-- (doc/BACKEND.md).  Applied by "helpdesk-licensed --migrate", in one
-- transaction, to an empty database.
CREATE TABLE hl_schema (version integer NOT NULL);
-- The rows 'runtime' and 'durable': a writer of a space locks its row.
CREATE TABLE hl_space  (space text PRIMARY KEY);
CREATE TABLE hl_record (space text NOT NULL REFERENCES hl_space, key bytea NOT NULL, value bytea NOT NULL, PRIMARY KEY (space, key));
CREATE TABLE hl_host   (host text PRIMARY KEY, boot_id text NOT NULL, heartbeat timestamptz NOT NULL);
INSERT INTO hl_space (space) VALUES ('runtime'), ('durable');
INSERT INTO hl_schema (version) VALUES (1);

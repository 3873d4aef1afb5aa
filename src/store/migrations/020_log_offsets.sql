-- Where each log input stopped reading, so a restart resumes with no line lost and none read twice.
-- A file is known by its device and inode (file_id "dev:ino") and by a hash of its first bytes (fp_hash over
-- fp_len bytes), which tells a reused inode or a truncated-and-rewritten file from the one we were reading.
-- journald inputs keep their journal cursor instead of a byte offset.

CREATE TABLE log_offsets (
  input       text        NOT NULL,
  file_id     text        NOT NULL,
  path        text        NOT NULL,
  fp_len      integer     NOT NULL DEFAULT 0,
  fp_hash     text        NOT NULL DEFAULT '',
  byte_offset bigint      NOT NULL DEFAULT 0,
  cursor      text,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (input, file_id)
);

-- First start of each input: files found then may start at their end (start_at), files found later start at 0.
CREATE TABLE log_inputs (
  input            text        PRIMARY KEY,
  first_started_at timestamptz NOT NULL
);

-- Users and their dates of birth (ISO 8601 text).
CREATE TABLE IF NOT EXISTS users (
    username      TEXT PRIMARY KEY NOT NULL,
    date_of_birth TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

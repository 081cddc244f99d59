-- Users and their dates of birth.
CREATE TABLE IF NOT EXISTS users (
    username      VARCHAR(64) PRIMARY KEY,
    date_of_birth DATE        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

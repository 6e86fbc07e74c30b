-- Runs once when the pgvector container initialises its volume: the server's login role.
-- It may only become the reader roles (granted by `zava db grant-login zava_app` after the
-- first migration creates that role); it owns nothing and has no privileges of its own.
CREATE ROLE zava_app LOGIN PASSWORD 'zava_app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
GRANT CONNECT ON DATABASE zava TO zava_app;

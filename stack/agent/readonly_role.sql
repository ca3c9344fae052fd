-- A SELECT-only role for the agent (`stack agent grants --target snowflake|postgres` prints
-- this with your database's name). Run it as an administrator, then give the agent that role:
-- Snowflake: AGENT_SNOWFLAKE_ROLE=STACK_AGENT_READER. The role can read dbt's schemas and
-- nothing else: no writes, no raw schema, no stages.

-- snowflake
CREATE ROLE IF NOT EXISTS STACK_AGENT_READER;
GRANT USAGE ON DATABASE {database} TO ROLE STACK_AGENT_READER;
GRANT USAGE ON SCHEMA {database}.STAGING TO ROLE STACK_AGENT_READER;
GRANT USAGE ON SCHEMA {database}.MARTS TO ROLE STACK_AGENT_READER;
GRANT USAGE ON SCHEMA {database}.INTERMEDIATE TO ROLE STACK_AGENT_READER;
GRANT USAGE ON SCHEMA {database}.SEEDS TO ROLE STACK_AGENT_READER;
GRANT SELECT ON ALL VIEWS IN SCHEMA {database}.INTERMEDIATE TO ROLE STACK_AGENT_READER;
GRANT SELECT ON FUTURE VIEWS IN SCHEMA {database}.INTERMEDIATE TO ROLE STACK_AGENT_READER;
GRANT SELECT ON ALL TABLES IN SCHEMA {database}.MARTS TO ROLE STACK_AGENT_READER;
GRANT SELECT ON FUTURE TABLES IN SCHEMA {database}.MARTS TO ROLE STACK_AGENT_READER;
GRANT SELECT ON ALL VIEWS IN SCHEMA {database}.STAGING TO ROLE STACK_AGENT_READER;
GRANT SELECT ON FUTURE VIEWS IN SCHEMA {database}.STAGING TO ROLE STACK_AGENT_READER;
GRANT SELECT ON ALL TABLES IN SCHEMA {database}.SEEDS TO ROLE STACK_AGENT_READER;
GRANT SELECT ON FUTURE TABLES IN SCHEMA {database}.SEEDS TO ROLE STACK_AGENT_READER;
-- staging views read raw: the view owner's rights apply, the reader needs none on raw.
-- GRANT ROLE STACK_AGENT_READER TO USER <the agent's user>;

-- postgres
-- (PostgreSQL as a warehouse: dbt's schemas in database {database}.)
CREATE ROLE stack_agent_reader NOLOGIN;
GRANT CONNECT ON DATABASE {database} TO stack_agent_reader;
GRANT USAGE ON SCHEMA staging, intermediate, marts, seeds TO stack_agent_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA staging, intermediate, marts, seeds TO stack_agent_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, intermediate, marts, seeds GRANT SELECT ON TABLES TO stack_agent_reader;
ALTER ROLE stack_agent_reader SET default_transaction_read_only = on;
ALTER ROLE stack_agent_reader SET statement_timeout = '30s';
-- CREATE ROLE stack_agent LOGIN PASSWORD '...' IN ROLE stack_agent_reader;

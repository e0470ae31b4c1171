-- Dagster's run, event and schedule storage lives in its own database beside the church's.
CREATE DATABASE dagster;

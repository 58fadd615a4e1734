-- Migration 4: a one-column table the store's checkpointer appends a row to (one per checkpoint it
-- asks for, about one a minute under sustained load, none otherwise): DuckDB checkpoints inside the
-- commit that finds the log long, and this commit is the checkpointer's own, not the writer's
-- (collector/store.py).
CREATE TABLE checkpoint_ticks (asked_at TIMESTAMP NOT NULL);

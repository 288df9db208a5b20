package store

// migration is one numbered schema step. Steps are applied in order, each
// once, in its own transaction, and recorded in schema_migrations. Never edit
// a released step: add a new one.
type migration struct {
	version  int
	name     string
	sqlite   []string
	postgres []string
}

// Column types follow the public schema: JSON columns hold valid JSON (TEXT
// checked with json_valid in SQLite, JSONB in PostgreSQL); timestamps are
// UTC ('YYYY-MM-DDTHH:MM:SS.fffZ' text in SQLite, which sorts correctly and
// which datetime() reads; TIMESTAMPTZ in PostgreSQL). Deleting a trace
// cascades to its rows; deleting a step leaves the detections pointing at it
// run-level (NULL).
var migrations = []migration{
	{
		version: 1,
		name:    "traces, steps, detections, forensics",
		sqlite: []string{
			`CREATE TABLE traces (
				id              TEXT PRIMARY KEY,
				created_at      TIMESTAMP NOT NULL,
				pipeline_name   TEXT NOT NULL DEFAULT '',
				status          TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'warning', 'failed')),
				duration_ms     INTEGER NOT NULL DEFAULT 0,
				node_count      INTEGER NOT NULL DEFAULT 0,
				detection_count INTEGER NOT NULL DEFAULT 0,
				metadata        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
			)`,
			`CREATE INDEX traces_recent_idx ON traces (created_at DESC, id DESC)`,
			`CREATE INDEX traces_pipeline_idx ON traces (pipeline_name, created_at DESC)`,
			`CREATE INDEX traces_status_idx ON traces (status, created_at DESC)`,
			`CREATE TABLE trace_steps (
				id           TEXT PRIMARY KEY,
				trace_id     TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
				step_number  INTEGER NOT NULL,
				node_name    TEXT NOT NULL DEFAULT '',
				input_state  TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(input_state)),
				output_state TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(output_state)),
				duration_ms  INTEGER NOT NULL DEFAULT 0,
				timestamp    TIMESTAMP NOT NULL,
				metadata     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
			)`,
			`CREATE INDEX trace_steps_trace_idx ON trace_steps (trace_id, step_number)`,
			`CREATE TABLE detections (
				id         TEXT PRIMARY KEY,
				trace_id   TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
				step_id    TEXT REFERENCES trace_steps(id) ON DELETE SET NULL,
				layer      TEXT NOT NULL CHECK (layer IN ('statistical', 'semantic', 'behavioral', 'structural')),
				severity   TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
				message    TEXT NOT NULL DEFAULT '',
				details    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
				created_at TIMESTAMP NOT NULL
			)`,
			`CREATE INDEX detections_trace_idx ON detections (trace_id, created_at)`,
			`CREATE INDEX detections_step_idx ON detections (step_id)`,
			`CREATE INDEX detections_layer_idx ON detections (layer, created_at DESC)`,
			`CREATE INDEX detections_severity_idx ON detections (severity, created_at DESC)`,
			`CREATE INDEX detections_recent_idx ON detections (created_at DESC, id DESC)`,
			`CREATE TABLE forensics (
				id              TEXT PRIMARY KEY,
				trace_id        TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
				root_cause_step TEXT REFERENCES trace_steps(id) ON DELETE SET NULL,
				detection_ids   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(detection_ids)),
				explanation     TEXT NOT NULL DEFAULT '',
				causal_chain    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(causal_chain)),
				created_at      TIMESTAMP NOT NULL
			)`,
			`CREATE INDEX forensics_trace_idx ON forensics (trace_id)`,
			`CREATE INDEX forensics_root_idx ON forensics (root_cause_step)`,
		},
		postgres: []string{
			`CREATE TABLE traces (
				id              TEXT PRIMARY KEY,
				created_at      TIMESTAMPTZ NOT NULL,
				pipeline_name   TEXT NOT NULL DEFAULT '',
				status          TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'warning', 'failed')),
				duration_ms     BIGINT NOT NULL DEFAULT 0,
				node_count      INTEGER NOT NULL DEFAULT 0,
				detection_count INTEGER NOT NULL DEFAULT 0,
				metadata        JSONB NOT NULL DEFAULT '{}'
			)`,
			`CREATE INDEX traces_recent_idx ON traces (created_at DESC, id DESC)`,
			`CREATE INDEX traces_pipeline_idx ON traces (pipeline_name, created_at DESC)`,
			`CREATE INDEX traces_status_idx ON traces (status, created_at DESC)`,
			`CREATE TABLE trace_steps (
				id           TEXT PRIMARY KEY,
				trace_id     TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
				step_number  INTEGER NOT NULL,
				node_name    TEXT NOT NULL DEFAULT '',
				input_state  JSONB NOT NULL DEFAULT 'null',
				output_state JSONB NOT NULL DEFAULT 'null',
				duration_ms  BIGINT NOT NULL DEFAULT 0,
				timestamp    TIMESTAMPTZ NOT NULL,
				metadata     JSONB NOT NULL DEFAULT '{}'
			)`,
			`CREATE INDEX trace_steps_trace_idx ON trace_steps (trace_id, step_number)`,
			`CREATE TABLE detections (
				id         TEXT PRIMARY KEY,
				trace_id   TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
				step_id    TEXT REFERENCES trace_steps(id) ON DELETE SET NULL,
				layer      TEXT NOT NULL CHECK (layer IN ('statistical', 'semantic', 'behavioral', 'structural')),
				severity   TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
				message    TEXT NOT NULL DEFAULT '',
				details    JSONB NOT NULL DEFAULT '{}',
				created_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX detections_trace_idx ON detections (trace_id, created_at)`,
			`CREATE INDEX detections_step_idx ON detections (step_id)`,
			`CREATE INDEX detections_layer_idx ON detections (layer, created_at DESC)`,
			`CREATE INDEX detections_severity_idx ON detections (severity, created_at DESC)`,
			`CREATE INDEX detections_recent_idx ON detections (created_at DESC, id DESC)`,
			`CREATE TABLE forensics (
				id              TEXT PRIMARY KEY,
				trace_id        TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
				root_cause_step TEXT REFERENCES trace_steps(id) ON DELETE SET NULL,
				detection_ids   JSONB NOT NULL DEFAULT '[]',
				explanation     TEXT NOT NULL DEFAULT '',
				causal_chain    JSONB NOT NULL DEFAULT '[]',
				created_at      TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX forensics_trace_idx ON forensics (trace_id)`,
			`CREATE INDEX forensics_root_idx ON forensics (root_cause_step)`,
		},
	},
	{
		version: 2,
		name:    "audit logs",
		sqlite: []string{
			`CREATE TABLE audit_logs (
				id          TEXT PRIMARY KEY,
				timestamp   TIMESTAMP NOT NULL,
				trace_id    TEXT,
				status      TEXT NOT NULL,
				event_type  TEXT,
				action      TEXT,
				actor_type  TEXT NOT NULL,
				actor_id    TEXT NOT NULL,
				target_type TEXT NOT NULL,
				target_id   TEXT,
				metadata    TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
				created_at  TIMESTAMP NOT NULL
			)`,
			`CREATE INDEX audit_logs_recent_idx ON audit_logs (timestamp DESC, id DESC)`,
			`CREATE INDEX audit_logs_trace_idx ON audit_logs (trace_id, timestamp DESC)`,
			`CREATE INDEX audit_logs_event_idx ON audit_logs (event_type, timestamp DESC)`,
			`CREATE INDEX audit_logs_status_idx ON audit_logs (status, timestamp DESC)`,
		},
		postgres: []string{
			`CREATE TABLE audit_logs (
				id          TEXT PRIMARY KEY,
				timestamp   TIMESTAMPTZ NOT NULL,
				trace_id    TEXT,
				status      TEXT NOT NULL,
				event_type  TEXT,
				action      TEXT,
				actor_type  TEXT NOT NULL,
				actor_id    TEXT NOT NULL,
				target_type TEXT NOT NULL,
				target_id   TEXT,
				metadata    JSONB,
				created_at  TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX audit_logs_recent_idx ON audit_logs (timestamp DESC, id DESC)`,
			`CREATE INDEX audit_logs_trace_idx ON audit_logs (trace_id, timestamp DESC)`,
			`CREATE INDEX audit_logs_event_idx ON audit_logs (event_type, timestamp DESC)`,
			`CREATE INDEX audit_logs_status_idx ON audit_logs (status, timestamp DESC)`,
		},
	},
	{
		// The web UI's pipelines page: runs per pipeline, UTC hour and
		// status, kept by every write (see runcounts.go) and backfilled
		// here, so a 30-day window is at most 720 rows per pipeline and
		// status. (The runs list's filters read each run's own rows through
		// the existing indexes; an index is a page per commit.)
		version: 3,
		name:    "run_counts for the pipeline aggregates",
		sqlite: []string{
			`CREATE TABLE run_counts (
				pipeline_name TEXT NOT NULL,
				hour          TIMESTAMP NOT NULL,
				status        TEXT NOT NULL,
				runs          INTEGER NOT NULL,
				PRIMARY KEY (pipeline_name, hour, status)
			)`,
			dialect{}.runCountsSQL("", "")[0],
		},
		postgres: []string{
			`CREATE TABLE run_counts (
				pipeline_name TEXT NOT NULL,
				hour          TIMESTAMPTZ NOT NULL,
				status        TEXT NOT NULL,
				runs          INTEGER NOT NULL,
				PRIMARY KEY (pipeline_name, hour, status)
			)`,
			dialect{postgres: true}.runCountsSQL("", "")[0],
		},
	},
	{
		// Rows the database refused while it stored others: for their content, or for a reason a probe showed was theirs (see WriteSalvaging):
		// kept here, with the reason, instead of failing their batch.
		// record is text on both drivers: a value a JSONB column refused
		// must still fit.
		version: 4,
		name:    "quarantine",
		sqlite: []string{
			`CREATE TABLE quarantine (
				id          TEXT PRIMARY KEY,
				created_at  TIMESTAMP NOT NULL,
				table_name  TEXT NOT NULL,
				record_id   TEXT NOT NULL,
				trace_id    TEXT,
				reason      TEXT NOT NULL,
				code        TEXT,
				record      TEXT NOT NULL
			)`,
			`CREATE INDEX quarantine_recent_idx ON quarantine (created_at DESC, id DESC)`,
			`CREATE INDEX quarantine_trace_idx ON quarantine (trace_id)`,
		},
		postgres: []string{
			`CREATE TABLE quarantine (
				id          TEXT PRIMARY KEY,
				created_at  TIMESTAMPTZ NOT NULL,
				table_name  TEXT NOT NULL,
				record_id   TEXT NOT NULL,
				trace_id    TEXT,
				reason      TEXT NOT NULL,
				code        TEXT,
				record      TEXT NOT NULL
			)`,
			`CREATE INDEX quarantine_recent_idx ON quarantine (created_at DESC, id DESC)`,
			`CREATE INDEX quarantine_trace_idx ON quarantine (trace_id)`,
		},
	},
}

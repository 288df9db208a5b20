package argusapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/store"
)

// event is a valid audit log request; fields are overridden per test.
func event(kv ...any) map[string]any {
	e := map[string]any{
		"timestamp": rfc(t0), "traceId": "trace-1", "status": "SUCCESS", "eventType": "MANAGEMENT_EVENT",
		"action": "CREATE", "actorType": "SERVICE", "actorId": "billing", "targetType": "RESOURCE",
		"targetId": "inv-7", "metadata": map[string]any{"ip": "10.0.0.1", "n": 3},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(e, k)
		} else {
			e[k] = kv[i+1]
		}
	}
	return e
}

type logsPage struct {
	Logs   []store.AuditLog `json:"logs"`
	Total  int              `json:"total"`
	Limit  int              `json:"limit"`
	Offset int              `json:"offset"`
}

func (s *server) auditTotal() int {
	var p logsPage
	s.getJSON("/api/audit-logs", &p)
	return p.Total
}

func TestCreateAuditLog(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		before := time.Now().Add(-time.Second)
		r := s.post("/api/audit-logs", event())
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var got store.AuditLog
		r.json(t, &got)
		assert.Len(t, got.ID, 36, "server-assigned UUID")
		assert.True(t, got.CreatedAt.After(before), "createdAt %s", got.CreatedAt)
		assert.True(t, got.Timestamp.Equal(t0))
		assert.Equal(t, store.AuditLog{ID: got.ID, Timestamp: got.Timestamp, TraceID: "trace-1", Status: "SUCCESS",
			EventType: "MANAGEMENT_EVENT", Action: "CREATE", ActorType: "SERVICE", ActorID: "billing", TargetType: "RESOURCE",
			TargetID: "inv-7", Metadata: got.Metadata, CreatedAt: got.CreatedAt}, got)
		assert.JSONEq(t, `{"ip":"10.0.0.1","n":3}`, string(got.Metadata))
		// The seed's field names on the wire.
		var wire map[string]any
		require.NoError(t, json.Unmarshal(r.body, &wire))
		for _, k := range []string{"id", "timestamp", "traceId", "status", "eventType", "action", "actorType", "actorId", "targetType", "targetId", "metadata", "createdAt"} {
			assert.Contains(t, wire, k)
		}

		// What GET returns is what POST answered.
		var p logsPage
		s.getJSON("/api/audit-logs"+q("traceId", "trace-1"), &p)
		require.Len(t, p.Logs, 1)
		assert.Equal(t, got.ID, p.Logs[0].ID)
		assert.True(t, got.CreatedAt.Equal(p.Logs[0].CreatedAt))

		// Only the required fields.
		r = s.post("/api/audit-logs", map[string]any{"timestamp": "2026-01-31T12:00:00+02:00", "status": "FAILURE",
			"actorType": "AGENT", "actorId": "bot", "targetType": "TOOL"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		got = store.AuditLog{}
		r.json(t, &got)
		assert.Equal(t, "2026-01-31T10:00:00Z", got.Timestamp.Format(time.RFC3339), "stored in UTC")
		assert.Empty(t, got.Metadata)

		// A client-named record: retrying it is a 409, never a duplicate row.
		r = s.post("/api/audit-logs", event("id", "client-1"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		s.post("/api/audit-logs", event("id", "client-1")).errBody(t, http.StatusConflict, "already exists", `"client-1"`)
		assert.Equal(t, 3, s.auditTotal())
	})
}

func TestInvalidAuditLogs(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		cfg.Audit.MaxMetadataBytes = 256
		s := start(t, cfg)
		long := strings.Repeat("x", maxFieldBytes+1)
		cases := []struct {
			name string
			body any
			want []string
		}{
			{"no timestamp", event("timestamp", nil), []string{"timestamp is required"}},
			{"bad timestamp", event("timestamp", "yesterday"), []string{"timestamp", "RFC 3339"}},
			{"date only", event("timestamp", "2026-01-31"), []string{"RFC 3339"}},
			{"required all named", map[string]any{"timestamp": rfc(t0)},
				[]string{"status is required", "actorType is required", "actorId is required", "targetType is required"}},
			{"blank actor", event("actorId", "   "), []string{"actorId is required"}},
			{"status case", event("status", "success"), []string{"status", "SUCCESS, FAILURE"}},
			{"actor type", event("actorType", "ROBOT"), []string{`actorType "ROBOT"`, "SERVICE, ADMIN, MEMBER, SYSTEM, USER, AGENT"}},
			{"target type", event("targetType", "PLANET"), []string{`targetType "PLANET"`, "TOOL"}},
			{"event type", event("eventType", "PARTY"), []string{`eventType "PARTY"`, "TOOL_CALL"}},
			{"metadata array", event("metadata", []int{1}), []string{"metadata must be a JSON object"}},
			{"metadata string", event("metadata", "x"), []string{"metadata must be a JSON object"}},
			{"metadata too big", event("metadata", map[string]string{"k": strings.Repeat("y", 300)}), []string{"metadata", "at most 256"}},
			{"server field", event("createdAt", rfc(t0)), []string{`unknown field "createdAt"`}},
			{"unknown field", event("actor", "x"), []string{`unknown field "actor"`}},
			{"wrong type", event("actorId", 5), []string{"actorId must be a string", "number"}},
			{"id empty", event("id", ""), []string{"id must not be empty"}},
			{"field too long", event("actorId", long), []string{"actorId", "at most 512"}},
			{"malformed", `{"timestamp":`, []string{"malformed JSON"}},
			{"not JSON", `hello`, []string{"malformed JSON"}},
			{"trailing data", `{"timestamp":"2026-01-31T12:00:00Z","status":"SUCCESS","actorType":"USER","actorId":"a","targetType":"USER"} {}`, []string{"unexpected data"}},
			{"array", `[]`, []string{"want a JSON object", "array"}},
			{"empty body", ``, []string{"empty request body"}},
			{"null", `null`, []string{"timestamp is required"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s.t = t
				s.post("/api/audit-logs", c.body).errBody(t, http.StatusBadRequest, c.want...)
			})
		}
		s.t = t
		s.do(http.MethodPost, "/api/audit-logs", strings.NewReader(`{}`), "Content-Type", "text/plain").
			errBody(t, http.StatusUnsupportedMediaType, "application/json")
		// Invalid UTF-8 never crashes anything; the decoder replaces it.
		r := s.post("/api/audit-logs", []byte("{\"timestamp\":\"2026-01-31T12:00:00Z\",\"status\":\"SUCCESS\",\"actorType\":\"USER\",\"actorId\":\"a\xff\xfeb\",\"targetType\":\"USER\"}"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var got store.AuditLog
		r.json(t, &got)
		assert.Equal(t, "a\uFFFD\uFFFDb", got.ActorID)
		assert.Equal(t, 1, s.auditTotal(), "no invalid request stored anything")
	})
}

func TestListAuditLogs(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		post := func(id string, kv ...any) {
			r := s.post("/api/audit-logs", event(append([]any{"id", id}, kv...)...))
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		}
		post("a1", "timestamp", rfc(t0), "traceId", "tr-1", "status", "SUCCESS", "eventType", "MANAGEMENT_EVENT", "action", "CREATE", "actorId", "alice")
		post("a2", "timestamp", rfc(t0.Add(time.Minute)), "traceId", "tr-1", "status", "FAILURE", "eventType", "DATA_FETCH", "action", "READ", "actorId", "bob")
		post("a3", "timestamp", rfc(t0.Add(time.Minute)), "traceId", "tr-2", "status", "SUCCESS", "eventType", "DATA_FETCH", "action", "READ", "actorId", "alice")
		post("a4", "timestamp", rfc(t0.Add(2*time.Minute)), "traceId", nil, "status", "FAILURE", "eventType", nil, "action", nil, "actorId", "carol")
		cases := []struct {
			name  string
			query string
			want  []string
			total int
		}{
			{"all, newest first, ties by id", "", []string{"a4", "a3", "a2", "a1"}, 4},
			{"traceId", q("traceId", "tr-1"), []string{"a2", "a1"}, 2},
			{"eventType", q("eventType", "DATA_FETCH"), []string{"a3", "a2"}, 2},
			{"status", q("status", "FAILURE"), []string{"a4", "a2"}, 2},
			{"action", q("action", "READ"), []string{"a3", "a2"}, 2},
			{"actorId", q("actorId", "alice"), []string{"a3", "a1"}, 2},
			{"since", q("since", rfc(t0.Add(time.Minute))), []string{"a4", "a3", "a2"}, 3},
			{"until", q("until", rfc(t0.Add(time.Minute))), []string{"a1"}, 1},
			{"since+until", q("since", rfc(t0.Add(time.Minute)), "until", rfc(t0.Add(2*time.Minute))), []string{"a3", "a2"}, 2},
			{"combined", q("status", "SUCCESS", "actorId", "alice", "eventType", "DATA_FETCH"), []string{"a3"}, 1},
			{"event type not in enums is still searchable", q("eventType", "OLD_TYPE"), []string{}, 0},
			{"page", q("limit", "2", "offset", "1"), []string{"a3", "a2"}, 4},
			{"past the end", q("offset", "9"), []string{}, 4},
		}
		for _, c := range cases {
			var p logsPage
			s.getJSON("/api/audit-logs"+c.query, &p)
			got := []string{}
			for _, l := range p.Logs {
				got = append(got, l.ID)
			}
			assert.Equal(t, c.want, got, c.name)
			assert.Equal(t, c.total, p.Total, c.name)
		}
		var p logsPage
		s.getJSON("/api/audit-logs"+q("limit", "3"), &p)
		assert.Equal(t, 3, p.Limit)
		assert.Equal(t, 0, p.Offset)
		s.getJSON("/api/audit-logs", &p)
		assert.Equal(t, 100, p.Limit)
	})
}

type bulkAnswer struct {
	Error     string           `json:"error"`
	Details   string           `json:"details"`
	Succeeded int              `json:"succeeded"`
	Failed    []bulkFailure    `json:"failed"`
	Logs      []store.AuditLog `json:"logs"`
}

func TestBulkAuditLogs(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		var a bulkAnswer

		r := s.post("/api/audit-logs/bulk", []any{event("actorId", "x1"), event("actorId", "x2"), event("id", "stored-1")})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		r.json(t, &a)
		assert.Equal(t, 3, a.Succeeded)
		assert.Empty(t, a.Failed)
		require.Len(t, a.Logs, 3)
		assert.Equal(t, []string{"x1", "x2", "billing"}, []string{a.Logs[0].ActorID, a.Logs[1].ActorID, a.Logs[2].ActorID}, "request order")
		assert.Equal(t, "stored-1", a.Logs[2].ID)
		assert.NotEmpty(t, a.Logs[0].ID)
		assert.Contains(t, string(r.body), `"failed":[]`)

		// Some fail: each failure names its index and why; the rest are stored.
		r = s.post("/api/audit-logs/bulk", []any{
			event("id", "m0"),
			event("actorId", nil),
			event("id", "m2"),
			event("id", "m2"),
			event("id", "stored-1"),
			"not an object",
			event("id", "m6", "actorType", "ROBOT"),
		})
		require.Equal(t, http.StatusMultiStatus, r.status, "%s", r.body)
		a = bulkAnswer{}
		r.json(t, &a)
		assert.Equal(t, 2, a.Succeeded)
		assert.Empty(t, a.Error, "a partial success is not an error")
		require.Len(t, a.Failed, 5, "%s", r.body)
		idx := []int{}
		for _, f := range a.Failed {
			idx = append(idx, f.Index)
		}
		assert.Equal(t, []int{1, 3, 4, 5, 6}, idx)
		assert.Equal(t, http.StatusBadRequest, a.Failed[0].Status)
		assert.Contains(t, a.Failed[0].Error, "actorId is required")
		assert.Equal(t, http.StatusConflict, a.Failed[1].Status)
		assert.Contains(t, a.Failed[1].Error, "index 2")
		assert.Equal(t, http.StatusConflict, a.Failed[2].Status)
		assert.Contains(t, a.Failed[2].Error, "already stored")
		assert.Equal(t, http.StatusBadRequest, a.Failed[3].Status)
		assert.Contains(t, a.Failed[3].Error, "want a JSON object")
		assert.Contains(t, a.Failed[4].Error, "ROBOT")
		require.Len(t, a.Logs, 2)
		assert.Equal(t, []string{"m0", "m2"}, []string{a.Logs[0].ID, a.Logs[1].ID})
		assert.Equal(t, 5, s.auditTotal())

		// All fail: an error answer that still lists each failure.
		r = s.post("/api/audit-logs/bulk", []any{event("status", "MAYBE"), event("timestamp", nil)})
		e := r.errBody(t, http.StatusBadRequest, "no audit log stored")
		assert.NotEmpty(t, e.Details)
		a = bulkAnswer{}
		r.json(t, &a)
		assert.Len(t, a.Failed, 2)
		assert.Zero(t, a.Succeeded)
		r = s.post("/api/audit-logs/bulk", []any{event("id", "m0"), event("id", "stored-1")})
		r.errBody(t, http.StatusConflict, "no audit log stored")

		for _, c := range []struct {
			name string
			body any
			want string
		}{
			{"empty array", `[]`, "empty"},
			{"object", event(), "want a JSON array"},
			{"malformed", `[{"timestamp":`, "malformed JSON"},
			{"too many", make([]map[string]any, maxBulkItems+1), "at most 1000"},
			{"empty body", ``, "empty request body"},
		} {
			s.post("/api/audit-logs/bulk", c.body).errBody(t, http.StatusBadRequest, c.want)
		}
		assert.Equal(t, 5, s.auditTotal())
		// The largest bulk is accepted.
		big := make([]any, maxBulkItems)
		for i := range big {
			big[i] = event("actorId", fmt.Sprint("big-", i))
		}
		r = s.post("/api/audit-logs/bulk", big)
		require.Equal(t, http.StatusCreated, r.status, "%.300s", r.body)
		assert.Equal(t, 5+maxBulkItems, s.auditTotal())
	})
}

// TestBulkAuditLogsMinimal: "Prefer: return=minimal" (RFC 7240) gets the
// same answer without the stored records, so it stays small however large
// they are; without it (or with another preference) the answer is the
// default one, records included.
func TestBulkAuditLogsMinimal(t *testing.T) {
	s := start(t, backends[0].config(t))
	minimal := func(r resp) map[string]json.RawMessage {
		t.Helper()
		var m map[string]json.RawMessage
		r.json(t, &m)
		assert.NotContains(t, m, "logs", "%s", r.body)
		assert.Equal(t, "return=minimal", r.header.Get("Preference-Applied"))
		return m
	}
	r := s.post("/api/audit-logs/bulk", []any{event("id", "p0"), event("id", "p1")}, "Prefer", "return=minimal")
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.JSONEq(t, `{"succeeded":2,"failed":[]}`, string(r.body))
	minimal(r)

	for _, prefer := range []string{`respond-async, return=minimal`, `RETURN = "minimal"; x=1`, `wait=5,return=minimal`} {
		r = s.post("/api/audit-logs/bulk", []any{event("id", "p2-"+prefer), event("actorId", nil), event("id", "p0")},
			"Prefer", prefer)
		require.Equal(t, http.StatusMultiStatus, r.status, "%s", r.body)
		minimal(r)
		var a bulkAnswer
		r.json(t, &a)
		assert.Equal(t, 1, a.Succeeded, prefer)
		require.Len(t, a.Failed, 2, prefer)
		assert.Equal(t, []int{1, 2}, []int{a.Failed[0].Index, a.Failed[1].Index})
		assert.Equal(t, []int{http.StatusBadRequest, http.StatusConflict}, []int{a.Failed[0].Status, a.Failed[1].Status})
	}

	// Nothing stored: the error fields stay.
	r = s.post("/api/audit-logs/bulk", []any{event("id", "p0")}, "Prefer", "return=minimal")
	r.errBody(t, http.StatusConflict, "no audit log stored")
	m := minimal(r)
	assert.Contains(t, m, "failed")

	// Another preference, or none: the default answer.
	for _, h := range [][]string{{"Prefer", "return=representation"}, {"Prefer", "return-minimal"}, nil} {
		r = s.post("/api/audit-logs/bulk", []any{event("id", fmt.Sprint("full-", len(h), h))}, h...)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var a bulkAnswer
		r.json(t, &a)
		require.Len(t, a.Logs, 1, "%v: %s", h, r.body)
		assert.Empty(t, r.header.Get("Preference-Applied"))
	}
}

// TestConcurrentAuditPosts: 50 parallel writers, through two API instances
// on one database (two collectors), never fail each other.
func TestConcurrentAuditPosts(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s1 := start(t, cfg)
		cfg2 := *cfg
		cfg2.NetAddr.Endpoint = "127.0.0.1:0"
		s2 := start(t, &cfg2)
		const n = 50
		var wg sync.WaitGroup
		statuses := make(chan string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := s1.base
				if i%2 == 1 {
					base = s2.base
				}
				body, _ := json.Marshal(event("actorId", fmt.Sprint("w-", i), "traceId", "concurrent"))
				res, err := http.Post(base+"/api/audit-logs", "application/json", strings.NewReader(string(body)))
				if err != nil {
					statuses <- err.Error()
					return
				}
				res.Body.Close()
				statuses <- res.Status
			}()
		}
		wg.Wait()
		close(statuses)
		for st := range statuses {
			assert.Equal(t, "201 Created", st)
		}
		var p logsPage
		s1.getJSON("/api/audit-logs"+q("traceId", "concurrent", "limit", "1000"), &p)
		assert.Equal(t, n, p.Total)
		seen := map[string]bool{}
		for _, l := range p.Logs {
			seen[l.ActorID] = true
		}
		assert.Len(t, seen, n)
	})
}

func TestAuditEnumsConfig(t *testing.T) {
	t.Run("collector config", func(t *testing.T) {
		cfg := backends[0].config(t)
		cfg.Audit.EventTypes = []string{"ORDER_CREATED"}
		cfg.Audit.Actions = []string{"CREATE", "DELETE"}
		cfg.Audit.ActorTypes = []string{"CUSTOMER"}
		cfg.Audit.TargetTypes = []string{"ORDER"}
		s := start(t, cfg)
		ok := event("eventType", "ORDER_CREATED", "action", "CREATE", "actorType", "CUSTOMER", "targetType", "ORDER")
		require.Equal(t, http.StatusCreated, s.post("/api/audit-logs", ok).status)
		for k, v := range map[string]string{"eventType": "TOOL_CALL", "action": "READ", "actorType": "SERVICE", "targetType": "TOOL"} {
			bad := event("eventType", "ORDER_CREATED", "action", "CREATE", "actorType", "CUSTOMER", "targetType", "ORDER", k, v)
			e := s.post("/api/audit-logs", bad).errBody(t, http.StatusBadRequest, k, v)
			assert.Contains(t, e.Details, "allowed: ", k)
		}
		s.post("/api/audit-logs", event("action", "READ", "eventType", "ORDER_CREATED", "actorType", "CUSTOMER", "targetType", "ORDER")).
			errBody(t, http.StatusBadRequest, "allowed: CREATE, DELETE")
	})
	t.Run("enums file", func(t *testing.T) {
		cfg := backends[0].config(t)
		cfg.Audit.EnumsFile = filepath.Join("testdata", "enums.yaml")
		cfg.Audit.TargetTypes = []string{"INVOICE"} // the collector config wins over the file
		s := start(t, cfg)
		ok := event("eventType", "USER_REGISTERED", "action", "ANYTHING", "actorType", "CUSTOMER", "targetType", "INVOICE")
		r := s.post("/api/audit-logs", ok)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		s.post("/api/audit-logs", event("eventType", "MANAGEMENT_EVENT", "actorType", "CUSTOMER", "targetType", "INVOICE")).
			errBody(t, http.StatusBadRequest, "ORDER_CREATED, USER_REGISTERED")
		s.post("/api/audit-logs", event("eventType", "USER_REGISTERED", "actorType", "CUSTOMER", "targetType", "ORDER")).
			errBody(t, http.StatusBadRequest, "allowed: INVOICE")
	})
}

func TestEnumsResolution(t *testing.T) {
	e, err := AuditConfig{}.enums()
	require.NoError(t, err)
	assert.Equal(t, Enums{EventTypes: DefaultEventTypes, ActorTypes: DefaultActorTypes, TargetTypes: DefaultTargetTypes}, e)
	assert.Contains(t, e.EventTypes, "TOOL_CALL")
	assert.Contains(t, e.ActorTypes, "AGENT")
	assert.Contains(t, e.TargetTypes, "TOOL")

	e, err = AuditConfig{EnumsFile: "testdata/enums.yaml"}.enums()
	require.NoError(t, err)
	assert.Equal(t, []string{"ORDER_CREATED", "USER_REGISTERED"}, e.EventTypes)
	assert.Empty(t, e.Actions, "eventActions absent from the file: any action")
	assert.Equal(t, []string{"SERVICE", "CUSTOMER"}, e.ActorTypes)
	assert.Equal(t, []string{"SERVICE", "ORDER"}, e.TargetTypes)

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	for _, c := range []struct {
		name string
		cfg  AuditConfig
		want string
	}{
		{"missing file", AuditConfig{EnumsFile: filepath.Join(dir, "nope.yaml")}, "audit::enums_file"},
		{"misspelt key", AuditConfig{EnumsFile: write("typo.yaml", "enums:\n  eventType: [A]\n")}, "eventType"},
		{"not yaml", AuditConfig{EnumsFile: write("bad.yaml", "enums: [\n")}, "parse"},
		{"no enums", AuditConfig{EnumsFile: write("empty.yaml", "other: 1\n")}, "other"},
		{"nothing in it", AuditConfig{EnumsFile: write("nothing.yaml", "enums: {}\n")}, "has no enums"},
		{"blank value", AuditConfig{ActorTypes: []string{"USER", " "}}, "audit::actor_types[1]"},
		{"padded value", AuditConfig{EventTypes: []string{" X"}}, "audit::event_types[0]"},
		{"blank in file", AuditConfig{EnumsFile: write("blank.yaml", "enums:\n  targetTypes: ['']\n")}, "audit::target_types[0]"},
	} {
		_, err := c.cfg.enums()
		assert.ErrorContains(t, err, c.want, c.name)
	}
}

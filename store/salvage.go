package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Salvaged is what WriteSalvaging could not store.
type Salvaged struct {
	// Refused rows, each kept in the quarantine table unless
	// QuarantineErr is set.
	Refused []Refused
	// QuarantineErr: the quarantine write failed for good too; the
	// refused rows are lost (the caller counts them as dropped).
	QuarantineErr error
	// Unstored are the traces of which not even a minimal trace row could
	// be stored: all their rows are refused.
	Unstored []string
}

// WriteSalvaging writes b like WriteBatch. When the batch, not the
// database, is at fault (salvageable), one bad record must not cost the
// others: the batch is split by trace, a refused trace is bisected down
// to the rows the database refuses, every storable row is written and the
// refused ones go to the quarantine table with the reason. A refused
// trace row is replaced by a minimal one (its id and status, metadata
// {"quarantined":true}) so its other rows can still be stored.
//
// Every write is bounded: at most about 2 x rows x log2(rows)
// transactions, each tried once. The error is non-nil for a transient
// error, and when rows were refused for a statement or unknown reason but
// the database did not show it can store others, not even a made-up row
// (salvager.doubt: a missing table, a damaged file): then it is the
// database's error. Either way the whole batch is to be retried later
// (rows already written are upserted again); the error is never permanent.
func WriteSalvaging(ctx context.Context, st Store, b TraceBatch) (Salvaged, error) {
	err := st.WriteBatch(ctx, b)
	if err == nil || !salvageable(ctx, st, err) {
		return Salvaged{}, err
	}
	ctx, cancel := salvageContext(ctx)
	defer cancel()
	sg := salvager{st: st, took: map[string]bool{}}
	var out Salvaged
	for _, one := range SplitByTrace(b) {
		r, stored, err := sg.trace(ctx, one)
		if err != nil {
			return Salvaged{}, err
		}
		out.Refused = append(out.Refused, r...)
		if !stored {
			out.Unstored = append(out.Unstored, traceOf(one))
		}
	}
	if err := sg.doubt(ctx, out.Refused); err != nil {
		return Salvaged{}, err
	}
	if err := st.Quarantine(ctx, out.Refused); err != nil {
		if !IsPermanent(err) {
			return Salvaged{}, err
		}
		out.QuarantineErr = err
	}
	return out, nil
}

// ProbeTimeout bounds the round trip that tells whether the database
// answers (salvageable).
const ProbeTimeout = 5 * time.Second

// salvageable reports whether the batch may be at fault for err: a
// content error, or a statement or unknown one (doubtful) while the
// database answers a query that writes nothing. A doubtful error with the
// database silent is the database's moment: transient.
func salvageable(ctx context.Context, st Store, err error) bool {
	return IsPermanent(err) || doubtful(err) && answers(ctx, st)
}

// doubtful reports an error that may be a record's or the database's
// (ClassStatement, ClassUnknown): a row refused with it is quarantined
// only when the salvage shows the database takes other rows
// (salvager.doubt).
func doubtful(err error) bool {
	c := Classify(err)
	return c == ClassStatement || c == ClassUnknown
}

func answers(ctx context.Context, st Store) bool {
	pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	return st.Ping(pctx) == nil
}

// refusable reports whether a write of a salvage refused its rows: for
// good (IsPermanent), or for a doubtful reason (judged by doubt).
func refusable(err error) bool {
	return IsPermanent(err) || doubtful(err)
}

// salvager is one salvage; took notes the tables that stored a row in it.
type salvager struct {
	st   Store
	took map[string]bool
}

// doubt returns the error of a row refused for a doubtful reason that is
// not shown to be the row's fault, nil when every refused row is at
// fault: refused for its content, or while its table takes other rows and
// the database still answers. A table takes rows when it stored some in
// this salvage or, when the refused rows were all it was given (a run
// alone in its batch), when it takes a made-up row (ProbeWrite, rolled
// back). A database that refuses every write to a table (the table
// dropped or not migrated, a damaged file, a trigger raising for every
// row) refuses the probe too: that is its fault, and quarantining
// everything would hide it and lose the rows.
func (sg *salvager) doubt(ctx context.Context, refused []Refused) error {
	var last error
	for _, r := range refused {
		if !doubtful(r.Err) {
			continue
		}
		last = r.Err
		if !sg.took[r.Table] {
			if !sg.takes(ctx, r.Table) {
				return r.Err
			}
			sg.took[r.Table] = true
		}
	}
	if last != nil && !answers(ctx, sg.st) {
		return last
	}
	return nil
}

// takes reports whether table takes a made-up row.
func (sg *salvager) takes(ctx context.Context, table string) bool {
	pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	return sg.st.ProbeWrite(pctx, table) == nil
}

// stored notes the tables of a batch that was written.
func (sg *salvager) stored(b TraceBatch) {
	for table, n := range map[string]int{TableTraces: len(b.Traces), TableSteps: len(b.Steps),
		TableDetections: len(b.Detections), TableForensics: len(b.Forensics)} {
		if n > 0 {
			sg.took[table] = true
		}
	}
}

// write is st.WriteBatch, noting what it stored.
func (sg *salvager) write(ctx context.Context, b TraceBatch) error {
	err := sg.st.WriteBatch(ctx, b)
	if err == nil {
		sg.stored(b)
	}
	return err
}

// SalvageTimeout bounds the salvage of one batch. It is its own time, not
// what is left of the caller's deadline: the salvage writes the batch a
// second time (by trace), and a large batch that timed out there would be
// retried whole, salvaged again and time out again, without end.
// Cancelling ctx (a shutdown) still stops it.
const SalvageTimeout = 2 * time.Minute

func salvageContext(ctx context.Context) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SalvageTimeout)
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			cancel()
		}
	})
	return sctx, func() { stop(); cancel() }
}

// trace writes the batch of one trace, row by row where needed; stored
// is false when no row of the trace could be stored.
func (sg *salvager) trace(ctx context.Context, one TraceBatch) (_ []Refused, stored bool, _ error) {
	err := sg.write(ctx, one)
	if err == nil || !refusable(err) {
		return nil, true, err
	}
	var refused []Refused
	if len(one.Traces) > 0 {
		err := sg.write(ctx, TraceBatch{Traces: one.Traces})
		if err != nil && !refusable(err) {
			return nil, false, err
		}
		if err != nil {
			u := one.Traces[0]
			refused = append(refused, NewRefused(u.Trace, err))
			stub := TraceUpdate{Trace: Trace{ID: u.Trace.ID, Status: u.Trace.Status,
				Metadata: json.RawMessage(`{"quarantined":true}`)}}
			if err := sg.write(ctx, TraceBatch{Traces: []TraceUpdate{stub}}); err != nil {
				if !refusable(err) {
					return nil, false, err
				}
				// Not even the trace's id can be stored: nothing of it can.
				return append(refused, refuseAll(one, err)...), false, nil
			}
		}
	}
	steps := func(rows []Step) error { return sg.write(ctx, TraceBatch{Steps: rows}) }
	dets := func(rows []Detection) error { return sg.write(ctx, TraceBatch{Detections: rows}) }
	fors := func(rows []Forensics) error { return sg.write(ctx, TraceBatch{Forensics: rows}) }
	if refused, err = bisect(one.Steps, steps, refused); err != nil {
		return nil, false, err
	}
	if refused, err = bisect(one.Detections, dets, refused); err != nil {
		return nil, false, err
	}
	if refused, err = bisect(one.Forensics, fors, refused); err != nil {
		return nil, false, err
	}
	return refused, true, nil
}

// traceOf is the trace id of a batch SplitByTrace made.
func traceOf(one TraceBatch) string {
	switch {
	case len(one.Traces) > 0:
		return one.Traces[0].Trace.ID
	case len(one.Steps) > 0:
		return one.Steps[0].TraceID
	case len(one.Detections) > 0:
		return one.Detections[0].TraceID
	case len(one.Forensics) > 0:
		return one.Forensics[0].TraceID
	}
	return ""
}

// bisect writes rows, halving the set on a refusal (refusable) until the
// refused rows stand alone; those are appended to refused.
func bisect[T any](rows []T, write func([]T) error, refused []Refused) ([]Refused, error) {
	if len(rows) == 0 {
		return refused, nil
	}
	err := write(rows)
	switch {
	case err == nil:
		return refused, nil
	case !refusable(err):
		return nil, err
	case len(rows) == 1:
		return append(refused, NewRefused(rows[0], err)), nil
	}
	mid := len(rows) / 2
	if refused, err = bisect(rows[:mid], write, refused); err != nil {
		return nil, err
	}
	return bisect(rows[mid:], write, refused)
}

func refuseAll(b TraceBatch, err error) []Refused {
	var out []Refused
	for _, s := range b.Steps {
		out = append(out, NewRefused(s, err))
	}
	for _, d := range b.Detections {
		out = append(out, NewRefused(d, err))
	}
	for _, f := range b.Forensics {
		out = append(out, NewRefused(f, err))
	}
	return out
}

// SplitByTrace cuts a batch into one batch per trace, in batch order;
// rows of a trace without an update get a batch of their own.
func SplitByTrace(b TraceBatch) []TraceBatch {
	idx := make(map[string]int, len(b.Traces))
	var out []TraceBatch
	at := func(id string) *TraceBatch {
		i, ok := idx[id]
		if !ok {
			i = len(out)
			idx[id] = i
			out = append(out, TraceBatch{})
		}
		return &out[i]
	}
	for _, u := range b.Traces {
		one := at(u.Trace.ID)
		one.Traces = append(one.Traces, u)
	}
	for _, s := range b.Steps {
		one := at(s.TraceID)
		one.Steps = append(one.Steps, s)
	}
	for _, d := range b.Detections {
		one := at(d.TraceID)
		one.Detections = append(one.Detections, d)
	}
	for _, f := range b.Forensics {
		one := at(f.TraceID)
		one.Forensics = append(one.Forensics, f)
	}
	return out
}

// InsertAuditSalvaging inserts audit rows like InsertAuditLogs; when they
// may be at fault (salvageable), it inserts them one by one: rows already
// stored (a retried push) are skipped, refused rows go to the quarantine.
// It returns how many rows it wrote. The error is non-nil only for a
// transient error, or rows refused for a doubtful reason while no other
// row was stored (retry them all: stored ones are skipped then).
func InsertAuditSalvaging(ctx context.Context, st Store, rows []AuditLog) (int, Salvaged, error) {
	err := st.InsertAuditLogs(ctx, rows)
	if err == nil {
		return len(rows), Salvaged{}, nil
	}
	if !salvageable(ctx, st, err) {
		return 0, Salvaged{}, err
	}
	sg := salvager{st: st, took: map[string]bool{}}
	written := 0
	var out Salvaged
	for i := range rows {
		err := st.InsertAuditLogs(ctx, rows[i:i+1])
		switch {
		case err == nil:
			written++
			sg.took[TableAuditLogs] = true
		case IsDuplicate(err):
			// Stored by an earlier attempt of this push.
			sg.took[TableAuditLogs] = true
		case refusable(err):
			out.Refused = append(out.Refused, NewRefused(rows[i], err))
		default:
			return written, Salvaged{}, err
		}
	}
	if err := sg.doubt(ctx, out.Refused); err != nil {
		return written, Salvaged{}, err
	}
	if err := st.Quarantine(ctx, out.Refused); err != nil {
		if !IsPermanent(err) {
			return written, Salvaged{}, err
		}
		out.QuarantineErr = err
	}
	return written, out, nil
}

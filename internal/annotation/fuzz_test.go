package annotation

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// FuzzDecode feeds arbitrary strings into every attribute of the argus
// events (as any value type, since a sender may forge them) and checks
// Decode never panics, always returns well-formed JSON, and reads back
// exactly what AddDetection/AddForensics wrote.
func FuzzDecode(f *testing.F) {
	f.Add("d1", "semantic", "warning", `{"field":"documents"}`, `[{"step":"retrieve"}]`, `["d1"]`, byte(0))
	f.Add("", "", "", `{`, `{"not":"an array"}`, `[1,2`, byte(1))
	f.Add("\xff\xfe", "<script>", "x'); DROP TABLE detections;--", `null`, `null`, `null`, byte(2))
	f.Add("id", "layer", "critical", `[[[[[[[[`, `[]`, `[]`, byte(3))
	f.Fuzz(func(t *testing.T, id, layer, severity, details, chain, ids string, kind byte) {
		span := ptrace.NewSpan()
		// Forged events: each attribute set with a type chosen by kind.
		det := span.Events().AppendEmpty()
		det.SetName(EventDetection)
		for i, k := range []string{AttrDetectionID, AttrDetectionLayer, AttrDetectionSeverity, AttrDetectionRule,
			AttrDetectionMessage, AttrDetectionNode, AttrDetectionDetails} {
			put(det.Attributes(), k, []string{id, layer, severity, id, layer, severity, details}[i], kind+byte(i))
		}
		fo := span.Events().AppendEmpty()
		fo.SetName(EventForensics)
		for i, k := range []string{AttrForensicsID, AttrForensicsRootCauseSpan, AttrForensicsRootCauseNode,
			AttrForensicsCausalChain, AttrForensicsDetectionIDs, AttrForensicsConfidence, AttrForensicsExplanation} {
			put(fo.Attributes(), k, []string{id, id, layer, chain, ids, details, severity}[i], kind+byte(i))
		}
		put(span.Attributes(), AttrRunStatus, severity, kind)
		put(span.Attributes(), AttrLate, layer, kind+1)
		checkDecoded(t, Decode(span))

		// What the processor writes is read back unchanged.
		clean := ptrace.NewSpan()
		d := Detection{ID: id, Layer: layer, Severity: severity, Rule: id, Message: details, Node: layer, Details: json.RawMessage(details)}
		AddDetection(clean, d)
		fr := Forensics{ID: id, RootCauseSpan: id, RootCauseNode: layer, CausalChain: json.RawMessage(chain),
			DetectionIDs: []string{ids}, Confidence: float64(kind) / 255, Explanation: details}
		AddForensics(clean, fr)
		SetRunStatus(clean, severity, int(kind))
		got := Decode(clean)
		checkDecoded(t, got)
		if len(got.Detections) != 1 || len(got.Forensics) != 1 {
			t.Fatalf("decoded %d detections, %d forensics; want 1 and 1", len(got.Detections), len(got.Forensics))
		}
		gd, gf := got.Detections[0], got.Forensics[0]
		if gd.ID != id || gd.Layer != layer || gd.Severity != severity || gd.Message != details || gd.Node != layer {
			t.Fatalf("detection round trip: got %+v", gd)
		}
		if gf.ID != id || gf.RootCauseNode != layer || gf.Explanation != details || gf.Confidence != fr.Confidence {
			t.Fatalf("forensics round trip: got %+v", gf)
		}
		if utf8.ValidString(ids) && (len(gf.DetectionIDs) != 1 || gf.DetectionIDs[0] != ids) {
			t.Fatalf("detection ids round trip: got %q, want [%q]", gf.DetectionIDs, ids)
		}
		if got.RunStatus != severity {
			t.Fatalf("run status round trip: got %q, want %q", got.RunStatus, severity)
		}
	})
}

// put sets k to s as one of the attribute value types.
func put(m pcommon.Map, k, s string, kind byte) {
	switch kind % 5 {
	case 0:
		m.PutStr(k, s)
	case 1:
		m.PutInt(k, int64(len(s)))
	case 2:
		m.PutDouble(k, float64(len(s))/3)
	case 3:
		m.PutEmptyBytes(k).FromRaw([]byte(s))
	case 4:
		sl := m.PutEmptySlice(k)
		sl.AppendEmpty().SetStr(s)
		sl.AppendEmpty().SetEmptyMap().PutStr(s, s)
	}
}

func checkDecoded(t *testing.T, d Decoded) {
	t.Helper()
	for _, det := range d.Detections {
		var m map[string]any
		if err := json.Unmarshal(det.Details, &m); err != nil || m == nil {
			t.Fatalf("details is not a JSON object: %q (%v)", det.Details, err)
		}
	}
	for _, f := range d.Forensics {
		var a []any
		if err := json.Unmarshal(f.CausalChain, &a); err != nil || a == nil {
			t.Fatalf("causal chain is not a JSON array: %q (%v)", f.CausalChain, err)
		}
	}
}

package redact

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Traces redacts td in place: resource, scope, span, event and link
// attributes. It returns how many values it replaced.
func (k *Keys) Traces(td ptrace.Traces) int {
	if !k.Active() {
		return 0
	}
	n := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		n += k.Attributes(rs.Resource().Attributes())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			n += k.Attributes(ss.Scope().Attributes())
			spans := ss.Spans()
			for s := 0; s < spans.Len(); s++ {
				sp := spans.At(s)
				n += k.Attributes(sp.Attributes())
				for e := 0; e < sp.Events().Len(); e++ {
					n += k.Attributes(sp.Events().At(e).Attributes())
				}
				for l := 0; l < sp.Links().Len(); l++ {
					n += k.Attributes(sp.Links().At(l).Attributes())
				}
			}
		}
	}
	return n
}

// Logs redacts ld in place: resource, scope and record attributes and
// record bodies (a map, or a JSON text). It returns how many values it
// replaced.
func (k *Keys) Logs(ld plog.Logs) int {
	if !k.Active() {
		return 0
	}
	n := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		n += k.Attributes(rl.Resource().Attributes())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			n += k.Attributes(sl.Scope().Attributes())
			lrs := sl.LogRecords()
			for r := 0; r < lrs.Len(); r++ {
				lr := lrs.At(r)
				n += k.Attributes(lr.Attributes())
				n += k.pvalue(lr.Body())
			}
		}
	}
	return n
}

// Attributes redacts a map of attributes in place. The value of a
// matching key becomes "[REDACTED]" when it is a string, bytes, a map or
// a list; numbers and booleans are kept (token counts such as
// gen_ai.usage.input_tokens are not secrets). Other values are searched:
// nested maps and lists by key, strings holding JSON by Text.
func (k *Keys) Attributes(m pcommon.Map) int {
	n := 0
	for key, v := range m.All() {
		if k.Match(key) {
			switch v.Type() {
			case pcommon.ValueTypeStr, pcommon.ValueTypeBytes, pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
				if v.Type() != pcommon.ValueTypeStr || v.Str() != Redacted {
					v.SetStr(Redacted)
					n++
				}
			}
			continue
		}
		n += k.pvalue(v)
	}
	return n
}

func (k *Keys) pvalue(v pcommon.Value) int {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if s, ok := k.Text(v.Str()); ok {
			v.SetStr(s)
			return 1
		}
	case pcommon.ValueTypeMap:
		return k.Attributes(v.Map())
	case pcommon.ValueTypeSlice:
		n := 0
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			n += k.pvalue(sl.At(i))
		}
		return n
	}
	return 0
}

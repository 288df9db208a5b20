package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/arguslabs/argus-otel/internal/jsonscan/jsonscantest"
	"github.com/arguslabs/argus-otel/internal/loadgen"
)

// The scans against encoding/json and github.com/go-json-experiment/json
// (jsontext and the v2 decoder, the coming encoding/json/v2) on the same
// texts: the states of the load generator's traffic (1-20 KiB of JSON with
// prose) and every JSON-like attribute of the fixtures. BENCHMARKS.md keeps
// the figures; a scan of this package stays only where it is faster.

func benchTexts(b *testing.B) map[string][]string {
	g, err := loadgen.NewGenerator(loadgen.DefaultShape(), 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	td, spans := g.NewRequest()
	for range 8 {
		g.AddRun(spans, time.Unix(1700000000, 0))
	}
	var load []string
	for _, span := range spans.All() {
		for _, k := range []string{"input.value", "output.value"} {
			if v, ok := span.Attributes().Get(k); ok && v.Type() == pcommon.ValueTypeStr {
				load = append(load, v.Str())
			}
		}
	}
	_ = td
	var fixtures []string
	for _, s := range jsonscantest.FixtureStates(b) {
		if json.Valid([]byte(s)) {
			fixtures = append(fixtures, s)
		}
	}
	return map[string][]string{"loadgen": load, "fixtures": fixtures}
}

func benchEach(b *testing.B, texts []string, f func(s string, bs []byte)) {
	bs := make([][]byte, len(texts))
	var n int64
	for i, s := range texts {
		bs[i] = []byte(s)
		n += int64(len(s))
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for i, s := range texts {
			f(s, bs[i])
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	v1 := jsonv1.DefaultOptionsV1()
	for name, texts := range benchTexts(b) {
		b.Run(name+"/jsonscan", func(b *testing.B) {
			benchEach(b, texts, func(s string, _ []byte) {
				if _, err := Decode(s, UTF8Strict); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/encoding_json", func(b *testing.B) {
			benchEach(b, texts, func(_ string, bs []byte) {
				var v any
				if err := json.Unmarshal(bs, &v); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/jsonv2", func(b *testing.B) {
			benchEach(b, texts, func(_ string, bs []byte) {
				var v any
				if err := jsonv2.Unmarshal(bs, &v, v1); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

func BenchmarkValid(b *testing.B) {
	opts := []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}
	for name, texts := range benchTexts(b) {
		b.Run(name+"/jsonscan", func(b *testing.B) {
			benchEach(b, texts, func(_ string, bs []byte) {
				if _, ok := ValidBytes(bs); !ok {
					b.Fatal("invalid")
				}
			})
		})
		b.Run(name+"/encoding_json", func(b *testing.B) {
			benchEach(b, texts, func(_ string, bs []byte) {
				if !json.Valid(bs) {
					b.Fatal("invalid")
				}
			})
		})
		b.Run(name+"/jsontext", func(b *testing.B) {
			benchEach(b, texts, func(_ string, bs []byte) {
				if !jsontext.Value(bs).IsValid(opts...) {
					b.Fatal("invalid")
				}
			})
		})
	}
}

// BenchmarkVerbatim: jsontext's side is a token walk that checks
// duplicate names and UTF-8 but measures nothing, so it is less work than
// Verbatim does.
func BenchmarkVerbatim(b *testing.B) {
	rule := Verbatim{MaxDepth: 512, MaxNumber: 40, MaxExponent: 300}
	for name, texts := range benchTexts(b) {
		b.Run(name+"/jsonscan", func(b *testing.B) {
			benchEach(b, texts, func(s string, _ []byte) { rule.Scan(s) })
		})
		b.Run(name+"/jsontext_tokens", func(b *testing.B) {
			var dec jsontext.Decoder
			benchEach(b, texts, func(_ string, bs []byte) {
				dec.Reset(bytes.NewReader(bs))
				for {
					if _, err := dec.ReadToken(); err != nil {
						break
					}
				}
			})
		})
	}
}

// Package jsonscan is the project's one JSON grammar: hand-written scanners
// over JSON text, for the places where encoding/json's cost showed in the
// benchmarks (its decoder validates the whole input before decoding it in a
// second pass, and its scanner calls a state function per byte).
//
//   - Decode and DecodeFields: the values json.Unmarshal would give, in one
//     pass (the mapping's states and OpenInference metadata).
//   - Verbatim: whether a text can be stored as it is in place of its decoded
//     value, and the length json.Marshal gives that value (the exporter's raw
//     states, the redactor's no-op check).
//   - Valid: json.Valid and the nesting depth (the store's row checks).
//
// All three are built on one core (grammar.go: blanks, literals, numbers,
// separators, escapes; swar.go: runs of plain string bytes found 8 at a
// time) and each is fuzzed against encoding/json.
package jsonscan

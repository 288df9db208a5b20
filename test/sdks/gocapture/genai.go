package gocapture

import "encoding/json"

// Message is one entry of gen_ai.input.messages / gen_ai.output.messages,
// in the GenAI conventions' JSON schema (semconv 1.40).
type Message struct {
	Role         string `json:"role"`
	Parts        []Part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"` // output messages
}

// Part is a text, tool_call or tool_call_response part of a Message.
type Part struct {
	Type      string          `json:"type"`
	Content   string          `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Response  json.RawMessage `json:"response,omitempty"`
}

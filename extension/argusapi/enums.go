package argusapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Default enum values: the audit-log service's usual ones, plus what the
// argus exporter writes for tool calls (event type TOOL_CALL, actor type
// AGENT, target type TOOL).
var (
	DefaultEventTypes  = []string{"MANAGEMENT_EVENT", "USER_MANAGEMENT", "DATA_FETCH", "POLICY_CHECK", "CONSENT_CHECK", "TOOL_CALL"}
	DefaultActorTypes  = []string{"SERVICE", "ADMIN", "MEMBER", "SYSTEM", "USER", "AGENT"}
	DefaultTargetTypes = []string{"SERVICE", "RESOURCE", "USER", "TOOL"}
	// DefaultActions is empty: any action is allowed, as the exporter's
	// tool-call records use the tool's name as their action.
	DefaultActions []string
)

// Enums are the allowed values of an audit log's enumerated fields.
type Enums struct {
	EventTypes  []string
	Actions     []string // empty: any action
	ActorTypes  []string
	TargetTypes []string
}

// enumsFile is the audit-log service's configs/enums.yaml.
type enumsFile struct {
	Enums struct {
		EventTypes   []string `yaml:"eventTypes"`
		EventActions []string `yaml:"eventActions"`
		ActorTypes   []string `yaml:"actorTypes"`
		TargetTypes  []string `yaml:"targetTypes"`
	} `yaml:"enums"`
}

// maxEnumsFile bounds what is read of an enums file.
const maxEnumsFile = 1 << 20

// enums resolves each list: the collector config's list when set, else the
// enums file's, else the default.
func (a AuditConfig) enums() (Enums, error) {
	var f enumsFile
	if a.EnumsFile != "" {
		var err error
		if f, err = readEnumsFile(a.EnumsFile); err != nil {
			return Enums{}, fmt.Errorf("audit::enums_file: %w", err)
		}
	}
	pick := func(cfg, file, def []string) []string {
		switch {
		case len(cfg) > 0:
			return cfg
		case len(file) > 0:
			return file
		}
		return def
	}
	e := Enums{
		EventTypes:  pick(a.EventTypes, f.Enums.EventTypes, DefaultEventTypes),
		Actions:     pick(a.Actions, f.Enums.EventActions, DefaultActions),
		ActorTypes:  pick(a.ActorTypes, f.Enums.ActorTypes, DefaultActorTypes),
		TargetTypes: pick(a.TargetTypes, f.Enums.TargetTypes, DefaultTargetTypes),
	}
	var errs []error
	for _, l := range []struct {
		key  string
		vals []string
	}{
		{"event_types", e.EventTypes}, {"actions", e.Actions},
		{"actor_types", e.ActorTypes}, {"target_types", e.TargetTypes},
	} {
		for i, v := range l.vals {
			if strings.TrimSpace(v) == "" || strings.TrimSpace(v) != v {
				errs = append(errs, fmt.Errorf("audit::%s[%d]: %q must be non-empty without surrounding spaces", l.key, i, v))
			}
		}
	}
	return e, errors.Join(errs...)
}

func readEnumsFile(path string) (enumsFile, error) {
	var f enumsFile
	fh, err := os.Open(path)
	if err != nil {
		return f, err
	}
	defer fh.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(fh, maxEnumsFile+1)); err != nil {
		return f, fmt.Errorf("read %q: %w", path, err)
	}
	if buf.Len() > maxEnumsFile {
		return f, fmt.Errorf("%q is larger than %d bytes", path, maxEnumsFile)
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true) // a misspelt key would otherwise silently keep a default
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("parse %q: %w", path, err)
	}
	if f.Enums.EventTypes == nil && f.Enums.EventActions == nil && f.Enums.ActorTypes == nil && f.Enums.TargetTypes == nil {
		return f, fmt.Errorf("%q has no enums (want enums: {eventTypes, eventActions, actorTypes, targetTypes})", path)
	}
	return f, nil
}

// check reports whether v is allowed by list (an empty list allows
// anything) and, when not, an error listing the allowed values.
func check(field, v string, list []string) error {
	if len(list) == 0 || slices.Contains(list, v) {
		return nil
	}
	return fmt.Errorf("%s %q is not allowed (allowed: %s)", field, v, strings.Join(list, ", "))
}

package argusapi

import (
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
)

var _ extensioncapabilities.ComponentStatusWatcher = (*api)(nil)

// statuses keeps the latest component status of each pipeline component,
// as the collector reports them to extensions (ComponentStatusWatcher),
// so /health shows a component whose writes fail (the argus exporter
// reports StatusRecoverableError) until it reports StatusOK again.
type statuses struct {
	mu sync.Mutex
	m  map[string]string // kind/id -> error of an error status
}

// Changed implements extensioncapabilities.ComponentStatusWatcher: the
// collector's service calls it for every status a component reports.
func (a *api) Changed(source *componentstatus.InstanceID, event *componentstatus.Event) {
	if source.Kind() == component.KindExtension {
		return
	}
	a.statuses.set(strings.ToLower(source.Kind().String())+"/"+source.ComponentID().String(), event)
}

func (s *statuses) set(name string, event *componentstatus.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !componentstatus.StatusIsError(event.Status()) {
		delete(s.m, name)
		return
	}
	if s.m == nil {
		s.m = map[string]string{}
	}
	msg := event.Status().String()
	if event.Err() != nil {
		msg += ": " + event.Err().Error()
	}
	s.m[name] = msg
}

// errors returns the components in an error status, nil when none.
func (s *statuses) errors() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) == 0 {
		return nil
	}
	out := make(map[string]string, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

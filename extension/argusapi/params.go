package argusapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/store"
)

// Paging defaults; store.MaxLimit is the largest page.
const defaultLimit = 100

// params are the query parameters of one request, checked up front: an
// unknown, repeated or empty parameter is a 400 naming it, so a typo never
// silently widens a query.
type params struct {
	vals url.Values
	now  time.Time
}

func parseParams(r *http.Request, allowed ...string) (*params, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, msg: "invalid query string", details: err.Error()}
	}
	return checkParams(vals, allowed...)
}

// checkParams is parseParams for values already parsed.
func checkParams(vals url.Values, allowed ...string) (*params, error) {
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		switch v := vals[k]; {
		case !slices.Contains(allowed, k):
			list := "none"
			if len(allowed) > 0 {
				list = strings.Join(allowed, ", ")
			}
			return nil, &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("unknown parameter %q", k),
				details: "allowed parameters: " + list}
		case len(v) > 1:
			return nil, badParam(k, "given %d times; give it once", len(v))
		case v[0] == "":
			return nil, badParam(k, "must not be empty; leave it out to match any value")
		}
	}
	return &params{vals: vals, now: time.Now().UTC()}, nil
}

func (p *params) str(name string) string { return p.vals.Get(name) }

// oneOf returns the parameter when it is one of allowed ("" when absent).
func (p *params) oneOf(name string, allowed ...string) (string, error) {
	v := p.str(name)
	if v != "" && !slices.Contains(allowed, v) {
		return "", badParam(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	return v, nil
}

// page returns limit (default 100, 1 to 1000) and offset (default 0).
func (p *params) page() (limit, offset int, err error) {
	limit, offset = defaultLimit, 0
	if v := p.str("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxLimit {
			return 0, 0, badParam("limit", "%q is not an integer from 1 to %d", v, store.MaxLimit)
		}
		limit = n
	}
	if v := p.str("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, badParam("offset", "%q is not a non-negative integer", v)
		}
		offset = n
	}
	return limit, offset, nil
}

// time reads an RFC 3339 time, a date (UTC midnight) or a duration back
// from now ("90m", "24h", "7d"); zero when absent.
func (p *params) time(name string) (time.Time, error) {
	v := p.str(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if d, ok := parseAgo(v); ok {
		return p.now.Add(-d), nil
	}
	return time.Time{}, badParam(name, "%q is not an RFC 3339 time (2026-01-31T12:00:00Z), a date (2026-01-31) or a positive duration ago (90m, 24h, 7d)", v)
}

// timeRange reads since and until and checks that until is after since.
func (p *params) timeRange() (since, until time.Time, err error) {
	if since, err = p.time("since"); err != nil {
		return
	}
	if until, err = p.time("until"); err != nil {
		return
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		err = badParam("until", "%s is not after since (%s)", until.Format(time.RFC3339Nano), since.Format(time.RFC3339Nano))
	}
	return
}

// parseAgo reads a positive Go duration, or whole days as "7d".
func parseAgo(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 100*365 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}

// pageInfo is the envelope fields shared by every list answer.
type pageInfo struct {
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

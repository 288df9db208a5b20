package argusapi

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/report"
)

// The web UI: server-rendered pages over the same store and server as the
// API. No script at all; one style sheet served by the extension, so the
// policy allows nothing inline and nothing from another origin.
const uiCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// uiRoot is the UI's home: the pipelines page.
const uiRoot = "/ui/"

//go:embed ui/*.tmpl ui/ui.css
var uiFiles embed.FS

var uiCSS = mustRead("ui/ui.css")

func mustRead(name string) []byte {
	b, err := uiFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// uiPages are the page templates, each executed as "layout" with its own
// "content".
var uiPages = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"dur":    report.FormatDuration,
		"ts":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"orNone": orNone,
		"pct": func(n, of int) string {
			if of == 0 {
				return "0%"
			}
			return strconv.FormatFloat(float64(n)*100/float64(of), 'f', 1, 64) + "%"
		},
	}
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(uiFiles, "ui/layout.html.tmpl"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"pipelines", "runs", "run", "detections", "error"} {
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(uiFiles, "ui/"+name+".html.tmpl"))
	}
	return pages
}()

// pageData is what every page's layout needs.
type pageData struct {
	Title     string
	Nav       string // the nav entry to mark current
	ReportCSS bool   // the run page also links the report's style sheet
	Body      any
}

// uiRoutes registers the pages and their assets.
func (a *api) uiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, uiRoot, http.StatusSeeOther)
	})
	a.page(mux, uiRoot+"{$}", a.uiPipelines)
	a.page(mux, uiRoot+"runs", a.uiRuns)
	a.page(mux, uiRoot+"runs/{id}", a.uiRun)
	a.page(mux, uiRoot+"detections", a.uiDetections)
	asset := func(path, body string) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			_, _ = w.Write([]byte(body))
		})
	}
	asset(uiRoot+"static/ui.css", string(uiCSS))
	asset(uiRoot+"static/report.css", report.ReportCSS())
}

// pageHandler renders a page; an error becomes an HTML error page.
type pageHandler func(r *http.Request) (name string, d pageData, status int, err error)

// page registers a page for GET (and HEAD).
func (a *api) page(mux *http.ServeMux, pattern string, h pageHandler) {
	mux.HandleFunc("GET "+pattern, func(w http.ResponseWriter, r *http.Request) {
		name, d, status, err := h(r)
		if err != nil {
			name, d, status = a.errorPage(r, err)
		}
		var buf bytes.Buffer
		if err := uiPages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
			a.set.Logger.Error("argusapi: render page", zap.String("page", name), zap.Error(err))
			writeError(w, &apiError{status: http.StatusInternalServerError, msg: "render page", details: err.Error()})
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	})
}

type errorView struct {
	Status  int
	Message string
	Details string
}

// errorPage is the page of a failed request, with the status the API
// would answer.
func (a *api) errorPage(r *http.Request, err error) (string, pageData, int) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = storeError(err)
	}
	if ae.status >= 500 {
		a.set.Logger.Warn("argusapi: page failed", zap.String("path", r.URL.Path), zap.Int("status", ae.status), zap.Error(err))
	}
	return "error", pageData{Title: http.StatusText(ae.status), Body: errorView{ae.status, ae.msg, ae.details}}, ae.status
}

// uiURL is the URL a person opens: the bound address (a wildcard shown as
// localhost) and the scheme the server speaks.
func uiURL(addr net.Addr, tls bool) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: uiRoot}
	if tls {
		u.Scheme = "https"
	}
	return u.String()
}

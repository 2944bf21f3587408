package console

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/durable"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/lifecycle"
)

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // the menu entry to mark: fleet, queues, jobs, orchestrations or schedules
	Who     string // the operator logged in, "" if none
	CanAct  bool   // tokens are configured: show the action buttons
	Error   string // what went wrong with the last action
	Done    string // what the last action did
	Notice  string // about the data shown (part of the live section)
	Next    string // where the login page goes after
	Events  string // the live-update URL of this page
	Refresh int    // milliseconds between updates
	Data    any
}

var funcs = template.FuncMap{
	"ago": ago,
	"dur": durAny,
	"deref": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
	"rate":     func(f float64) string { return fmt.Sprintf("%.1f/s", f) },
	"spark":    spark,
	"stateCls": stateClass,
	"path":     url.PathEscape,
	"sum": func(v []uint64) (s uint64) {
		for _, x := range v {
			s += x
		}
		return
	},
	"trunc": func(n int, s string) string {
		if len(s) <= n {
			return s
		}
		return s[:n] + "…"
	},
	"runCls":  runClass,
	"orchCls": orchClass,
	"runDur":  func(r jobs.Run) string { return dur(r.Duration(time.Now())) },
	"runAgo": func(r jobs.Run) string {
		t := r.StartedAt
		if t.IsZero() {
			t = r.CreatedAt
		}
		return ago(time.Since(t))
	},
	"result": runResult,
	"stamp":  stamp,
	"clock":  func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
	"args":   func(a []string) string { return fmt.Sprintf("%q", a) },
	"join":   func(a []string) string { return strings.Join(a, " ") },
}

// runClass is the CSS class of a run's state.
func runClass(s jobs.State) string {
	switch s {
	case jobs.Completed:
		return "run-ok"
	case jobs.Running:
		return "run-running"
	case jobs.Failed:
		return "run-failed"
	case jobs.Disconnected:
		return "run-lost"
	}
	return "run-idle" // NotStarted, Stopped
}

// orchClass is the CSS class of an orchestration's runtimeStatus, in the
// colours of the run states: green done, blue running, red failed, amber
// ended by an operator, grey waiting.
func orchClass(s durable.RuntimeStatus) string {
	switch s {
	case durable.Completed:
		return "run-ok"
	case durable.Running:
		return "run-running"
	case durable.Failed:
		return "run-failed"
	case durable.Terminated:
		return "run-lost"
	}
	return "run-idle" // Pending, ContinuedAsNew
}

// runResult is a run's error, else its exit code, as the jobs verb shows.
func runResult(r jobs.Run) string {
	switch {
	case r.Error != "":
		return r.Error
	case r.ExitCode != nil:
		return fmt.Sprintf("exit %d", *r.ExitCode)
	}
	return "—"
}

// stamp is a time of a run record, in UTC as the jobs verbs print it.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// stateClass is the CSS class of a host state, so states read at a glance.
func stateClass(state string, gone bool, failures int, frozen string) string {
	switch {
	case gone:
		return "st-gone"
	case frozen != "":
		return "st-frozen"
	case failures > 0:
		return "st-failing"
	}
	switch state {
	case "running", "ready":
		return "st-ok"
	case "stopping", "stopped":
		return "st-stopping"
	}
	return "st-busy"
}

func ago(d time.Duration) string {
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh ago", int(d.Hours()))
}

// durAny formats a time.Duration or a lifecycle.Duration.
func durAny(v any) string {
	switch d := v.(type) {
	case time.Duration:
		return dur(d)
	case lifecycle.Duration:
		return dur(time.Duration(d))
	case jobs.Duration:
		return dur(time.Duration(d))
	}
	return fmt.Sprint(v)
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// spark draws values as a small inline SVG line.
func spark(v []float64) template.HTML {
	if len(v) < 2 {
		return ""
	}
	const w, h = 120.0, 24.0
	top := 0.0
	for _, x := range v {
		top = math.Max(top, x)
	}
	if top == 0 {
		top = 1
	}
	var pts strings.Builder
	for i, x := range v {
		fmt.Fprintf(&pts, "%.1f,%.1f ", float64(i)*w/float64(len(v)-1), h-1-x/top*(h-2))
	}
	return template.HTML(fmt.Sprintf(`<svg class="spark" width="%g" height="%g" viewBox="0 0 %g %g" aria-hidden="true"><polyline points="%s"/></svg>`, w, h, w, h, strings.TrimSpace(pts.String())))
}

// render writes a whole page.
func (c *Console) render(w http.ResponseWriter, name string, p page) {
	p.CanAct = len(c.o.Tokens) > 0
	if p.Refresh == 0 {
		p.Refresh = int(c.o.Refresh / time.Millisecond)
	}
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, name, p); err != nil {
		http.Error(w, "console: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	buf.WriteTo(w)
}

func urlEscape(s string) string { return url.QueryEscape(s) }

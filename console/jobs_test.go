package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/jobs"
	"github.com/cloudrole/cloudrole/queue"
)

type jobsFixture struct {
	srv     *httptest.Server
	qc      *queue.Client
	jc      *jobs.Client // nil without a runner
	logs    *testutil.Buffer
	release chan struct{} // closed: runs of hold return
}

// startJobs serves a console on a real embedded server; with runner, a
// real job runner defines greet (prints its arguments, and an ERROR
// line; fails with "fail"), hold (a singleton that runs until stopped or
// released) and chatty (2,050 lines).
func startJobs(t *testing.T, runner bool) *jobsFixture {
	t.Helper()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: t.TempDir(), Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx := context.Background()
	qc, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := &jobsFixture{qc: qc, logs: &testutil.Buffer{}, release: make(chan struct{})}
	if runner {
		f.jc = startRunner(t, p, f.release)
	}
	c, err := New(Options{Host: &fakeHost{}, Queues: p, Tokens: []config.Token{{Name: "alice", Secret: token}}, OpenReads: true,
		Logger: newLogger(f.logs), Refresh: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Routes(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func startRunner(t *testing.T, p *queue.Provider, release chan struct{}) *jobs.Client {
	t.Helper()
	r, err := jobs.NewRunner(jobs.Options{Connect: p.Client, Instance: "orders_1", DataDir: t.TempDir(),
		Heartbeat: 100 * time.Millisecond, FailAfter: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	add := func(j jobs.Job) {
		if err := r.Add(j); err != nil {
			t.Fatal(err)
		}
	}
	add(jobs.Job{Name: "greet", Func: func(ctx context.Context, inv *jobs.Invocation) error {
		inv.Printf("hello %s", strings.Join(inv.Args, "|"))
		fmt.Fprintln(inv.Stderr, "a warning")
		if slices.Contains(inv.Args, "fail") {
			return errors.New("disk full")
		}
		return nil
	}})
	add(jobs.Job{Name: "hold", Singleton: true, StoppingWait: 10 * time.Second, Func: func(ctx context.Context, inv *jobs.Invocation) error {
		inv.Printf("holding")
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil
	}})
	add(jobs.Job{Name: "chatty", Func: func(ctx context.Context, inv *jobs.Invocation) error {
		for i := 1; i <= maxShownLines+50; i++ {
			inv.Printf("line %d", i)
		}
		return nil
	}})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("runner stop: %v", err)
		}
	})
	qc, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jc, err := jobs.NewClient(context.Background(), qc, jobs.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the three definitions", func() bool { d, _ := jc.Jobs(context.Background()); return len(d) == 3 })
	return jc
}

func (f *jobsFixture) run(t *testing.T, job string, args ...string) jobs.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := f.jc.Start(ctx, job, jobs.StartOptions{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.jc.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

// The jobs pages, from a real runner's definitions and runs: every job
// with its last run, a job's history with a state filter, a run with its
// record and output (stdout and stderr styled apart, the last 2,000 lines
// with a note), the raw output; clear notices for an unknown job and bad
// run IDs. Reading hands no output over.
func TestJobsPages(t *testing.T) {
	f := startJobs(t, true)
	c := f.srv.Client()
	ok := f.run(t, "greet", "big world", "x")
	bad := f.run(t, "greet", "fail")
	if ok.State != jobs.Completed || bad.State != jobs.Failed {
		t.Fatalf("runs: %s, %s", ok.State, bad.State)
	}

	code, body := get(t, c, f.srv.URL+"/console/jobs")
	if code != 200 {
		t.Fatalf("jobs page %d:\n%s", code, body)
	}
	mustContain(t, "jobs page", body, `href="/console/jobs" class="on">Jobs`, `id="job-greet"`, `id="job-hold"`, `id="job-chatty"`,
		`href="/console/jobs/greet/runs/`+bad.ID+`"`, `<span class="state run-failed">Failed</span>`, `data-job="greet"`, "orders_1")

	code, body = get(t, c, f.srv.URL+"/console/jobs/greet")
	if code != 200 {
		t.Fatalf("job page %d:\n%s", code, body)
	}
	mustContain(t, "job page", body, ok.ID, bad.ID, `<code>[&#34;big world&#34; &#34;x&#34;]</code>`, "disk full", `name="args"`, "published by orders_1")
	if i, j := strings.Index(body, bad.ID), strings.Index(body, ok.ID); i > j {
		t.Fatal("the job page lists the older run first")
	}
	if _, body = get(t, c, f.srv.URL+"/console/jobs/greet?state=Failed"); !strings.Contains(body, bad.ID) || strings.Contains(body, ok.ID) {
		t.Fatalf("the Failed filter shows:\n%s", body)
	}
	_, body = get(t, c, f.srv.URL+"/console/jobs/greet?state=Bogus")
	mustContain(t, "a bad filter", body, "unknown state &#34;Bogus&#34;")

	code, body = get(t, c, f.srv.URL+"/console/jobs/greet/runs/"+ok.ID)
	if code != 200 {
		t.Fatalf("run page %d:\n%s", code, body)
	}
	mustContain(t, "run page", body, `<span class="state run-ok">Completed</span>`, `<div class="ln out">`, `<span class="lv">INFO</span>hello big world|x`,
		`<div class="ln err">`, `<span class="lv">ERROR</span>a warning`, "/console/jobs/greet/runs/"+ok.ID+"/output")
	if strings.Contains(body, "data-events") {
		t.Fatal("an ended run's page asks for live updates")
	}
	_, raw := get(t, c, f.srv.URL+"/console/jobs/greet/runs/"+ok.ID+"/output")
	mustContain(t, "raw output", raw, "INFO  hello big world|x\n", "ERROR a warning\n")

	// The last 2,000 lines, and how many are not shown.
	chatty := f.run(t, "chatty")
	_, body = get(t, c, f.srv.URL+"/console/jobs/chatty/runs/"+chatty.ID)
	mustContain(t, "a long output", body, "50 earlier lines not shown", ">line 51</div>", ">line 2050</div>")
	if n := strings.Count(body, `<div class="ln `); n != maxShownLines || strings.Contains(body, ">line 50</div>") {
		t.Fatalf("%d lines shown, want the last %d", n, maxShownLines)
	}
	if _, raw = get(t, c, f.srv.URL+"/console/jobs/chatty/runs/"+chatty.ID+"/output"); strings.Count(raw, "\n") != maxShownLines+50 {
		t.Fatalf("raw output has %d lines", strings.Count(raw, "\n"))
	}

	// Unknown job, bad run IDs: a notice each.
	for u, want := range map[string]string{
		"/console/jobs/nope":           "no job nope in this fleet",
		"/console/jobs/greet/runs/bad": "bad run id",
		"/console/jobs/greet/runs/" + strings.Replace(ok.ID, "greet.", "hold.", 1): "is not a run of job greet",
		"/console/jobs/greet/runs/greet.20200101T000000Z-abcdef":                   "no run greet.20200101T000000Z-abcdef of job greet is stored",
	} {
		code, body := get(t, c, f.srv.URL+u)
		if code != 200 || !strings.Contains(body, `<p class="notice">`) || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want a notice %q:\n%s", u, code, want, body)
		}
	}
	if code, body := get(t, c, f.srv.URL+"/console/jobs/greet/runs/bad/output"); code != http.StatusBadRequest || !strings.Contains(body, "bad run id") {
		t.Errorf("raw output of a bad ID: %d %s", code, body)
	}

	// The console read with Keep: receive still gets every line.
	if r, err := f.jc.Get(context.Background(), ok.ID); err != nil || !r.HasMoreData {
		t.Fatalf("after the pages: HasMoreData %v, %v", r.HasMoreData, err)
	}
}

// Run and stop need a token and a same-origin request; nothing starts
// without. A run redirects to the new run's page; arguments are one per
// line; a singleton already running is refused, saying so; stop stops the
// run; both are logged with who.
func TestJobActions(t *testing.T) {
	f := startJobs(t, true)
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ctx := context.Background()
	bearer := map[string]string{"Authorization": "Bearer " + token}
	count := func() int { runs, _ := f.jc.List(ctx, jobs.Filter{}); return len(runs) }

	form := url.Values{"args": {"a b\r\nc\r\n\r\n"}, "next": {"/console/jobs/greet"}}
	if code, _ := post(t, c, f.srv.URL+"/console/jobs/greet/run", form, nil); code != http.StatusUnauthorized {
		t.Fatalf("run without a token: %d", code)
	}
	cross := map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	if code, _ := post(t, c, f.srv.URL+"/console/jobs/greet/run", form, cross); code != http.StatusForbidden {
		t.Fatalf("cross-site run: %d", code)
	}
	if n := count(); n != 0 {
		t.Fatalf("refused runs started %d runs", n)
	}

	loc := postLocation(t, c, f.srv.URL+"/console/jobs/greet/run", form, bearer)
	u, _ := url.Parse(loc)
	id, found := strings.CutPrefix(u.Path, "/console/jobs/greet/runs/")
	if !found || !strings.HasPrefix(u.Query().Get("notice"), "started run "+id) {
		t.Fatalf("run redirects to %s", loc)
	}
	r, err := f.jc.Wait(ctx, id)
	if err != nil || r.State != jobs.Completed || !slices.Equal(r.Trigger.Args, []string{"a b", "c"}) || r.Trigger.Type != jobs.TriggerManual {
		t.Fatalf("the run: %+v, %v", r, err)
	}
	_, body := get(t, c, f.srv.URL+loc)
	mustContain(t, "the new run's page", body, "started run "+id, "hello a b|c")

	// A singleton with a run running: refused, and the error says why.
	loc = postLocation(t, c, f.srv.URL+"/console/jobs/hold/run", url.Values{}, bearer)
	u, _ = url.Parse(loc)
	hold := strings.TrimPrefix(u.Path, "/console/jobs/hold/runs/")
	waitUntil(t, "hold running", func() bool { r, _ := f.jc.Get(ctx, hold); return r.State == jobs.Running })
	loc = postLocation(t, c, f.srv.URL+"/console/jobs/hold/run", url.Values{"next": {"/console/jobs"}}, bearer)
	if u, _ = url.Parse(loc); u.Path != "/console/jobs" || !strings.Contains(u.Query().Get("error"), "already queued or running") ||
		!strings.Contains(u.Query().Get("error"), hold) {
		t.Fatalf("a second run of a singleton redirects to %s", loc)
	}
	_, body = get(t, c, f.srv.URL+loc)
	mustContain(t, "the refusal", body, `<p class="error" role="alert">not started: `)

	// Stop: refused without a token, then stops the run.
	stop := f.srv.URL + "/console/jobs/hold/runs/" + hold + "/stop"
	if code, _ := post(t, c, stop, url.Values{}, nil); code != http.StatusUnauthorized {
		t.Fatalf("stop without a token: %d", code)
	}
	_, body = get(t, c, f.srv.URL+"/console/jobs/hold/runs/"+hold)
	mustContain(t, "a running run's page", body, `id="stop"`, `data-events="/console/events?view=run&amp;job=hold&amp;id=`+hold)
	loc = postLocation(t, c, stop, url.Values{"next": {"/console/jobs/hold/runs/" + hold}}, bearer)
	if u, _ = url.Parse(loc); !strings.HasPrefix(u.Query().Get("notice"), "stop requested") {
		t.Fatalf("stop redirects to %s", loc)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if r, err := f.jc.Wait(wctx, hold); err != nil || r.State != jobs.Stopped {
		t.Fatalf("after stop: %+v, %v", r, err)
	}
	loc = postLocation(t, c, stop, url.Values{}, bearer)
	if u, _ = url.Parse(loc); u.Query().Get("notice") != "run "+hold+" is Stopped" {
		t.Fatalf("stopping an ended run redirects to %s", loc)
	}
	if loc = postLocation(t, c, f.srv.URL+"/console/jobs/hold/runs/nope/stop", url.Values{}, bearer); !strings.Contains(loc, "bad+run+id") {
		t.Fatalf("stop of a bad run ID redirects to %s", loc)
	}

	logs := f.logs.String()
	for _, want := range []string{`by=alice action=run job=greet run=` + id + ` args=2 error=""`, `action=run job=hold run="" args=0 error="jobs: a run`,
		`by=alice action=stop job=hold run=` + hold + ` error=""`, `msg="console: action refused: no valid token" action=/console/jobs/greet/run`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// postLocation posts a form and returns the redirect's Location.
func postLocation(t *testing.T, c *http.Client, u string, form url.Values, hdr map[string]string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d, want a redirect", u, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// A running run's page updates live, and its stream ends once the run has
// ended.
func TestRunPageLive(t *testing.T) {
	f := startJobs(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := f.jc.Start(ctx, "hold", jobs.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/console/events?view=run&job=hold&id="+url.QueryEscape(id), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	released := false
	for sc.Scan() {
		line := sc.Text()
		if !released && strings.Contains(line, ">holding</div>") {
			close(f.release) // seen running with its output: let it end
			released = true
		}
		if line == "event: end" {
			if !released {
				t.Fatal("the stream ended before the run was seen running")
			}
			if sc.Scan(); sc.Text() != "data: end" {
				t.Fatalf("end event data %q", sc.Text())
			}
			if sc.Scan() && sc.Scan() {
				t.Fatalf("the stream goes on after its end: %q", sc.Text())
			}
			return
		}
	}
	t.Fatalf("the stream ended without an end event: %v", sc.Err())
}

// On a NATS where no instance ever had a job, the pages say so, a run is
// refused, and reading creates neither the jobs bucket nor its stream.
func TestNoJobsCreatesNothing(t *testing.T) {
	f := startJobs(t, false)
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, u := range []string{"/console/jobs", "/console/jobs/report", "/console/jobs/report/runs/report.20200101T000000Z-abcdef"} {
		code, body := get(t, c, f.srv.URL+u)
		if code != 200 || !strings.Contains(body, noJobs) {
			t.Errorf("%s: %d, want %q:\n%s", u, code, noJobs, body)
		}
	}
	if code, _ := get(t, c, f.srv.URL+"/console/jobs/report/runs/report.20200101T000000Z-abcdef/output"); code != http.StatusNotFound {
		t.Errorf("raw output: %d", code)
	}
	loc := postLocation(t, c, f.srv.URL+"/console/jobs/report/run", url.Values{}, map[string]string{"Authorization": "Bearer " + token})
	if !strings.Contains(loc, "error=not+started") {
		t.Errorf("a run redirects to %s", loc)
	}
	ctx := context.Background()
	if _, err := f.qc.JetStream().KeyValue(ctx, "cloudrole_jobs"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("the jobs bucket after reading: %v", err)
	}
	if _, err := f.qc.JetStream().Stream(ctx, "cloudrole_jobs_output"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("the output stream after reading: %v", err)
	}
}

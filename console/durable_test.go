package console

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cschleiden/go-workflows/workflow"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/durable"
)

func approveStep(_ context.Context, who string) (string, error) {
	if who == "fail" {
		return "", errors.New("card declined")
	}
	return "checked " + who, nil
}

// approval checks its input in an activity, then waits for an "approve"
// event and returns its data.
func approval(ctx workflow.Context, who string) (string, error) {
	opts := workflow.ActivityOptions{RetryOptions: workflow.RetryOptions{MaxAttempts: 1}}
	checked, err := workflow.ExecuteActivity[string](ctx, opts, approveStep, who).Get(ctx)
	if err != nil {
		return "", err
	}
	by, _ := workflow.NewSignalChannel[string](ctx, "approve").Receive(ctx)
	return checked + ", approved by " + by, nil
}

// startHub opens hub "orders" on f's server with real workers for
// approval, until the test ends.
func startHub(t *testing.T, f *jobsFixture) *durable.Hub {
	t.Helper()
	ctx := context.Background()
	h, err := durable.Open(ctx, durable.Options{Hub: "orders", Conn: f.qc.Conn()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.RegisterOrchestrator(approval); err != nil {
		t.Fatal(err)
	}
	if err := h.RegisterActivity(approveStep); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Work(wctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Work: %v", err)
		}
		h.Close()
	})
	return h
}

// waitStatus waits until the instance is in status rs.
func waitStatus(t *testing.T, h *durable.Hub, id string, rs durable.RuntimeStatus) *durable.Status {
	t.Helper()
	var st *durable.Status
	waitUntil(t, id+" "+string(rs), func() bool {
		s, err := h.Status(context.Background(), id)
		st = s
		return err == nil && s.RuntimeStatus == rs
	})
	return st
}

// waitWaiting waits until the instance has run its activity and waits for
// its event (its history has the activity's result).
func waitWaiting(t *testing.T, h *durable.Hub, id string) {
	t.Helper()
	waitUntil(t, id+" waiting for its event", func() bool {
		evs, _ := h.History(context.Background(), id)
		for _, e := range evs {
			if e.Type == "ActivityCompleted" {
				return true
			}
		}
		return false
	})
}

// orders starts three instances: one waiting for its event, one completed
// and one failed.
func orders(t *testing.T, h *durable.Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for id, who := range map[string]string{"wait-1": "ann", "done-1": "bob", "bad-1": "fail"} {
		if err := h.Start(ctx, approval, durable.StartOptions{InstanceID: id}, who); err != nil {
			t.Fatal(err)
		}
	}
	waitWaiting(t, h, "done-1")
	if err := h.RaiseEvent(ctx, "done-1", "approve", "carol"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"done-1", "bad-1"} {
		if _, err := h.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitWaiting(t, h, "wait-1")
}

// The orchestrations pages, from a real hub's instances: every instance
// with its runtimeStatus in colour, a filter by runtimeStatus, an
// instance with its record, input, output, failure and history, live
// while it runs; notices for a bad filter, an unknown instance and an
// unknown hub.
func TestOrchestrationsPages(t *testing.T) {
	f := startJobs(t, false)
	h := startHub(t, f)
	orders(t, h)
	c := f.srv.Client()

	code, body := get(t, c, f.srv.URL+"/console/orchestrations")
	if code != 200 {
		t.Fatalf("orchestrations page %d:\n%s", code, body)
	}
	mustContain(t, "orchestrations page", body, `href="/console/orchestrations" class="on">Orchestrations`, `href="/console/schedules">Schedules`,
		`id="orch-orders-wait-1"`, `<span class="state run-running">Running</span>`, `<span class="state run-ok">Completed</span>`,
		`<span class="state run-failed">Failed</span>`, "card declined", `href="/console/orchestrations/orders/done-1"`, "hubs: orders",
		`data-events="/console/events?view=orchestrations&amp;status="`)
	_, body = get(t, c, f.srv.URL+"/console/orchestrations?status=running")
	if !strings.Contains(body, "wait-1") || strings.Contains(body, "done-1") || strings.Contains(body, "bad-1") {
		t.Fatalf("the Running filter shows:\n%s", body)
	}
	_, body = get(t, c, f.srv.URL+"/console/orchestrations?status=Bogus")
	mustContain(t, "a bad filter", body, "unknown runtimeStatus &#34;Bogus&#34;: filter by one of Pending, Running")

	code, body = get(t, c, f.srv.URL+"/console/orchestrations/orders/done-1")
	if code != 200 {
		t.Fatalf("instance page %d:\n%s", code, body)
	}
	mustContain(t, "a completed instance", body, `<span class="state run-ok">Completed</span>`, `<pre class="json">&#34;bob&#34;</pre>`,
		`<pre class="json" id="output">&#34;checked bob, approved by carol&#34;</pre>`, "WorkflowExecutionStarted", "approval on queue default",
		"<td>ActivityScheduled</td>", "<td>SignalReceived</td>", `<td class="reason">approve</td>`, `id="purge"`)
	if strings.Contains(body, "data-events") || strings.Contains(body, `id="raise"`) {
		t.Fatal("an ended instance's page asks for live updates or offers raise")
	}
	_, body = get(t, c, f.srv.URL+"/console/orchestrations/orders/bad-1")
	mustContain(t, "a failed instance", body, `<span class="state run-failed">Failed</span>`, "card declined", "<td>ActivityFailed</td>")
	_, body = get(t, c, f.srv.URL+"/console/orchestrations/orders/wait-1")
	mustContain(t, "a running instance", body, `<span class="state run-running">Running</span>`, `id="raise"`, `id="terminate"`,
		`data-events="/console/events?view=orchestration&amp;hub=orders&amp;id=wait-1"`)

	for u, want := range map[string]string{
		"/console/orchestrations/orders/nope": "no orchestration instance nope in hub orders",
		"/console/orchestrations/billing/x":   "no hub billing in this fleet",
		"/console/orchestrations/bad%20hub/x": "no hub &#34;bad hub&#34;",
	} {
		code, body := get(t, c, f.srv.URL+u)
		if code != 200 || !strings.Contains(body, `<p class="notice">`) || !strings.Contains(body, want) || strings.Contains(body, "data-events") {
			t.Errorf("%s: %d, want a notice %q and no live updates:\n%s", u, code, want, body)
		}
	}
}

// Raise event, terminate and purge need a token and a same-origin
// request: refused without (no token, a wrong one, cross-site), nothing
// changes. Bad input is refused saying why; each action is logged with
// who and what.
func TestOrchestrationActions(t *testing.T) {
	f := startJobs(t, false)
	h := startHub(t, f)
	orders(t, h)
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	bearer := map[string]string{"Authorization": "Bearer " + token}
	base := f.srv.URL + "/console/orchestrations/orders/"
	raise := url.Values{"event": {"approve"}, "data": {`"dave"`}}

	for what, hdr := range map[string]map[string]string{
		"no token":    nil,
		"a wrong one": {"Authorization": "Bearer wrong-token-0123456789"},
	} {
		for _, a := range []string{"raise", "terminate", "purge"} {
			if code, _ := post(t, c, base+"wait-1/"+a, url.Values{"event": {"approve"}, "confirm": {"wait-1"}}, hdr); code != http.StatusUnauthorized {
				t.Errorf("%s with %s: %d", a, what, code)
			}
		}
	}
	cross := map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	for _, a := range []string{"raise", "terminate", "purge"} {
		if code, _ := post(t, c, base+"wait-1/"+a, raise, cross); code != http.StatusForbidden {
			t.Errorf("cross-site %s: %d", a, code)
		}
	}
	if st, _ := h.Status(context.Background(), "wait-1"); st.RuntimeStatus != durable.Running {
		t.Fatalf("refused actions changed wait-1: %s", st.RuntimeStatus)
	}

	refusals := map[string]struct {
		u    string
		form url.Values
	}{
		"not raised: an event needs a name":                            {base + "wait-1/raise", url.Values{"data": {"1"}}},
		"not raised: the data is not JSON":                             {base + "wait-1/raise", url.Values{"event": {"approve"}, "data": {"dave"}}},
		"not raised: no orchestration instance nope in hub orders":     {base + "nope/raise", raise},
		"not raised: no hub billing in this fleet":                     {f.srv.URL + "/console/orchestrations/billing/x/raise", raise},
		"not raised: instance done-1 is not running":                   {base + "done-1/raise", raise},
		"not terminated: instance done-1 is not running":               {base + "done-1/terminate", url.Values{}},
		"not terminated: no orchestration instance nope in hub orders": {base + "nope/terminate", url.Values{}},
		"type the instance's ID to confirm a purge":                    {base + "done-1/purge", url.Values{"confirm": {"other"}}},
		"not purged: instance wait-1 is still running":                 {base + "wait-1/purge", url.Values{"confirm": {"wait-1"}}},
		"not purged: no orchestration instance nope in hub orders":     {base + "nope/purge", url.Values{"confirm": {"nope"}}},
	}
	for want, r := range refusals {
		loc := postLocation(t, c, r.u, r.form, bearer)
		u, _ := url.Parse(loc)
		if !strings.HasPrefix(u.Query().Get("error"), want) {
			t.Errorf("POST %s %v redirects to %s, want the error %q", r.u, r.form, loc, want)
		}
	}
	if st, _ := h.Status(context.Background(), "wait-1"); st.RuntimeStatus != durable.Running {
		t.Fatalf("refused actions changed wait-1: %s", st.RuntimeStatus)
	}

	// Raised: the instance completes with the event's data.
	loc := postLocation(t, c, base+"wait-1/raise", raise, bearer)
	if u, _ := url.Parse(loc); u.Path != "/console/orchestrations/orders/wait-1" || u.Query().Get("notice") != "raised approve on wait-1" {
		t.Fatalf("raise redirects to %s", loc)
	}
	if st := waitStatus(t, h, "wait-1", durable.Completed); string(st.Output) != `"checked ann, approved by dave"` {
		t.Fatalf("after the event: %s", st.Output)
	}

	// Terminated, with the reason typed.
	ctx := context.Background()
	if err := h.Start(ctx, approval, durable.StartOptions{InstanceID: "stuck-1"}, "erin"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, h, "stuck-1", durable.Running)
	loc = postLocation(t, c, base+"stuck-1/terminate", url.Values{"reason": {"customer cancelled"}}, bearer)
	if u, _ := url.Parse(loc); u.Query().Get("notice") != "terminated stuck-1: customer cancelled" {
		t.Fatalf("terminate redirects to %s", loc)
	}
	if st, _ := h.Status(ctx, "stuck-1"); st.RuntimeStatus != durable.Terminated || !strings.Contains(st.Failure.Message, "customer cancelled") {
		t.Fatalf("after terminate: %+v", st)
	}
	_, body := get(t, c, f.srv.URL+"/console/orchestrations/orders/stuck-1")
	mustContain(t, "a terminated instance", body, `<span class="state run-lost">Terminated</span>`, "customer cancelled")

	// Purged: gone, and the list says so.
	loc = postLocation(t, c, base+"stuck-1/purge", url.Values{"confirm": {"stuck-1"}}, bearer)
	if u, _ := url.Parse(loc); u.Path != "/console/orchestrations" || u.Query().Get("notice") != "purged stuck-1 of hub orders" {
		t.Fatalf("purge redirects to %s", loc)
	}
	if _, err := h.Status(ctx, "stuck-1"); !errors.Is(err, durable.ErrNotFound) {
		t.Fatalf("after purge: %v", err)
	}

	logs := f.logs.String()
	for _, want := range []string{
		`by=alice action="raise event" hub=orders instance=wait-1 event=approve bytes=6 error=""`,
		`by=alice action=terminate hub=orders instance=stuck-1 reason="customer cancelled" error=""`,
		`by=alice action="purge instance" hub=orders instance=stuck-1 error=""`,
		`action="raise event" hub=orders instance=wait-1 event=approve error="the data is not JSON`,
		`msg="console: action refused: no valid token" action=/console/orchestrations/orders/wait-1/raise`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// A running instance's page updates live; raising its event makes the
// stream show it Completed, and then end.
func TestOrchestrationPageLive(t *testing.T) {
	f := startJobs(t, false)
	h := startHub(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.Start(ctx, approval, durable.StartOptions{InstanceID: "live-1"}, "ann"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/console/events?view=orchestration&hub=orders&id=live-1", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	raised, completed := false, false
	for sc.Scan() {
		line := sc.Text()
		if !raised && strings.Contains(line, "<td>ActivityCompleted</td>") {
			if err := h.RaiseEvent(ctx, "live-1", "approve", "bob"); err != nil {
				t.Fatal(err)
			}
			raised = true
		}
		if strings.Contains(line, `<span class="state run-ok">Completed</span>`) {
			completed = true
		}
		if line == "event: end" {
			if !raised || !completed {
				t.Fatalf("the stream ended (raised %v, seen completed %v)", raised, completed)
			}
			return
		}
	}
	t.Fatalf("the stream ended without an end event: %v", sc.Err())
}

// On a NATS where no role opened a hub, the pages say so, actions are
// refused, and reading creates no stream.
func TestNoHubsCreatesNothing(t *testing.T) {
	f := startJobs(t, false)
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for u, want := range map[string]string{"/console/orchestrations": noHubs, "/console/orchestrations/default/x": "no hub default in this fleet"} {
		if code, body := get(t, c, f.srv.URL+u); code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want %q:\n%s", u, code, want, body)
		}
	}
	loc := postLocation(t, c, f.srv.URL+"/console/orchestrations/default/x/terminate", url.Values{}, map[string]string{"Authorization": "Bearer " + token})
	if !strings.Contains(loc, "error=not+terminated%3A+no+hub+default") {
		t.Errorf("terminate redirects to %s", loc)
	}
	if _, err := f.qc.JetStream().Stream(context.Background(), "DURABLE_default"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("the hub's stream after reading: %v", err)
	}
}

package console

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/internal/testutil"
	"github.com/cloudrole/cloudrole/lifecycle"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testutil.ServerGoroutines...) }

const token = "operator-token-0123456789"

// fakeHost stands in for lifecycle.Host: a status and a freeze switch.
type fakeHost struct {
	mu     sync.Mutex
	frozen string
}

func (h *fakeHost) Status() lifecycle.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return lifecycle.Status{State: lifecycle.StateRunning, Ready: h.frozen == "", Frozen: h.frozen,
		Identity: role.Identity{Role: "orders", InstanceID: "orders_1", Deployment: "test"}}
}
func (h *fakeHost) Freeze(r string) { h.mu.Lock(); h.frozen = r; h.mu.Unlock() }
func (h *fakeHost) Unfreeze()       { h.mu.Lock(); h.frozen = ""; h.mu.Unlock() }

type fixture struct {
	srv  *httptest.Server
	q    *queue.Queue
	host *fakeHost
	logs *testutil.Buffer
}

// start serves a console on a real embedded server with a queue holding
// three dead letters.
func start(t *testing.T, open bool) *fixture {
	t.Helper()
	p, err := queue.NewProvider(queue.Options{NATS: queue.NATS{StoreDir: t.TempDir(), Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx := context.Background()
	cl, err := p.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, err := cl.Queue(ctx, "mail", queue.Config{MaxDeliver: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"a", "b", "c"} {
		q.Enqueue(ctx, []byte(b))
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- q.Work(wctx, func(context.Context, *queue.Job) error { return errors.New("mailbox full") }, queue.WorkerOptions{})
	}()
	waitUntil(t, "three dead letters", func() bool { st, _ := q.Stats(ctx); return st.DeadLetters == 3 })
	stop()
	<-done
	logs := &testutil.Buffer{}
	h := &fakeHost{}
	c, err := New(Options{Host: h, Queues: p, Tokens: []config.Token{{Name: "alice", Secret: token}}, OpenReads: open,
		Logger: newLogger(logs), Refresh: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, q: q, host: h, logs: logs}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !testutil.Poll(cond, 10*time.Second) { // a figure nothing notifies
		t.Fatalf("timed out waiting for %s", what)
	}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values, hdr map[string]string) (int, string) {
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
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The pages show the fleet (this instance, as the role has connected) and
// the queue with its dead letters, their error and attempts.
func TestPages(t *testing.T) {
	f := start(t, true)
	c := f.srv.Client()
	if code, body := get(t, c, f.srv.URL+"/console/"); code != 200 || !strings.Contains(body, "orders_1") || !strings.Contains(body, "st-ok") {
		t.Fatalf("fleet page %d:\n%s", code, body)
	}
	code, body := get(t, c, f.srv.URL+"/console/queues")
	if code != 200 || !strings.Contains(body, `href="/console/queues/mail"`) || !strings.Contains(body, "<strong>3</strong>") {
		t.Fatalf("queues page %d:\n%s", code, body)
	}
	code, body = get(t, c, f.srv.URL+"/console/queues/mail")
	if code != 200 || strings.Count(body, `class="requeue"`) != 3 || !strings.Contains(body, "mailbox full") {
		t.Fatalf("queue page %d:\n%s", code, body)
	}
	if code, body := get(t, c, f.srv.URL+"/console/instance/orders/orders_1"); code != 200 || !strings.Contains(body, "Startup tasks") {
		t.Fatalf("instance page %d:\n%s", code, body)
	}
	if code, _ := get(t, c, f.srv.URL+"/console/static/console.css"); code != 200 {
		t.Fatalf("stylesheet %d", code)
	}
}

// Every action needs a token; a cross-site request is refused even from a
// logged-in browser; a wrong token does not log in; what is done is logged
// with the token's name.
func TestActionsNeedAToken(t *testing.T) {
	f := start(t, true)
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u := f.srv.URL + "/console/queues/mail/requeue"
	if code, _ := post(t, c, u, url.Values{"ref": {"all"}}, nil); code != http.StatusUnauthorized {
		t.Fatalf("requeue without a token: %d", code)
	}
	if code, _ := post(t, c, u, url.Values{"ref": {"all"}}, map[string]string{"Authorization": "Bearer wrong-token-0123456789"}); code != http.StatusUnauthorized {
		t.Fatalf("requeue with a wrong token: %d", code)
	}
	if code, _ := post(t, c, f.srv.URL+"/console/login", url.Values{"token": {"wrong-token-0123456789"}}, nil); code != http.StatusUnauthorized {
		t.Fatalf("login with a wrong token: %d", code)
	}
	if st, _ := f.q.Stats(context.Background()); st.DeadLetters != 3 {
		t.Fatalf("refused actions changed the queue: %d dead letters", st.DeadLetters)
	}
	// Logged in through the form: a session cookie.
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	if code, _ := post(t, c, f.srv.URL+"/console/login", url.Values{"token": {token}, "next": {"/console/queues/mail"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	// Cross-site, with the cookie: refused.
	if code, _ := post(t, c, u, url.Values{"ref": {"all"}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); code != http.StatusForbidden {
		t.Fatalf("cross-site requeue: %d", code)
	}
	d, err := f.q.DeadLetters(context.Background(), 1)
	if err != nil || len(d) != 1 {
		t.Fatal(d, err)
	}
	seq := strconv.FormatUint(d[0].Seq, 10)
	if code, _ := post(t, c, u, url.Values{"ref": {seq}}, map[string]string{"Sec-Fetch-Site": "same-origin"}); code != http.StatusSeeOther {
		t.Fatalf("requeue one: %d", code)
	}
	if st, _ := f.q.Stats(context.Background()); st.DeadLetters != 2 {
		t.Fatalf("after requeue one: %d dead letters", st.DeadLetters)
	}
	if code, _ := post(t, c, f.srv.URL+"/console/queues/mail/purge", url.Values{"what": {"dead-letters"}, "confirm": {"wrong"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("purge without confirmation: %d", code)
	}
	if st, _ := f.q.Stats(context.Background()); st.DeadLetters != 2 {
		t.Fatal("a purge without the queue's name typed went through")
	}
	if code, _ := post(t, c, f.srv.URL+"/console/queues/mail/purge", url.Values{"what": {"dead-letters"}, "confirm": {"mail"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("purge: %d", code)
	}
	if st, _ := f.q.Stats(context.Background()); st.DeadLetters != 0 {
		t.Fatalf("after purge: %d dead letters", st.DeadLetters)
	}
	if code, _ := post(t, c, f.srv.URL+"/console/freeze", url.Values{"reason": {"deploy"}}, nil); code != http.StatusSeeOther || f.host.Status().Frozen != "deploy" {
		t.Fatalf("freeze: %d, frozen %q", code, f.host.Status().Frozen)
	}
	logs := f.logs.String()
	for _, want := range []string{`action=requeue queue=mail ref=` + seq, `by=alice`, `action="purge dead-letters"`, `action=freeze`, `msg="console: action refused: no valid token"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, token) {
		t.Error("a token reached the log")
	}
}

// Off loopback reading needs the token too.
func TestClosedReads(t *testing.T) {
	f := start(t, false)
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, u := range []string{"/console/queues", "/console/jobs", "/console/jobs/report/runs/report.20200101T000000Z-abcdef/output",
		"/console/orchestrations", "/console/orchestrations/orders/x", "/console/schedules", "/console/events?view=orchestrations"} {
		resp, err := c.Get(f.srv.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
			t.Fatalf("reading %s without a token: %d %s", u, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/console/queues", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reading with a token: %d", resp.StatusCode)
	}
}

// A page's live updates: server-sent events carrying its main section.
func TestLiveUpdates(t *testing.T) {
	f := start(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/console/events?view=queues", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	updates := 0
	for sc.Scan() && updates < 2 {
		line := sc.Text()
		if line == "event: update" {
			updates++
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `href="/console/queues/mail"`) && updates == 2 {
			return
		}
	}
	if updates < 2 {
		t.Fatalf("%d updates before the stream ended: %v", updates, sc.Err())
	}
}

package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

// The schedules page shows every queue's recurring schedules (cron in a
// time zone with its next fire, an interval, priority, payload size) and
// the scheduled jobs waiting; remove needs a token and a same-origin
// request, refuses an unknown schedule or queue saying so, and is logged.
func TestSchedules(t *testing.T) {
	f := startJobs(t, false)
	ctx := context.Background()
	q, err := f.qc.Queue(ctx, "reports", queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.qc.Queue(ctx, "mail", queue.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := q.SetSchedule(ctx, queue.Schedule{Name: "nightly", Cron: "0 30 2 * * *", TimeZone: "Europe/Amsterdam"}, []byte("full report"),
		queue.WithPriority(queue.High)); err != nil {
		t.Fatal(err)
	}
	if err := q.SetSchedule(ctx, queue.Schedule{Name: "tick", Every: 90 * time.Second}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := q.Enqueue(ctx, []byte("later"), queue.WithDelay(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	code, body := get(t, c, f.srv.URL+"/console/schedules")
	if code != 200 {
		t.Fatalf("schedules page %d:\n%s", code, body)
	}
	infos, _ := q.Schedules(ctx)
	next := infos[0].Next.UTC().Format("2006-01-02 15:04:05Z")
	mustContain(t, "schedules page", body, `href="/console/schedules" class="on">Schedules`, `id="sched-reports-nightly"`,
		"<code>0 30 2 * * *</code>", "Europe/Amsterdam", next, "11 B", `id="sched-reports-tick"`, "every 1m30s",
		`<span class="count" id="scheduled-reports">2</span>`, `<span class="count" id="scheduled-mail">0</span>`, "no recurring schedules",
		`data-schedule="reports/nightly"`)

	remove := f.srv.URL + "/console/queues/reports/schedules/nightly/remove"
	if code, _ := post(t, c, remove, url.Values{}, nil); code != http.StatusUnauthorized {
		t.Fatalf("remove without a token: %d", code)
	}
	if code, _ := post(t, c, remove, url.Values{}, map[string]string{"Authorization": "Bearer wrong-token-0123456789"}); code != http.StatusUnauthorized {
		t.Fatalf("remove with a wrong token: %d", code)
	}
	cross := map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	if code, _ := post(t, c, remove, url.Values{}, cross); code != http.StatusForbidden {
		t.Fatalf("cross-site remove: %d", code)
	}
	if s, _ := q.Schedules(ctx); len(s) != 2 {
		t.Fatalf("refused removes left %d schedules", len(s))
	}

	bearer := map[string]string{"Authorization": "Bearer " + token}
	for u, want := range map[string]string{
		f.srv.URL + "/console/queues/reports/schedules/nope/remove":  "not removed: no schedule nope on queue reports",
		f.srv.URL + "/console/queues/gone/schedules/nightly/remove":  "not removed: no schedule nightly on queue gone",
		f.srv.URL + "/console/queues/reports/schedules/b%20d/remove": "not removed: queue \"reports\": queue: bad schedule",
	} {
		loc := postLocation(t, c, u, url.Values{}, bearer)
		if l, _ := url.Parse(loc); l.Path != "/console/schedules" || !strings.HasPrefix(l.Query().Get("error"), want) {
			t.Errorf("POST %s redirects to %s, want %q", u, loc, want)
		}
	}
	loc := postLocation(t, c, remove, url.Values{"next": {"/console/schedules"}}, bearer)
	if l, _ := url.Parse(loc); l.Query().Get("notice") != "removed schedule nightly of queue reports" {
		t.Fatalf("remove redirects to %s", loc)
	}
	if s, _ := q.Schedules(ctx); len(s) != 1 || s[0].Name != "tick" {
		t.Fatalf("after remove: %+v", s)
	}
	_, body = get(t, c, f.srv.URL+loc)
	mustContain(t, "the page after remove", body, "removed schedule nightly of queue reports")
	if strings.Contains(body, `id="sched-reports-nightly"`) {
		t.Fatal("the removed schedule is still listed")
	}
	logs := f.logs.String()
	for _, want := range []string{`by=alice action="remove schedule" queue=reports schedule=nightly error=""`,
		`action="remove schedule" queue=reports schedule=nope error=`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

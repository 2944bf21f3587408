package console_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats-server/v2/server"
)

// The console in a real headless Chromium, against real role processes
// (the orders demo) on one real NATS server: the pages load, a dead letter
// is re-queued by a click and leaves the list, a click without a token is
// refused, a second instance appears in the fleet and, SIGKILLed, is
// marked gone; a job (a program of the first instance's config) is run by
// a click and its run page shows its output; an orchestration waiting for
// an event shows Running, the event is raised by a click and it shows
// Completed. With CLOUDROLE_SCREENSHOTS=DIR
// it saves the README's screenshots there.
func TestConsoleInABrowser(t *testing.T) {
	chromium := findChromium(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "orders")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cloudrole/cloudrole/examples/orders").CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "nats"), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	const token = "browser-test-token-0123456789"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("alice "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startDemo(t, bin, dir, "orders_a", ns.ClientURL(), tokens, `{Orders: "30", FlakyPercent: "0", PoisonPercent: "100"}`,
		`jobs: {programs: [{name: hello, command: [sh, -c, "echo hello from the console; echo a warning >&2"]}]}`)
	// Instances are killed before the server they use goes away.
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	a.waitLine(t, regexp.MustCompile(`dead\s+30 poison orders`))
	base := "http://" + a.health

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.WindowSize(1400, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v\ndemo log:\n%s", what, err, a.log())
		}
	}
	// Pages swap their main section in on every live update, so a node
	// found a moment ago may be gone: read text in one evaluation.
	text := func(what string, sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector(`+strconv.Quote(sel)+`) || {innerText: ""}).innerText`))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return s
	}
	do("fleet page", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`table.fleet`)))
	if s := text("fleet", `table.fleet`); !strings.Contains(s, "orders_a") || !strings.Contains(s, "running") {
		t.Fatalf("fleet page shows:\n%s", s)
	}
	do("queues page", chromedp.Navigate(base+"/console/queues"), chromedp.WaitVisible(chromedp.CSS(`table.queues`)))
	if s := text("queues", `table.queues`); !strings.Contains(s, "orders") || !strings.Contains(s, "30") {
		t.Fatalf("queues page shows:\n%s", s)
	}

	// Not logged in: the click is refused and nothing changes.
	do("queue page", chromedp.Navigate(base+"/console/queues/orders"), chromedp.WaitVisible(chromedp.CSS(`table.dead`)))
	first, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("button.requeue").dataset.seq`))
	if err != nil || first == "" {
		t.Fatalf("no requeue button: %v", err)
	}
	// A click that submits a form loads a new page: wait on the new
	// page's content (Poll re-evaluates across the navigation).
	waitPage := func(what, js string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			// While the new page loads, evaluating fails ("target
			// navigated"): try again until the condition holds.
			ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](js))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				body, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
				t.Fatalf("%s: not seen (%v); the page says:\n%s", what, err, body)
			}
			time.Sleep(50 * time.Millisecond) // polling the page; nothing notifies us
		}
	}
	do("click without a token", chromedp.Evaluate[chromedp.Void](`document.querySelector("button.requeue").click()`))
	waitPage("the refusal", `document.body && document.body.innerText.includes("needs an operator token")`)
	do("queue page again", chromedp.Navigate(base+"/console/queues/orders"), chromedp.WaitVisible(chromedp.CSS(`#dead-`+first)))

	// Logged in: the click re-queues it, and it leaves the list.
	do("log in", chromedp.Navigate(base+"/console/login?next=/console/queues/orders"), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), token), chromedp.Submit(chromedp.CSS(`input[name=token]`)))
	waitPage("the queue page after logging in", `!!document.querySelector("table.dead") && document.body.innerText.includes("alice")`)
	do("requeue by a click", chromedp.Evaluate[chromedp.Void](`document.querySelector('button.requeue[data-seq="`+first+`"]').click()`))
	waitPage("the notice", `!!document.querySelector("p.done") && document.querySelector("p.done").innerText.includes("re-queued dead letter `+first+`")`)
	left, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#dead-`+first+`").length`))
	if err != nil || left != 0 {
		t.Fatalf("dead letter %s is still listed (%d, %v)", first, left, err)
	}
	shot(t, bctx, "console-queue.png")

	// A second instance joins; the fleet page (live) shows it, then
	// marks it gone once it is SIGKILLed and silent past the bound.
	b := startDemo(t, bin, dir, "orders_b", ns.ClientURL(), tokens, `{Orders: "0"}`)
	do("fleet with two", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`a[href="/console/instance/orders/orders_b"]`)))
	shot(t, bctx, "console-fleet.png")
	b.kill()
	do("b marked gone", chromedp.WaitVisible(chromedp.CSS(`tr.st-gone a[href="/console/instance/orders/orders_b"]`)))

	// A job run by a click: the new run's page, with its output.
	do("jobs page", chromedp.Navigate(base+"/console/jobs"), chromedp.WaitVisible(chromedp.CSS(`button.run[data-job="hello"]`)))
	do("run by a click", chromedp.Evaluate[chromedp.Void](`document.querySelector('button.run[data-job="hello"]').click()`))
	waitPage("the run page", `!!document.querySelector("p.done") && document.querySelector("p.done").innerText.startsWith("started run hello.")`)
	waitPage("the run's output, live", `!!document.querySelector(".output .ln.err") && document.querySelector(".output").innerText.includes("hello from the console") &&
		document.querySelector("p.summary .state").innerText === "Completed"`)
	shot(t, bctx, "console-job-run.png")

	// An orchestration waiting for an event: shown Running; an operator
	// raises the event by a click, and it shows Completed (live).
	h := orderHub(t, ns.ClientURL(), "order-7")
	do("orchestrations page", chromedp.Navigate(base+"/console/orchestrations"),
		chromedp.WaitVisible(chromedp.CSS(`tr#orch-orders-order-7 .state.run-running`)))
	do("the instance page", chromedp.Navigate(base+"/console/orchestrations/orders/order-7"), chromedp.WaitVisible(chromedp.CSS(`#raise`)))
	if s := text("instance", `p.summary`); !strings.Contains(s, "Running") {
		t.Fatalf("the instance page shows:\n%s", s)
	}
	do("raise by a click", chromedp.SendKeys(chromedp.CSS(`#event-name`), "approve"), chromedp.SendKeys(chromedp.CSS(`#event-data`), `"alice"`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#raise").click()`))
	waitPage("the notice", `!!document.querySelector("p.done") && document.querySelector("p.done").innerText.includes("raised approve on order-7")`)
	waitPage("Completed, live", `!!document.querySelector("p.summary .state") && document.querySelector("p.summary .state").innerText === "Completed" &&
		document.querySelector("#output").innerText.includes("order 7 approved by alice")`)
	shot(t, bctx, "console-orchestration.png")
	if st, err := h.Status(context.Background(), "order-7"); err != nil || st.RuntimeStatus != "Completed" {
		t.Fatalf("the instance after the click: %+v, %v", st, err)
	}
}

// demo is a running orders process.
type demo struct {
	cmd    *exec.Cmd
	health string
	mu     sync.Mutex
	lines  []string
	more   chan struct{}
	exited chan struct{}
}

// startDemo starts an orders process; extra are more lines of its config.
func startDemo(t *testing.T, bin, dir, instance, url, tokens, settings string, extra ...string) *demo {
	t.Helper()
	cfg := filepath.Join(dir, instance+".yaml")
	body := fmt.Sprintf("role: {name: orders, instance_id: %s, data_dir: %q}\nhealth: {addr: \"127.0.0.1:0\"}\nnats: {url: %q}\nconsole: {token_file: %q}\nsettings: %s\n",
		instance, filepath.Join(dir, instance), url, tokens, settings)
	for _, l := range extra {
		body += l + "\n"
	}
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &demo{cmd: exec.Command(bin, "--config", cfg), more: make(chan struct{}), exited: make(chan struct{})}
	d.cmd.Env = append(os.Environ(), "CLOUDROLE_CONFIG=")
	out, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout = d.cmd.Stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.exited)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			close(d.more)
			d.more = make(chan struct{})
			d.mu.Unlock()
		}
		d.cmd.Wait()
	}()
	t.Cleanup(d.kill)
	d.health = d.waitLine(t, regexp.MustCompile(`msg="health endpoint listening" addr=(\S+)`))[1]
	return d
}

func (d *demo) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(time.Minute)
	for i := 0; ; {
		d.mu.Lock()
		for ; i < len(d.lines); i++ {
			if m := re.FindStringSubmatch(d.lines[i]); m != nil {
				d.mu.Unlock()
				return m
			}
		}
		more := d.more
		d.mu.Unlock()
		select {
		case <-more:
		case <-d.exited:
			t.Fatalf("the demo exited before a line matched %s:\n%s", re, d.log())
		case <-deadline:
			t.Fatalf("no line matched %s:\n%s", re, d.log())
		}
	}
}

func (d *demo) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

func (d *demo) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// shot saves a screenshot of the page when CLOUDROLE_SCREENSHOTS names a
// directory (the README's pictures come from here).
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("CLOUDROLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // the viewport, as PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// findChromium returns Debian's chromium, or skips — unless CI, where .ci/run
// installs it and a missing browser is a failure.
func findChromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CLOUDROLE_CI")); ci {
		t.Fatal("chromium is not installed (.ci/run installs Debian's chromium)")
	}
	t.Skip("chromium is not installed: apt-get install chromium")
	return ""
}

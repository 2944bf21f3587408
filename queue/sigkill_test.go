package queue

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const helperURLEnv = "CLOUDROLE_QUEUE_TEST_HELPER_URL"

// TestHelperWorkerProcess is not a test: it is the worker process that
// TestWorkerProcessKilled starts and kills. It takes one job, says so on
// stdout, and hangs in the handler.
func TestHelperWorkerProcess(t *testing.T) {
	url := os.Getenv(helperURLEnv)
	if url == "" {
		t.Skip("helper process only")
	}
	p, err := NewProvider(Options{NATS: NATS{URL: url}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.Queue(context.Background(), "sigkill", Config{AckWait: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_ = q.Work(context.Background(), func(ctx context.Context, j *Job) error {
		fmt.Printf("TAKEN %s\n", j.ID)
		select {} // hang until killed
	}, WorkerOptions{})
}

func TestWorkerProcessKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	p, c := testClient(t)
	q := testQueue(t, c, "sigkill", Config{AckWait: 500 * time.Millisecond})
	ctx := context.Background()
	const n = 20
	want := map[string]bool{}
	for i := range n {
		id, err := q.Enqueue(ctx, fmt.Appendf(nil, "%d", i))
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorkerProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperURLEnv+"="+p.srv.ClientURL())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	taken := ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "TAKEN "); ok {
			taken = id
			break
		}
	}
	if taken == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("helper process took no job")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no ack, no nak, no drain
		t.Fatal(err)
	}
	_ = cmd.Wait()

	var mu sync.Mutex
	seen := map[string]int{}
	attemptOfTaken := 0
	startWorker(t, ctx, q, func(_ context.Context, j *Job) error {
		mu.Lock()
		defer mu.Unlock()
		seen[j.ID]++
		if j.ID == taken {
			attemptOfTaken = j.Attempt
		}
		return nil
	}, WorkerOptions{Concurrency: 4, PollInterval: 50 * time.Millisecond})
	waitFor(t, "every job processed", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range want {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if attemptOfTaken != 2 {
		t.Fatalf("the killed worker's job came back at attempt %d, want 2", attemptOfTaken)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("job %s processed %d times", id, k)
		}
	}
}

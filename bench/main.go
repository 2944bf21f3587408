// Command bench measures cloudrole against what a user would pick instead —
// raw nats.go JetStream, asynq on Redis, suture — on the same machine in
// the same run, and prints ratios (absolute figures drift on shared
// machines; ratios measured pairwise in one run do not).
//
//	go run . -quick        # the full suite in a few minutes
//	go run . -smoke        # tiny sizes; exits non-zero if a scenario has no figure (CI)
//	go run . -json         # the table as JSON
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if isChild() {
		os.Exit(runChild())
	}
	quick := flag.Bool("quick", false, "the full suite at -quick sizes (default)")
	smoke := flag.Bool("smoke", false, "tiny sizes, seconds; fail if any scenario has no figure")
	asJSON := flag.Bool("json", false, "print the table as JSON")
	only := flag.String("run", "", "only scenarios whose name contains this")
	flag.Parse()
	_ = quick
	sz := quickSizes
	if *smoke {
		sz = smokeSizes
	}

	env, err := newEnv(sz)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	// Ctrl-C still cleans up the servers and temp dirs.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; env.close(); os.Exit(130) }()
	defer env.close()

	started := time.Now()
	var rows []row
	failed := false
	for _, s := range scenarios() {
		if *only != "" && !strings.Contains(s.name, *only) {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: %s ...\n", s.name)
		t0 := time.Now()
		rs, err := s.run(env)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", s.name, err)
			failed = true
			rows = append(rows, row{Scenario: s.name, Error: err.Error()})
			continue
		}
		for _, r := range rs {
			if !r.complete() {
				failed = true
			}
			rows = append(rows, r)
		}
		fmt.Fprintf(os.Stderr, "bench: %s done in %v\n", s.name, time.Since(t0).Round(time.Millisecond))
	}
	report := report{Machine: machine(), Date: time.Now().UTC().Format("2006-01-02"), Mode: sz.name, Took: time.Since(started).Round(time.Second).String(), Rows: rows}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(report)
	} else {
		report.print()
	}
	if failed {
		fmt.Fprintln(os.Stderr, "bench: some scenarios have no figure")
		os.Exit(1)
	}
}

// row is one line of the table: cloudrole's figure, the baseline's, and
// their ratio oriented so that > 1 means cloudrole is better.
type row struct {
	Scenario  string  `json:"scenario"`
	Unit      string  `json:"unit"`
	Cloudrole float64 `json:"cloudrole"`
	Baseline  string  `json:"baseline"`
	Base      float64 `json:"baseline_value"`
	Ratio     float64 `json:"ratio"` // > 1: cloudrole better
	Target    string  `json:"target,omitempty"`
	Error     string  `json:"error,omitempty"`
	// Ref marks a reference figure with no cloudrole side (the disk's
	// fsync rate): only Base is set.
	Ref bool `json:"reference,omitempty"`
}

func (r row) complete() bool {
	if r.Ref {
		return r.Error == "" && r.Base > 0
	}
	return r.Error == "" && r.Cloudrole > 0 && r.Base > 0 && r.Ratio > 0
}

type report struct {
	Machine string `json:"machine"`
	Date    string `json:"date"`
	Mode    string `json:"mode"`
	Took    string `json:"took"`
	Rows    []row  `json:"rows"`
}

func (rp report) print() {
	fmt.Printf("cloudrole bench (%s) — %s — %s — took %s\n", rp.Mode, rp.Date, rp.Machine, rp.Took)
	fmt.Println("ratio > 1 means cloudrole is better (faster, higher throughput, or less memory); medians of alternating runs")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\tcloudrole\tbaseline\tbaseline value\tratio\ttarget")
	for _, r := range rp.Rows {
		if r.Error != "" {
			fmt.Fprintf(w, "%s\tERROR: %s\t\t\t\t\n", r.Scenario, r.Error)
			continue
		}
		if r.Ref {
			fmt.Fprintf(w, "%s\t—\t%s\t%s\t—\t%s\n", r.Scenario, r.Baseline, fmtVal(r.Base, r.Unit), r.Target)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.2f×\t%s\n", r.Scenario, fmtVal(r.Cloudrole, r.Unit), r.Baseline, fmtVal(r.Base, r.Unit), r.Ratio, r.Target)
	}
	w.Flush()
}

func fmtVal(v float64, unit string) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM %s", v/1e6, unit)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk %s", v/1e3, unit)
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	default:
		return fmt.Sprintf("%.3g %s", v, unit)
	}
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					cpu = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s %s/%s", cpu, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

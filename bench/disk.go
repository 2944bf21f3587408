package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// fsyncRows measure the physical limit under every durable row: how many
// small records per second this disk takes with an fsync each (one
// writer), and with 8 writers sharing fsyncs through a group commit (a
// sync started after a record was written covers it). Both run in the
// bench's temp dir, where every server keeps its store.
func fsyncRows(e *env) ([]row, error) {
	where, onDisk := fsOf(e.dir)
	if !onDisk {
		// Every durable row would measure memory: say so in each label.
		fmt.Fprintf(os.Stderr, "bench: %s is on %s, not a disk: the fsync and durable rows do not measure one (set TMPDIR)\n", e.dir, where)
		where += ", NOT A DISK"
	}
	var one, eight []float64
	for i := range e.sz.reps {
		runs := []func() error{
			func() error { r, err := fsyncRate(e.dir, 1, e.sz.fsyncFor); one = append(one, r); return err },
			func() error { r, err := fsyncRate(e.dir, 8, e.sz.fsyncFor); eight = append(eight, r); return err },
		}
		if i%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for _, run := range runs {
			if err := run(); err != nil {
				return nil, err
			}
		}
	}
	return []row{
		{Scenario: fmt.Sprintf("disk: write+fsync of 128 B records, 1 writer (%s)", where), Unit: "records/s", Ref: true,
			Baseline: "physical limit", Base: median(one)},
		{Scenario: "disk: 8 writers sharing fsyncs (group commit), same file", Unit: "records/s", Ref: true,
			Baseline: "physical limit", Base: median(eight)},
	}, nil
}

// fsyncRate appends 128-byte records to one file from writers goroutines
// for about d, each record confirmed only after an fsync that started
// after it was written; records per second.
func fsyncRate(dir string, writers int, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "fsync")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	g := &groupSync{f: f}
	g.cond = sync.NewCond(&g.mu)
	rec := make([]byte, 128)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	counts := make([]int, writers)
	start := time.Now()
	deadline := start.Add(d)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := g.write(rec); err != nil {
					errs <- err
					return
				}
				counts[w]++
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return float64(n) / elapsed.Seconds(), nil
}

// groupSync is the smallest group commit: a writer appends its record,
// then waits for an fsync started after that; whoever finds none running
// starts one, and it covers every record written before it began.
type groupSync struct {
	f    *os.File
	mu   sync.Mutex
	cond *sync.Cond
	// Syncs started and ended; one runs while started > ended.
	started, ended uint64
	err            error
}

func (g *groupSync) write(rec []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.f.Write(rec); err != nil {
		return err
	}
	need := g.started + 1 // a sync running now may have begun before the write
	for g.ended < need {
		if g.started > g.ended {
			g.cond.Wait()
			continue
		}
		g.started++
		g.mu.Unlock()
		err := g.f.Sync()
		g.mu.Lock()
		g.ended, g.err = g.started, err
		g.cond.Broadcast()
	}
	return g.err
}

// fsOf names the file system holding dir ("ext4 /dev/vda at /") from
// /proc/self/mounts, and says whether it is backed by a device (not
// tmpfs, ramfs or an overlay of them).
func fsOf(dir string) (string, bool) {
	path, err := filepath.EvalSymlinks(dir)
	if err != nil {
		path = dir
	}
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "file system unknown", true
	}
	defer f.Close()
	var best, fsType, dev string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 3 {
			continue
		}
		mp := fl[1]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, dev, fsType = mp, fl[0], fl[2]
		}
	}
	if best == "" {
		return "file system unknown", true
	}
	memory := fsType == "tmpfs" || fsType == "ramfs"
	return fmt.Sprintf("%s, %s %s at %s", filepath.Dir(path), fsType, dev, best), !memory
}

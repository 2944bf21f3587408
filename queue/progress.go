package queue

import (
	"strings"
	"sync"
	"time"
)

// maxProgressMessage caps Progress.Message in bytes.
const maxProgressMessage = 256

// Progress is how far a running job has got, as its handler last said
// with Job.SetProgress.
type Progress struct {
	// Done is the handler's own measure: a percentage, items done, bytes
	// copied.
	Done float64 `json:"done"`
	// Message is a short note, at most 256 bytes.
	Message string `json:"message,omitempty"`
	// At is when the handler reported it.
	At time.Time `json:"at"`
}

// progress is a job's progress and the throttle on writing it out. The
// worker sets write (a status write of the running job) and every; a job
// from NewJob has no write and only keeps the value.
type progress struct {
	mu      sync.Mutex
	last    Progress
	set     bool
	written time.Time   // when last written out
	timer   *time.Timer // a write waiting for its turn
	ended   bool        // the job's outcome is being recorded: no more writes
	every   time.Duration
	write   func(Progress)
}

// SetProgress reports how far the job has got: done in the handler's own
// unit and a short message (cut to 256 bytes). It is shown in JobStatus
// (with TrackStatus) and in the worker's status section while the job
// runs, and kept in the job's final status record. Writes are throttled:
// at most one per WorkerOptions.ProgressInterval per job (1s by default),
// the latest value winning, so a handler may call it as often as it likes.
// Safe for concurrent use; it never blocks on the network.
func (j *Job) SetProgress(done float64, message string) {
	if len(message) > maxProgressMessage {
		message = strings.ToValidUTF8(message[:maxProgressMessage], "")
	}
	p := Progress{Done: done, Message: message, At: time.Now()}
	pr := j.prog.Load()
	if pr == nil {
		// Made on first use: a job that reports nothing costs nothing.
		pr = &progress{}
		if w := j.wk; w != nil && w.q.status != nil {
			pr.every = w.o.ProgressInterval
			pr.write = func(p Progress) { w.writeProgress(j, p) }
		}
		if !j.prog.CompareAndSwap(nil, pr) {
			pr = j.prog.Load()
		}
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.last, pr.set = p, true
	if pr.write == nil || pr.ended || pr.timer != nil {
		return // kept; a pending write carries it
	}
	if wait := pr.every - p.At.Sub(pr.written); wait > 0 {
		pr.timer = time.AfterFunc(wait, pr.flush)
		return
	}
	pr.written = p.At
	pr.write(p)
}

// Progress returns what the handler last reported with SetProgress, and
// whether it reported anything.
func (j *Job) Progress() (Progress, bool) {
	pr := j.prog.Load()
	if pr == nil {
		return Progress{}, false
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.last, pr.set
}

// lastProgress is the job's progress for a status record, or nil.
func (j *Job) lastProgress() *Progress {
	if p, ok := j.Progress(); ok {
		return &p
	}
	return nil
}

// flush writes the latest value when its turn comes.
func (pr *progress) flush() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.timer = nil
	if pr.ended {
		return
	}
	pr.written = time.Now()
	pr.write(pr.last) // under the lock, so end waits for it and the outcome's record comes after
}

// endProgress stops j's progress writes before its outcome is recorded.
func (j *Job) endProgress() {
	if pr := j.prog.Load(); pr != nil {
		pr.end()
	}
}

// end stops writes before the job's outcome is recorded.
func (pr *progress) end() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.ended = true
	if pr.timer != nil {
		pr.timer.Stop()
		pr.timer = nil
	}
}

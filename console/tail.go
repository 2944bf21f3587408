package console

import (
	"context"
	"unicode/utf8"

	"github.com/cloudrole/cloudrole/jobs"
)

// Caps on a run's output on its page; the raw output
// (/console/jobs/{job}/runs/{id}/output) has every stored line, whole.
const (
	maxShownLines = 2000 // the last lines
	maxShownText  = 2000 // bytes of one line's text
)

// tail is the end of a run's output as its page shows it: the last
// maxShownLines lines read, and the sequence read up to. The first update
// reads the whole stored output (bounded by the job's history size); each
// later one — a live page's — reads only the lines stored since, so
// following a chatty run costs what it printed, not its whole output
// again. Reads use Keep: the console never hands output over, so
// `jobs receive` still gets every line. Not safe for concurrent use: a
// tail belongs to one view.
type tail struct {
	lines []jobs.Line
	seq   uint64 // the last line read
	read  int64  // lines read in all
}

// update reads the lines of run id stored after those read before. On an
// error it keeps what it read, and the next update goes on from there.
func (t *tail) update(ctx context.Context, jc *jobs.Client, id string) error {
	return jc.ReceiveFunc(ctx, id, jobs.ReceiveOptions{Keep: true, After: t.seq}, t.add)
}

func (t *tail) add(l jobs.Line) error {
	if len(l.Text) > maxShownText {
		n := maxShownText
		for n > 0 && !utf8.RuneStart(l.Text[n]) {
			n--
		}
		l.Text = l.Text[:n] + "…"
	}
	t.lines = append(t.lines, l)
	if len(t.lines) >= 2*maxShownLines { // drop the oldest, now and then
		t.lines = append(t.lines[:0], t.lines[len(t.lines)-maxShownLines:]...)
	}
	t.seq, t.read = l.Seq, t.read+1
	return nil
}

// shown returns the lines to show, oldest first.
func (t *tail) shown() []jobs.Line {
	if len(t.lines) > maxShownLines {
		return t.lines[len(t.lines)-maxShownLines:]
	}
	return t.lines
}

// hidden is how many lines were read before those shown.
func (t *tail) hidden() int64 { return t.read - int64(len(t.shown())) }

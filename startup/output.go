package startup

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
)

// maxLine is the longest line logged as one record; longer lines are split
// into several records, never dropped.
const maxLine = 64 << 10

// logLines logs every line read from r at level, tagged with the stream,
// until r ends. It always reads r to the end so the child never blocks on a
// full pipe.
func logLines(r io.Reader, logger *slog.Logger, level slog.Level, stream string) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			logger.Log(context.Background(), level, string(line), "stream", stream)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

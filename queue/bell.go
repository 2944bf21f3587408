package queue

import "strconv"

// ring tells idle workers that level holds a stored job, up to stream
// sequence seq. It is a plain publish, sent after the server acknowledged
// the job: a lost bell costs at most one PollInterval, never a job.
func (q *Queue) ring(level int, seq uint64) {
	_ = q.c.nc.Publish(bellLevelSubject(q.name, level), strconv.AppendUint(nil, seq, 10))
}

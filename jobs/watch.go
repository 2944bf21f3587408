package jobs

import "context"

// watchDir loads the jobs folder and picks up changes (in the next commit).
func (r *Runner) watchDir(ctx context.Context) {}

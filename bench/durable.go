package main

import "fmt"

// defaultRows are the figures a user gets: cloudrole's embedded provider
// at its defaults (sync "always": nothing is confirmed before it is on
// disk), end to end — one producer enqueueing in batches while a worker
// consumes and acks — against each baseline in its own durable mode.
func defaultRows(e *env) ([]row, error) {
	n, c := e.sz.e2eJobs, 256
	cr := func() (float64, error) { return crDefaultEndToEnd(e.dir, "", n, c) }
	name := fmt.Sprintf("default config, end to end, %d jobs, concurrency %d: %s (group commit)", n, c, syncAlways)
	a, b, r, err := pair(e.sz.reps, cr, e.withServer(true, func(u string) (float64, error) { return rawEndToEnd(u, n, 1) }))
	if err != nil {
		return nil, err
	}
	rows := []row{{Scenario: name, Unit: "jobs/s", Cloudrole: a,
		Baseline: "raw jetstream, SyncAlways (fsync per write)", Base: b, Ratio: r, Target: "cloudrole ≥ 20k/s"}}
	aof, err := e.aofRedis()
	if err != nil {
		return nil, err
	}
	a, b, r, err = pair(e.sz.reps, cr, func() (float64, error) { return aof.asynqEndToEnd(n, c) })
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{Scenario: name, Unit: "jobs/s", Cloudrole: a,
		Baseline: "asynq, redis appendfsync always", Base: b, Ratio: r})
	// What the group commit costs: the same run with nothing waiting for
	// a sync (an OS crash can lose up to 2 minutes of acknowledged jobs).
	a, b, r, err = pair(e.sz.reps, cr, func() (float64, error) { return crDefaultEndToEnd(e.dir, "2m", n, c) })
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{Scenario: name, Unit: "jobs/s", Cloudrole: a,
		Baseline: "cloudrole, Sync 2m (no fsync waited for)", Base: b, Ratio: r})
	return rows, nil
}

// clusterRows: the durable setting for a cluster — R3 streams on three
// servers with sync always, where the server fsyncs its Raft log once per
// append batch — cloudrole against raw jetstream on the same cluster.
func clusterRows(e *env) ([]row, error) {
	cl, err := e.startCluster(true)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	n, c := e.sz.e2eJobs, 256
	clean := func(f func() (float64, error)) func() (float64, error) {
		return func() (float64, error) {
			v, err := f()
			if err != nil {
				return 0, err
			}
			return v, cl.clean()
		}
	}
	a, b, r, err := pair(e.sz.reps,
		clean(func() (float64, error) { return crClusterEndToEnd(cl, n, c) }),
		clean(func() (float64, error) { return rawEndToEnd(cl.urls(), n, 3) }))
	if err != nil {
		return nil, err
	}
	return []row{{Scenario: fmt.Sprintf("3-server cluster, R3, end to end, %d jobs, concurrency %d, %s (Raft log fsynced per batch)", n, c, syncAlways), Unit: "jobs/s",
		Cloudrole: a, Baseline: "raw jetstream, same cluster", Base: b, Ratio: r}}, nil
}

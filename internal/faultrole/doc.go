// Command faultrole is the worker role of the fault suite (package
// faults): it works one queue and appends the ID of every job it finished
// to an effects file before acknowledging it, so the suite can count lost
// and duplicate jobs across kills.
//
// Settings:
//
//	Queue: NAME          the queue to work (default "faults")
//	Concurrency: N       jobs at once (default 4)
//	WorkMs: N            each job takes N milliseconds (default 1)
//	AckWaitMs: N         the queue's AckWait (default 2000), short so a
//	                     killed worker's jobs come back quickly
//	Replicas: N          the queue's stream replicas (default 1; 3 on a cluster)
//	Idempotent: true     record each job's effect through queue.Idempotency,
//	                     so a redelivered job's effect is not recorded twice
//	MaxDeliver: N        the queue's MaxDeliver (default 0: the queue's default)
//	DrainMs: N           the worker's DrainTimeout (default 0: the default)
//	FleetConcurrency: N  the queue's FleetConcurrency (default 0: no cap)
//	Starts: PATH         append "<id> <attempt>" here as each job starts
//	Timeline: PATH       append "start|end <id> <unix ns>" around each job
//	Effects: PATH        the file job IDs are appended to (required)
package main

#!/bin/sh
# A scheduled WebJob: its schedule is in settings.job. It keeps state in
# WEBJOBS_DATA_PATH and ends early when the host asks it to stop (the
# shutdown file WebJobs names in WEBJOBS_SHUTDOWN_FILE, then SIGTERM).
echo "cleanup: run $WEBJOBS_RUN_ID ($WEBJOBS_TYPE job $WEBJOBS_NAME) in $PWD"
count=$(cat "$WEBJOBS_DATA_PATH/runs" 2>/dev/null || echo 0)
count=$((count + 1))
echo "$count" > "$WEBJOBS_DATA_PATH/runs"
for step in 1 2 3; do
	if [ -f "$WEBJOBS_SHUTDOWN_FILE" ]; then
		echo "cleanup: asked to stop at step $step" >&2
		exit 0
	fi
	echo "cleanup: step $step of 3"
	sleep 0.3
done
echo "cleanup: done, $count runs so far"

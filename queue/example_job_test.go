package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cloudrole/cloudrole/queue"
)

// A handler is a function of a job, so a unit test calls it with a job from
// NewJob: no server, no worker. The test sets the delivery it wants (here
// the last of five attempts) and reads back the result the handler
// recorded.
func ExampleNewJob() {
	resize := func(ctx context.Context, j *queue.Job) error {
		var order struct{ Width int }
		if err := json.Unmarshal(j.Payload, &order); err != nil {
			return queue.Permanent(err) // bad input never gets better: dead-letter it
		}
		return j.SetResult(fmt.Appendf(nil, "resized to %d px (attempt %d)", order.Width, j.Attempt))
	}

	j := queue.NewJob([]byte(`{"Width": 640}`))
	j.Attempt = 5
	err := resize(context.Background(), j)
	fmt.Println(err, string(j.Result()))

	err = resize(context.Background(), queue.NewJob([]byte("not json")))
	fmt.Println(queue.IsPermanent(err))

	tiny := queue.NewJob([]byte(`{"Width": 640}`), queue.JobMaxResult(8))
	fmt.Println(errors.Is(resize(context.Background(), tiny), queue.ErrResultTooLarge))
	// Output:
	// <nil> resized to 640 px (attempt 5)
	// true
	// true
}

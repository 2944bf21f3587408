package jobs

import (
	"context"
	"errors"
)

// runProgram runs an external program (in the next commit).
func (x *execution) runProgram(ctx context.Context) (*int, error) {
	return nil, errors.New("external programs are not supported yet")
}

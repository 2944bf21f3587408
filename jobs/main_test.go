package jobs

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/cloudrole/cloudrole/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testutil.ServerGoroutines...)
}

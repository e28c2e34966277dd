package guarantees_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/redisguard/redisguard/internal/redistest"
)

// quiet drops go-redis's own log lines (a refused dial is logged on every
// attempt), which would bury the matrix in its -v output.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}
